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
    media: { preview: 'p', content_id: 'md5', upload: [{ method: 'POST', url_regex: '^https://up', response_id: 'id' }] } }] }), /content_id/);
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

// ---- Bluesky: API hosts as patterns, endpoints keyed by the request body --------------------
import { isHostPattern, hostMatches, apiHostOf, urlEndpoints, parseBody, valuesAt, bodyMatches, textOf, bodyText } from '../../unpacked/lib/platforms.js';

const bsky = table.platforms.find((p) => p.id === 'bluesky');
const raw = (obj) => ({ raw: [{ bytes: new TextEncoder().encode(typeof obj === 'string' ? obj : JSON.stringify(obj)).buffer }] });
const create = (collection, value) => ({ $type: 'com.atproto.repo.applyWrites#create', collection, rkey: '3l', value });

test('API host patterns: a host, or *. and a host; nothing else', () => {
  for (const ok of ['bsky.social', '*.bsky.network', '*.host.bsky.network']) assert.ok(isHostPattern(ok), ok);
  for (const bad of ['*', '*.com', 'bsky', '*bsky.network', 'a.*.bsky.network', '**.bsky.network', '*.', 'BSKY.social', 'bsky.social:443', ' bsky.social', '*.bsky.network.', 'https://bsky.social']) assert.ok(!isHostPattern(bad), bad);
  assert.ok(hostMatches('*.bsky.network', 'morel.us-east.host.bsky.network'));
  assert.ok(hostMatches('*.bsky.network', 'PDS.bsky.network:443'));
  assert.ok(!hostMatches('*.bsky.network', 'bsky.network'));
  assert.ok(!hostMatches('*.bsky.network', 'evilbsky.network'));
  assert.ok(!hostMatches('*.bsky.network', 'bsky.network.evil.example'));
  assert.ok(hostMatches('bsky.social', 'bsky.social') && !hostMatches('bsky.social', 'x.bsky.social'));
  assert.ok(apiHostOf(bsky, 'a.host.bsky.network') && apiHostOf(bsky, 'bsky.social') && !apiHostOf(bsky, 'bsky.app'));
  assert.throws(() => checkTable({ version: 1, platforms: [{ ...bsky, api_hosts: ['*.*.bsky.network'] }] }), /api host/);
  assert.throws(() => checkTable({ version: 1, platforms: [{ ...bsky, api_hosts: [] }] }), /path_regex needs api_hosts/);
  assert.throws(() => checkTable({ version: 1, platforms: [{ ...bsky, publish: [{ ...bsky.publish[0], body_match: { path: 'writes..collection', equals: 'x' } }] }] }), /body_match/);
  assert.throws(() => checkTable({ version: 1, platforms: [{ ...bsky, publish: [{ ...bsky.publish[0], body_match: { path: 'collection' } }] }] }), /body_match/);
});

test('Bluesky pages are bsky.app; its publishing requests go to its PDS hosts', () => {
  assert.equal(platformForUrl(table, 'https://bsky.app/', inst)?.id, 'bluesky');
  assert.equal(platformForUrl(table, 'https://bsky.social/', inst), null, 'the PDS is no page of the platform');
  assert.ok(contentScriptMatches(table, []).includes('https://bsky.app/*'));
  const pds = 'https://morel.us-east.host.bsky.network/xrpc/com.atproto.repo.';
  assert.deepEqual(urlEndpoints(bsky, 'POST', `${pds}applyWrites`).map((e) => e.action), ['post']);
  assert.deepEqual(urlEndpoints(bsky, 'POST', `${pds}createRecord`).map((e) => e.action), ['repost']);
  assert.deepEqual(urlEndpoints(bsky, 'POST', 'https://bsky.network/xrpc/com.atproto.repo.createRecord'), []);
  assert.equal(publishEndpoint(table, 'POST', `${pds}createRecord`, inst)?.platform.id, 'bluesky');
});

test('valuesAt: * is any element of an array and nothing else', () => {
  const v = { writes: [{ collection: 'a' }, { collection: 'b' }, { other: 1 }], collection: 'top' };
  assert.deepEqual(valuesAt(v, 'writes.*.collection'), ['a', 'b']);
  assert.deepEqual(valuesAt(v, 'collection'), ['top']);
  assert.deepEqual(valuesAt(v, '*.collection'), [], 'an object is no array');
  assert.deepEqual(valuesAt({ writes: { 0: { collection: 'a' } } }, 'writes.*.collection'), []);
  assert.deepEqual(valuesAt(v, 'writes.0.collection'), [], 'no indexing into arrays by name');
  assert.deepEqual(valuesAt({ a: { __proto__: null } }, 'a.constructor'), []);
});

test('Bluesky body keys: a post, with its threadgate and postgate, is the post endpoint; likes, follows and mixed writes are not', () => {
  const [post, repost] = bsky.publish;
  const text = 'Approved post';
  const one = parseBody(raw({ repo: 'did:plc:x', writes: [create('app.bsky.feed.post', { $type: 'app.bsky.feed.post', text, createdAt: 'now' }), create('app.bsky.feed.threadgate', { allow: [] }), create('app.bsky.feed.postgate', {})] }));
  assert.ok(bodyMatches(post, one) && !bodyMatches(repost, one));
  assert.deepEqual(textOf(post, one), { text });
  assert.equal(bodyText(post, raw({ writes: [create('app.bsky.feed.post', { text })] })), text);
  // A thread of two posts in one request is not the approved post.
  const thread = parseBody(raw({ writes: [create('app.bsky.feed.post', { text }), create('app.bsky.feed.post', { text: 'and a second one' })] }));
  assert.ok(bodyMatches(post, thread));
  assert.deepEqual(textOf(post, thread), { mismatch: '2 texts in one request' });
  assert.equal(bodyText(post, raw({ writes: [create('app.bsky.feed.post', { text }), create('app.bsky.feed.post', { text: 'b' })] })), null);
  // No text at all (a delete of a post) does not pass for the approved text either.
  assert.deepEqual(textOf(post, parseBody(raw({ writes: [{ $type: 'com.atproto.repo.applyWrites#delete', collection: 'app.bsky.feed.post', rkey: '1' }] }))), { mismatch: '0 texts in one request' });
  // A like riding along with the post, or a like on its own, fits no endpoint.
  assert.ok(!bodyMatches(post, parseBody(raw({ writes: [create('app.bsky.feed.post', { text }), create('app.bsky.feed.like', { subject: {} })] }))));
  assert.ok(!bodyMatches(post, parseBody(raw({ writes: [create('app.bsky.feed.like', {})] }))));
  const like = parseBody(raw({ repo: 'did:plc:x', collection: 'app.bsky.feed.like', record: { subject: { uri: 'at://x' } } }));
  const follow = parseBody(raw({ repo: 'did:plc:x', collection: 'app.bsky.graph.follow', record: { subject: 'did:plc:y' } }));
  const rp = parseBody(raw({ repo: 'did:plc:x', collection: 'app.bsky.feed.repost', record: { subject: { uri: 'at://x' } } }));
  assert.ok(!bodyMatches(repost, like) && !bodyMatches(repost, follow) && bodyMatches(repost, rp));
  assert.ok(!bodyMatches(repost, parseBody(raw('not json'))) && !bodyMatches(repost, null));
  // X and Mastodon endpoints have no body keys: any body fits, and their texts read as before.
  const x = table.platforms.find((p) => p.id === 'x').publish[0];
  assert.ok(bodyMatches(x, null));
  assert.equal(bodyText(x, raw({ variables: { tweet_text: 'hi' } })), 'hi');
  const m = table.platforms.find((p) => p.id === 'mastodon').publish[0];
  assert.equal(bodyText(m, { formData: { status: ['toot'] } }), 'toot');
  assert.equal(bodyText(m, raw('status=toot+2')), 'toot 2');
});

test('what went through an open gate: the approved post, or a mismatch the daemon is told about', async () => {
  const { throughGate } = await import('../../unpacked/lib/platforms.js');
  const [post, repost] = bsky.publish;
  assert.deepEqual(throughGate([post], raw({ writes: [create('app.bsky.feed.post', { text: 'ok' })] })), { text: 'ok', endpoint: post });
  assert.match(throughGate([repost], raw({ collection: 'app.bsky.feed.like', record: {} })).mismatch, /fits no endpoint/);
  assert.match(throughGate([repost], raw({ collection: 'app.bsky.graph.follow', record: {} })).mismatch, /fits no endpoint/);
  assert.deepEqual(throughGate([repost], raw({ collection: 'app.bsky.feed.repost', record: {} })), { text: null, endpoint: repost });
  assert.match(throughGate([post], raw({ writes: [create('app.bsky.feed.post', { text: 'a' }), create('app.bsky.feed.post', { text: 'b' })] })).mismatch, /2 texts/);
  assert.match(throughGate([post], undefined).mismatch, /fits no endpoint/, 'a body the browser did not report is no proof');
  const x = table.platforms.find((p) => p.id === 'x').publish[0];
  assert.deepEqual(throughGate([x], undefined), { text: null, endpoint: x }, 'X as before: no body, the checked text stands');
});
