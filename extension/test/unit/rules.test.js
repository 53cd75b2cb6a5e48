import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkTable } from '../../unpacked/lib/platforms.js';
import { blockRules, pendingRules, pendingMatch, allowRules, endpointFits, ruleUpdate, BLOCK_PRIORITY, ALLOW_PRIORITY, ALLOW_ID_BASE, isAllowRule } from '../../unpacked/lib/rules.js';

const table = checkTable(JSON.parse(readFileSync(new URL('../../../shared/platforms.json', import.meta.url), 'utf8')));
const inst = ['social.example', 'mastodon.example'];

const matches = (rule, method, url) =>
  rule.condition.requestMethods.includes(method.toLowerCase()) && new RegExp(rule.condition.regexFilter, rule.condition.isUrlFilterCaseSensitive ? '' : 'i').test(url);

test('block rules: one per endpoint and host, unique ids, block priority', () => {
  const rules = blockRules(table, inst);
  const ids = rules.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.every((id) => id >= 1 && !isAllowRule(id)));
  for (const r of rules) {
    assert.equal(r.priority, BLOCK_PRIORITY);
    assert.deepEqual(r.action, { type: 'block' });
    assert.ok(r.condition.resourceTypes.includes('xmlhttprequest'));
    assert.ok(r.condition.resourceTypes.includes('main_frame'), 'form posts navigate');
  }
  const x = table.platforms.find((p) => p.id === 'x');
  const m = table.platforms.find((p) => p.id === 'mastodon');
  const b = table.platforms.find((p) => p.id === 'bluesky');
  assert.equal(rules.length, x.publish.length + m.publish.length * inst.length + b.publish.length * b.api_hosts.length);
});

test('block rules catch what they must and nothing else', () => {
  const rules = blockRules(table, inst);
  const blocked = (method, url) => rules.some((r) => matches(r, method, url));
  assert.ok(blocked('POST', 'https://x.com/i/api/graphql/Q1/CreateTweet'));
  assert.ok(blocked('POST', 'https://mastodon.example/api/v1/statuses'));
  assert.ok(blocked('POST', 'https://SOCIAL.example/api/v1/statuses'));
  assert.ok(!blocked('GET', 'https://x.com/i/api/graphql/Q1/CreateTweet'));
  assert.ok(!blocked('POST', 'https://x.com/i/api/graphql/Q1/Favorite'));
  assert.ok(!blocked('POST', 'https://social.example/api/v1/favourites'));
});

test('allow rules: one tab, higher priority, in the allow id range', () => {
  const m = table.platforms.find((p) => p.id === 'mastodon');
  const rules = allowRules(m, 7, ALLOW_ID_BASE, inst, 'social.example');
  assert.equal(rules.length, m.publish.length, 'only the page host');
  for (const r of rules) {
    assert.ok(isAllowRule(r.id));
    assert.equal(r.priority, ALLOW_PRIORITY);
    assert.ok(ALLOW_PRIORITY > BLOCK_PRIORITY);
    assert.deepEqual(r.condition.tabIds, [7]);
    assert.deepEqual(r.action, { type: 'allow' });
  }
  assert.ok(rules.some((r) => matches(r, 'POST', 'https://social.example/api/v1/statuses')));
  assert.ok(!rules.some((r) => matches(r, 'POST', 'https://mastodon.example/api/v1/statuses')));
  assert.throws(() => allowRules(m, -1, ALLOW_ID_BASE, inst), /tab/);
  assert.throws(() => allowRules(m, 1, 10, inst), /ALLOW_ID_BASE/);
});

test('ruleUpdate is a no-op when rules are in place, else replaces the block range', () => {
  const want = blockRules(table, inst);
  assert.deepEqual(ruleUpdate(want, want), { removeRuleIds: [], addRules: [] });
  const fewer = blockRules(table, ['social.example']);
  const upd = ruleUpdate(fewer, want);
  assert.deepEqual(upd.removeRuleIds, fewer.map((r) => r.id));
  assert.equal(upd.addRules, want);
  const withAllow = [...want, { id: ALLOW_ID_BASE, priority: ALLOW_PRIORITY, action: { type: 'allow' }, condition: {} }];
  assert.deepEqual(ruleUpdate(withAllow, want), { removeRuleIds: [], addRules: [] });
});

test('the static ruleset in the manifest is the block rules of the fixed-host platforms', () => {
  const shipped = JSON.parse(readFileSync(new URL('../../unpacked/rules/publish.json', import.meta.url), 'utf8'));
  assert.deepEqual(shipped, blockRules(table, []), 'run: node extension/scripts/sync-shared.mjs');
  const manifest = JSON.parse(readFileSync(new URL('../../unpacked/manifest.json', import.meta.url), 'utf8'));
  assert.deepEqual(manifest.declarative_net_request.rule_resources, [{ id: 'publish', enabled: true, path: 'rules/publish.json' }, { id: 'pending', enabled: true, path: 'rules/pending.json' }]);
});

test('an approval opens only the endpoints of its kind of action', () => {
  const x = table.platforms.find((p) => p.id === 'x');
  const all = allowRules(x, 3, ALLOW_ID_BASE);
  const forPost = allowRules(x, 3, ALLOW_ID_BASE, [], undefined, 'post');
  const forReply = allowRules(x, 3, ALLOW_ID_BASE, [], undefined, 'reply');
  const forRepost = allowRules(x, 3, ALLOW_ID_BASE, [], undefined, 'repost');
  const re = (rs) => rs.map((r) => r.condition.regexFilter);
  assert.ok(forPost.length > 0 && forRepost.length > 0);
  assert.equal(forPost.length + forRepost.length, all.length);
  assert.ok(re(forRepost).every((r) => r.includes('CreateRetweet')), 'repost approval opens only CreateRetweet');
  assert.ok(re(forPost).every((r) => !r.includes('CreateRetweet')), 'a text approval never opens a repost');
  assert.deepEqual(re(forReply), re(forPost), 'replies go through the post endpoints');
  assert.equal(endpointFits({ action: 'repost' }, 'quote'), false);
  assert.equal(endpointFits({ action: 'post' }, 'quote'), true);
});

test('until IT\'s configuration is known, Mastodon\'s publishing shapes are blocked on every host, and nothing else', () => {
  const shipped = JSON.parse(readFileSync(new URL('../../unpacked/rules/pending.json', import.meta.url), 'utf8'));
  assert.deepEqual(shipped, pendingRules(table), 'run: node extension/scripts/sync-shared.mjs');
  const hit = (method, url) => shipped.some((r) => matches(r, method, url));
  for (const host of ['social.example', 'mastodon.bund.de', 'any.host.example:8443']) {
    assert.ok(hit('POST', `https://${host}/api/v1/statuses`), host);
    assert.ok(hit('PUT', `https://${host}/api/v1/statuses/123`), host);
    assert.ok(hit('POST', `https://${host}/api/v1/statuses/123/reblog`), host);
    assert.ok(pendingMatch(table, 'post', `https://${host}/api/v1/statuses?x=1`), host);
  }
  assert.ok(!hit('GET', 'https://social.example/api/v1/statuses'), 'reading is not publishing');
  assert.ok(!hit('POST', 'https://social.example/api/v1/statuses/123/favourite'));
  assert.ok(!hit('POST', 'https://social.example/x/api/v1/statuses'), 'anchored at the path');
  assert.ok(!hit('POST', 'http://social.example/api/v1/statuses'), 'https only, as the gate');
  assert.ok(shipped.every((r) => r.priority === BLOCK_PRIORITY && r.action.type === 'block' && r.id < ALLOW_ID_BASE));
});

test('Bluesky: every createRecord and applyWrites on its PDS hosts is blocked, likes and follows included; other hosts and calls are not', () => {
  const rules = blockRules(table, inst);
  const blocked = (m, u) => rules.some((r) => matches(r, m, u));
  for (const u of [
    'https://bsky.social/xrpc/com.atproto.repo.applyWrites',
    'https://morel.us-east.host.bsky.network/xrpc/com.atproto.repo.applyWrites',
    'https://morel.us-east.host.bsky.network/xrpc/com.atproto.repo.createRecord',
    'https://pds.bsky.network/xrpc/com.atproto.repo.createRecord?x=1',
    'https://BSKY.SOCIAL:443/xrpc/com.atproto.repo.createRecord',
  ]) assert.ok(blocked('POST', u), u);
  for (const u of [
    'https://bsky.network/xrpc/com.atproto.repo.createRecord', // *. needs a label more
    'https://evilbsky.network/xrpc/com.atproto.repo.createRecord',
    'https://bsky.network.evil.example/xrpc/com.atproto.repo.createRecord',
    'https://bsky.social/xrpc/com.atproto.server.createSession',
    'https://bsky.social/xrpc/com.atproto.repo.createRecordX',
    'https://bsky.app/xrpc/com.atproto.repo.createRecord',
  ]) assert.ok(!blocked('POST', u), u);
  assert.ok(!blocked('GET', 'https://bsky.social/xrpc/com.atproto.repo.applyWrites'));
});

test('Bluesky: a post session opens only applyWrites, a repost session only createRecord, on the PDS hosts, for the one tab', () => {
  const b = table.platforms.find((p) => p.id === 'bluesky');
  const post = allowRules(b, 3, ALLOW_ID_BASE, [], 'bsky.app', 'post');
  const repost = allowRules(b, 3, ALLOW_ID_BASE, [], 'bsky.app', 'repost');
  const hit = (rs, u) => rs.some((r) => matches(r, 'POST', u));
  const pds = 'https://morel.us-east.host.bsky.network/xrpc/com.atproto.repo.';
  assert.ok(hit(post, `${pds}applyWrites`) && hit(post, 'https://bsky.social/xrpc/com.atproto.repo.applyWrites'));
  assert.ok(!hit(post, `${pds}createRecord`));
  assert.ok(hit(repost, `${pds}createRecord`));
  assert.ok(!hit(repost, `${pds}applyWrites`));
  for (const r of [...post, ...repost]) assert.deepEqual(r.condition.tabIds, [3]);
});
