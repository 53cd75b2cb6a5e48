import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  checkTable, platformForUrl, platformForHost, publishEndpoint, normalizeHost, normalizeInstances,
  contentScriptMatches, actionFor, endpointRegexes, supported, hostsOf,
} from '../../unpacked/lib/platforms.js';

const read = (p) => readFileSync(new URL(p, import.meta.url), 'utf8');
const table = checkTable(JSON.parse(read('../../../shared/platforms.json')));
const inst = ['social.example'];

test('the extension ships the same table as shared/', () => {
  assert.equal(read('../../unpacked/data/platforms.json'), read('../../../shared/platforms.json'),
    'run: node extension/scripts/sync-shared.mjs');
});

test('manifest content scripts cover exactly the fixed hosts of the table', () => {
  const manifest = JSON.parse(read('../../unpacked/manifest.json'));
  assert.equal(manifest.content_scripts.length, 2);
  for (const c of manifest.content_scripts) assert.deepEqual([...c.matches].sort(), contentScriptMatches(table, []));
  // The upload observer runs in the page's world from the start, before the page's own scripts.
  const obs = manifest.content_scripts.find((c) => c.js.includes('content/observe.js'));
  assert.equal(obs.world, 'MAIN');
  assert.equal(obs.run_at, 'document_start');
});

test('upload and target expressions are RE2-safe and anchored where they match addresses', () => {
  for (const p of supported(table)) {
    for (const u of (p.media && p.media.upload) || []) {
      const src = u.url_regex || u.path_regex;
      assert.ok(src.startsWith('^') && !/\(\?[=!<]|\\[1-9]/.test(src), `${p.id}: ${src}`);
    }
  }
  assert.throws(() => checkTable({ version: 1, platforms: [{ id: 'a', hosts: ['a'], status: 'supported', publish: [{ method: 'POST', url_regex: '^x' }], composer: { text: [], submit: [] },
    media: { preview: 'p', upload: [{ method: 'POST', url_regex: 'https://up', response_id: 'id' }] } }] }), /must be anchored/);
  assert.throws(() => checkTable({ version: 1, platforms: [{ id: 'a', hosts: ['a'], status: 'supported', publish: [{ method: 'POST', url_regex: '^x' }], composer: { text: [], submit: [] },
    target: { post: ['a'], link: 'a', id_regex: '/s/([0-9]+)', url_template: 'http://a/{id}' } }] }), /url_template/);
  assert.throws(() => checkTable({ version: 1, platforms: [{ id: 'a', hosts: ['a'], status: 'supported', publish: [{ method: 'POST', url_regex: '^x', url_target: '/s/[0-9]+' }], composer: { text: [], submit: [] } }] }), /url_target/);
});

test('regular expressions are RE2-safe (no look-around, no back-references)', () => {
  for (const p of supported(table)) {
    for (const e of p.publish) {
      const src = e.url_regex || e.path_regex;
      assert.ok(!/\(\?[=!<]|\\[1-9]/.test(src), `${p.id}: ${src}`);
    }
  }
});

test('platformForUrl', () => {
  const cases = [
    ['https://x.com/home', 'x'],
    ['https://twitter.com/compose/post', 'x'],
    ['https://X.COM./home', 'x'],
    ['http://x.com/home', null],
    ['https://x.com.evil.example/home', null],
    ['https://evilx.com/', null],
    ['https://social.example/home', 'mastodon'],
    ['https://mastodon.example/home', null],
    ['https://www.facebook.com/', null], // planned: not gated yet
    ['not a url', null],
  ];
  for (const [url, want] of cases) {
    const p = platformForUrl(table, url, inst);
    assert.equal(p ? p.id : null, want, url);
  }
});

test('publishEndpoint', () => {
  const yes = [
    ['POST', 'https://x.com/i/api/graphql/abc-DEF_123/CreateTweet', 'x', 'post'],
    ['POST', 'https://twitter.com/i/api/graphql/q/CreateTweet?x=1', 'x', 'post'],
    ['POST', 'https://x.com/i/api/graphql/q/CreateRetweet', 'x', 'repost'],
    ['POST', 'https://x.com/i/api/graphql/q/CreateNoteTweet', 'x', 'post'],
    ['POST', 'https://api.x.com/2/tweets', 'x', 'post'],
    ['POST', 'https://social.example/api/v1/statuses', 'mastodon', 'post'],
    ['POST', 'https://social.example:443/api/v1/statuses', 'mastodon', 'post'],
    ['PUT', 'https://social.example/api/v1/statuses/1234', 'mastodon', 'post'],
    ['POST', 'https://social.example/api/v1/statuses/1234/reblog', 'mastodon', 'repost'],
  ];
  for (const [m, url, pid, action] of yes) {
    const hit = publishEndpoint(table, m, url, inst);
    assert.ok(hit, `${m} ${url}`);
    assert.equal(hit.platform.id, pid);
    assert.equal(hit.endpoint.action, action);
  }
  const no = [
    ['GET', 'https://x.com/i/api/graphql/q/CreateTweet'],
    ['POST', 'https://x.com/i/api/graphql/q/CreateTweetDraft'],
    ['POST', 'https://x.com/i/api/graphql/q/HomeTimeline'],
    ['POST', 'https://other.example/api/v1/statuses'],
    ['POST', 'https://social.example/api/v1/statuses_not'],
    ['GET', 'https://social.example/api/v1/statuses/1'],
    ['POST', 'https://social.example.evil/api/v1/statuses'],
  ];
  for (const [m, url] of no) assert.equal(publishEndpoint(table, m, url, inst), null, `${m} ${url}`);
});

test('host and instance normalisation', () => {
  assert.equal(normalizeHost('X.com:443'), 'x.com');
  assert.equal(normalizeHost('[::1]'), null);
  assert.equal(normalizeHost('a b'), null);
  assert.deepEqual(normalizeInstances(['Social.Example', 'https://social.example/about', 'bad host', 7, 'b.example']), ['b.example', 'social.example']);
  assert.deepEqual(normalizeInstances('x'), []);
  const m = platformForHost(table, 'social.example', inst);
  assert.deepEqual(hostsOf(m, inst), ['social.example']);
});

test('endpoint regexes for instances quote the host', () => {
  const m = table.platforms.find((p) => p.id === 'mastodon');
  const [re] = endpointRegexes(m, m.publish[0], ['social.example']);
  assert.equal(re, '^https://social\\.example(:443)?/api/v1/statuses([?#]|$)');
  assert.ok(!new RegExp(re).test('https://socialXexample/api/v1/statuses'));
});

test('actionFor', () => {
  const x = table.platforms.find((p) => p.id === 'x');
  const none = () => false;
  assert.equal(actionFor(x, { path: '/home', probe: none }), 'post');
  assert.equal(actionFor(x, { path: '/ministry/status/123', probe: none }), 'reply');
  assert.equal(actionFor(x, { path: '/home', probe: (scope, has) => has.includes('tweetText') }), 'quote');
});

test('checkTable refuses broken tables', () => {
  assert.throws(() => checkTable({ version: 2, platforms: [] }));
  assert.throws(() => checkTable({ version: 1, platforms: [{ id: 'a', hosts: [], status: 'supported', publish: [] }] }));
  assert.throws(() => checkTable({ version: 1, platforms: [{ id: 'a', hosts: [], status: 'supported', publish: [{ method: 'POST', url_regex: 'x' }], composer: { text: [], submit: [] } }] }));
  assert.throws(() => checkTable({ version: 1, platforms: [{ id: 'a', hosts: [] }, { id: 'a', hosts: [] }] }));
});

test('bodyText finds the post in JSON and form bodies', async () => {
  const { bodyText } = await import('../../unpacked/lib/platforms.js');
  const enc = (s) => ({ raw: [{ bytes: new TextEncoder().encode(s).buffer }] });
  const xEp = { body_text: 'variables.tweet_text' };
  assert.equal(bodyText(xEp, enc(JSON.stringify({ variables: { tweet_text: 'Grüße' } }))), 'Grüße');
  assert.equal(bodyText({ body_text: 'status' }, enc('status=Hallo+Welt&visibility=public')), 'Hallo Welt');
  assert.equal(bodyText({ body_text: 'status' }, { formData: { status: ['aus dem Formular'] } }), 'aus dem Formular');
  assert.equal(bodyText(xEp, enc('{"variables":{}}')), null);
  assert.equal(bodyText({}, enc('{}')), null);
  assert.equal(bodyText(xEp, undefined), null);
  // Split across chunks.
  const s = JSON.stringify({ variables: { tweet_text: 'zwei Teile' } });
  const b = new TextEncoder().encode(s);
  assert.equal(bodyText(xEp, { raw: [{ bytes: b.slice(0, 10).buffer }, { bytes: b.slice(10).buffer }] }), 'zwei Teile');
});
