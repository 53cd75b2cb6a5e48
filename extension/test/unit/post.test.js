import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  extractLinks, labelFlags, punycodeDecode, targetId, targetUrl, bodyFields, valuesAt, compareAttachments, seenPost,
  cidOfSha256, sha256OfCid, mediaSha,
} from '../../unpacked/lib/post.js';
import { checkTable } from '../../unpacked/lib/platforms.js';
import { manifestDigest } from '../../unpacked/lib/manifest.js';

const table = checkTable(JSON.parse(readFileSync(new URL('../../../shared/platforms.json', import.meta.url), 'utf8')));
const X = table.platforms.find((p) => p.id === 'x');
const M = table.platforms.find((p) => p.id === 'mastodon');
const B = table.platforms.find((p) => p.id === 'bluesky');
const json = (o) => ({ raw: [{ bytes: new TextEncoder().encode(JSON.stringify(o)).buffer }] });
const SHA_A = 'a'.repeat(64), SHA_B = 'b'.repeat(64);

test('punycodeDecode: RFC 3492 samples and refusals', () => {
  assert.equal(punycodeDecode('mnchen-3ya'), 'münchen');
  assert.equal(punycodeDecode('80ak6aa92e'), 'аррӏе'); // the famous Cyrillic "apple"
  assert.equal(punycodeDecode('ihqwcrb4cv8a8dqg056pqjye'), '他们为什么不说中文');
  assert.equal(punycodeDecode('zz!'), null);
  assert.equal(punycodeDecode('ü-abc'), null, 'basic code points must be ASCII');
});

test('extractLinks: real host, Unicode form, domain and flags', () => {
  const links = extractLinks('Read https://www.bund.de/presse. and xn--80ak6aa92e.com, or раураl.com/login, or münchen.de!');
  assert.deepEqual(links.map((l) => [l.host, l.display, l.domain, l.flags]), [
    ['www.bund.de', 'www.bund.de', 'bund.de', []],
    ['xn--80ak6aa92e.com', 'аррӏе.com', 'xn--80ak6aa92e.com', ['punycode', 'lookalike']],
    ['xn--l-7sba6dbr.com', 'раураl.com', 'xn--l-7sba6dbr.com', ['punycode', 'mixed_script']],
    ['xn--mnchen-3ya.de', 'münchen.de', 'xn--mnchen-3ya.de', ['punycode']],
  ]);
  assert.equal(links[0].text, 'https://www.bund.de/presse', 'the full stop belongs to the sentence');
  assert.equal(links[2].href, 'https://xn--l-7sba6dbr.com/login');
  assert.deepEqual(extractLinks('no links here, just a.b or an e-mail press@ministry'), []);
  assert.deepEqual(extractLinks('mail press@bund.de').map((l) => l.host), [], 'an e-mail address is not a link');
});

test('labelFlags: one script is fine, two are flagged, Latin-looking Cyrillic is flagged', () => {
  assert.deepEqual(labelFlags('bund'), []);
  assert.deepEqual(labelFlags('москва'), [], 'a Cyrillic name with letters that do not pass for Latin');
  assert.deepEqual(labelFlags('pаypal'), ['mixed_script']);
  assert.deepEqual(labelFlags('ѕсоре'), ['lookalike']);
  assert.deepEqual(labelFlags('xn--80ak6aa92e'), []);
});

test('targetId and targetUrl: read back from the canonical address and from page links', () => {
  assert.equal(targetId(X, 'https://x.com/i/status/1234567890'), '1234567890');
  assert.equal(targetId(X, '/someone/status/99?s=20'), '99');
  assert.equal(targetId(X, 'https://x.com/someone/status/77/photo/1'), '77');
  assert.equal(targetId(X, '1234'), '1234');
  assert.equal(targetId(X, 'https://x.com/home'), null);
  assert.equal(targetId(M, 'https://social.example/@anna/1101'), '1101');
  assert.equal(targetUrl(X, '42', 'x.com'), 'https://x.com/i/status/42');
  assert.equal(targetUrl(M, '42', 'social.example'), 'https://social.example/statuses/42');
  assert.equal(targetId(M, targetUrl(M, '42', 'social.example')), '42');
});

test('valuesAt follows dotted paths with * over arrays', () => {
  const o = { a: { list: [{ id: '1' }, { id: '2' }, {}] } };
  assert.deepEqual(valuesAt(o, 'a.list.*.id'), ['1', '2']);
  assert.deepEqual(valuesAt(o, 'a.missing.*'), []);
  assert.deepEqual(valuesAt({ ids: ['7', '8'] }, 'ids.*'), ['7', '8']);
});

test('bodyFields: X CreateTweet reply, quote and media; CreateRetweet', () => {
  const create = X.publish.find((e) => /CreateTweet\(/.test(e.url_regex) || e.url_regex.includes('/CreateTweet'));
  const reply = bodyFields(X, create, json({ variables: { tweet_text: 'hi', media: { media_entities: [{ media_id: '11', tagged_users: [] }, { media_id: '12' }] }, reply: { in_reply_to_tweet_id: '555' } } }), 'https://x.com/i/api/graphql/q/CreateTweet');
  assert.deepEqual(reply, { text: 'hi', mediaIds: ['11', '12'], targetId: '555' });
  const quote = bodyFields(X, create, json({ variables: { tweet_text: 'q', attachment_url: 'https://x.com/other/status/777' } }), '');
  assert.deepEqual(quote, { text: 'q', mediaIds: [], targetId: '777' });
  const rt = X.publish.find((e) => e.action === 'repost');
  assert.deepEqual(bodyFields(X, rt, json({ variables: { tweet_id: '888', dark_request: false } }), ''), { text: null, mediaIds: [], targetId: '888' });
});

test('bodyFields: Mastodon JSON, form (Rails []) and reblog from the path', () => {
  const post = M.publish[0];
  assert.deepEqual(bodyFields(M, post, json({ status: 's', media_ids: ['1', 2], in_reply_to_id: '9' }), ''), { text: 's', mediaIds: ['1', '2'], targetId: '9' });
  const form = { raw: [{ bytes: new TextEncoder().encode('status=s&media_ids[]=3&media_ids[]=4&quoted_status_id=10').buffer }] };
  assert.deepEqual(bodyFields(M, post, form, ''), { text: 's', mediaIds: ['3', '4'], targetId: '10' });
  assert.deepEqual(bodyFields(M, post, { formData: { status: ['f'], 'media_ids[]': ['5'] } }, ''), { text: 'f', mediaIds: ['5'], targetId: null });
  const reblog = M.publish.find((e) => e.action === 'repost');
  assert.deepEqual(bodyFields(M, reblog, null, 'https://social.example/api/v1/statuses/123/reblog'), { text: null, mediaIds: [], targetId: '123' });
});

test('cidOfSha256 and sha256OfCid: Bluesky blob CIDs (CIDv1, raw, SHA-256, base32) and back', async () => {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256').update('hello').digest('hex');
  // The well-known address of the bytes "hello" as a raw block.
  assert.equal(cidOfSha256(h), 'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq');
  assert.equal(sha256OfCid(cidOfSha256(h)), h);
  assert.equal(sha256OfCid(cidOfSha256(SHA_A)), SHA_A);
  for (const bad of ['', 'bafy', 'bafyreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq', 'Bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq', 'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yer', 'zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA', 11, null]) {
    assert.equal(sha256OfCid(bad), null, String(bad));
  }
  assert.equal(cidOfSha256('xyz'), null);
  // Where ids are content addresses, the id says the bytes; elsewhere only the observer does.
  assert.equal(mediaSha(B, cidOfSha256(SHA_B), { [cidOfSha256(SHA_B)]: SHA_A }), SHA_B, 'the page cannot tie a CID to other bytes');
  assert.equal(mediaSha(B, 'bafy-not-a-cid', {}), null);
  assert.equal(mediaSha(X, '11', { 11: SHA_A }), SHA_A);
  assert.equal(mediaSha(X, '12', { 11: SHA_A }), null);
});

test('bodyFields: Bluesky applyWrites with images, reply and quote; a quote with images', () => {
  const post = B.publish.find((e) => e.action === 'post');
  const cidA = cidOfSha256(SHA_A), cidB = cidOfSha256(SHA_B);
  const parent = { uri: 'at://did:plc:other/app.bsky.feed.post/3kother', cid: 'bafyother' };
  const img = (cid, alt) => ({ alt, image: { $type: 'blob', ref: { $link: cid }, mimeType: 'image/png', size: 3 } });
  const write = (value) => json({ repo: 'did:plc:ministry', writes: [
    { $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.post', rkey: '3l1', value: { $type: 'app.bsky.feed.post', text: 'hi', createdAt: 'now', ...value } },
    { $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.threadgate', rkey: '3l1', value: { post: 'at://did:plc:ministry/app.bsky.feed.post/3l1', allow: [] } },
  ] });
  assert.deepEqual(bodyFields(B, post, write({ reply: { root: parent, parent }, embed: { $type: 'app.bsky.embed.images', images: [img(cidA, 'a'), img(cidB, 'b')] } }), ''),
    { text: 'hi', mediaIds: [cidA, cidB], targetId: '3kother' });
  assert.deepEqual(bodyFields(B, post, write({ embed: { $type: 'app.bsky.embed.record', record: parent } }), ''), { text: 'hi', mediaIds: [], targetId: '3kother' });
  assert.deepEqual(bodyFields(B, post, write({}), ''), { text: 'hi', mediaIds: [], targetId: null });
  const repost = B.publish.find((e) => e.action === 'repost');
  assert.deepEqual(bodyFields(B, repost, json({ repo: 'did:plc:ministry', collection: 'app.bsky.feed.repost', record: { $type: 'app.bsky.feed.repost', subject: parent, createdAt: 'now' } }), ''), { text: null, mediaIds: [], targetId: '3kother' });
  // A quote with images (recordWithMedia): the quoted post and the images.
  assert.deepEqual(bodyFields(B, post, write({ embed: { $type: 'app.bsky.embed.recordWithMedia', record: { record: parent }, media: { $type: 'app.bsky.embed.images', images: [img(cidA, ''), img(cidB, '')] } } }), ''),
    { text: 'hi', mediaIds: [cidA, cidB], targetId: '3kother' });
});

test('seenPost: Bluesky: the approved image by its CID and the approved reply hash to the approved digest; another post or image does not', async () => {
  const sha = async (s) => (await import('node:crypto')).createHash('sha256').update(s).digest('hex');
  // The composer shows the answered post by a link with the author's handle; the request names it
  // by its at:// address with the author's DID: both give the record key.
  const url = targetUrl(B, targetId(B, 'https://bsky.app/profile/other.bsky.social/post/3kother'), 'bsky.app');
  assert.equal(url, 'https://bsky.app/post/3kother');
  const approved = { account: 'bluesky:@ministry.bsky.social', action: 'reply', text: 'Danke!', media: [{ sha256: SHA_A, size: 10, type: 'image/png', name: 'a.png', alt: '' }], target: { url, author: '@other.bsky.social', excerpt: 'x' } };
  const want = await manifestDigest(approved);
  const seen = (mediaIds, target) => ({ text: 'Danke!', mediaIds, targetId: targetId(B, target) });
  // No upload observed at all (bsky.app uploads at Post, after the check): the CID says the bytes.
  assert.equal(await manifestDigest(await seenPost(B, approved, seen([cidOfSha256(SHA_A)], 'at://did:plc:other/app.bsky.feed.post/3kother'), {}, 'bsky.app', sha)), want);
  assert.notEqual(await manifestDigest(await seenPost(B, approved, seen([cidOfSha256(SHA_B)], 'at://did:plc:other/app.bsky.feed.post/3kother'), {}, 'bsky.app', sha)), want);
  assert.notEqual(await manifestDigest(await seenPost(B, approved, seen([cidOfSha256(SHA_A)], 'at://did:plc:other/app.bsky.feed.post/3kanother'), {}, 'bsky.app', sha)), want);
  assert.notEqual(await manifestDigest(await seenPost(B, approved, seen([cidOfSha256(SHA_A)], null), {}, 'bsky.app', sha)), want, 'the reply went out as a new post');
  assert.notEqual(await manifestDigest(await seenPost(B, approved, seen([], 'at://did:plc:other/app.bsky.feed.post/3kother'), {}, 'bsky.app', sha)), want);
});

test('compareAttachments names what differs', () => {
  const img = (sha, alt = '') => ({ sha256: sha, alt });
  const t = (id) => ({ url: `https://x.com/i/status/${id}` });
  const ok = { action: 'reply', media: [img(SHA_A)], target: t(1) };
  assert.deepEqual(compareAttachments(ok, { media: [img(SHA_A)], target: t(1) }), []);
  assert.deepEqual(compareAttachments({ action: 'post', media: [], target: null }, { media: [img(SHA_A)], target: null }), ['media_added']);
  assert.deepEqual(compareAttachments(ok, { media: [], target: t(1) }), ['media_removed']);
  assert.deepEqual(compareAttachments(ok, { media: [img(SHA_B)], target: t(1) }), ['media_added', 'media_removed']);
  assert.deepEqual(compareAttachments({ action: 'post', media: [img(SHA_A), img(SHA_B)], target: null }, { media: [img(SHA_B), img(SHA_A)], target: null }), ['media_changed']);
  assert.deepEqual(compareAttachments(ok, { media: [img(SHA_A, 'new alt')], target: t(1) }), ['alt_changed']);
  assert.deepEqual(compareAttachments(ok, { media: [img(SHA_A, ' ')], target: t(1) }), [], 'alt compared in canonical form');
  assert.deepEqual(compareAttachments(ok, { media: [img(SHA_A)], target: t(2) }), ['reply_target_changed']);
  assert.deepEqual(compareAttachments({ ...ok, action: 'quote' }, { media: [img(SHA_A)], target: null }), ['quote_target_changed']);
  assert.deepEqual(compareAttachments({ action: 'repost', media: [], target: t(1) }, { media: [], target: t(3) }), ['repost_target_changed']);
});

test('seenPost: the same post hashes to the approved digest; another image or target does not', async () => {
  const sha = async (s) => (await import('node:crypto')).createHash('sha256').update(s).digest('hex');
  const approved = { account: 'x:@ministry', action: 'reply', text: 'Danke!', media: [{ sha256: SHA_A, size: 10, type: 'image/png', name: 'a.png', alt: 'chart' }], target: { url: 'https://x.com/i/status/555', author: '@a', excerpt: 'x' } };
  const want = await manifestDigest(approved);
  const same = await seenPost(X, approved, { text: 'Danke!', mediaIds: ['11'], targetId: '555' }, { 11: SHA_A }, 'x.com', sha);
  assert.equal(await manifestDigest(same), want);
  const other = await seenPost(X, approved, { text: 'Danke!', mediaIds: ['11'], targetId: '556' }, { 11: SHA_A }, 'x.com', sha);
  assert.equal(other.target.url, 'https://x.com/i/status/556');
  assert.notEqual(await manifestDigest(other), want);
  const unknown = await seenPost(X, approved, { text: 'Danke!', mediaIds: ['99'], targetId: '555' }, { 11: SHA_A }, 'x.com', sha);
  assert.notEqual(await manifestDigest(unknown), want, 'a media id nobody saw uploaded is not the approved image');
  const extra = await seenPost(X, approved, { text: 'Danke!', mediaIds: ['11', '12'], targetId: '555' }, { 11: SHA_A, 12: SHA_B }, 'x.com', sha);
  assert.notEqual(await manifestDigest(extra), want);
  const swapped = await seenPost(X, approved, { text: 'Something else', mediaIds: ['11'], targetId: '555' }, { 11: SHA_A }, 'x.com', sha);
  assert.notEqual(await manifestDigest(swapped), want);
});

test('postParts keeps only well-formed parts of what the page reports', async () => {
  const { postParts } = await import('../../unpacked/lib/post.js');
  const good = postParts({ media: [{ sha256: SHA_A, size: 5, type: 'image/png', name: 'a\u0007.png', alt: 'x', thumb: 'javascript:alert(1)' }], target: { url: 'https://x.com/i/status/1', author: '@a', excerpt: 'e' }, uploads: { 11: SHA_A, 'bad id!': SHA_B, 12: 'nothex' } });
  assert.deepEqual(good.media, [{ sha256: SHA_A, size: 5, type: 'image/png', name: 'a.png', alt: 'x', thumb: null }]);
  assert.deepEqual(good.target, { url: 'https://x.com/i/status/1', author: '@a', excerpt: 'e' });
  assert.deepEqual(good.uploads, { 11: SHA_A });
  assert.equal(postParts({ media: [{ sha256: 'short' }] }), null, 'a file without its hash is not a post the gate understands');
  assert.equal(postParts({ media: 'x' }), null);
  assert.equal(postParts({ media: Array(11).fill({ sha256: SHA_A }) }), null, 'more than 10 attachments');
  assert.equal(postParts({ target: { url: 'http://x.com/1' } }), null, 'a target address that is not https');
  assert.deepEqual(postParts({}), { media: [], target: null, uploads: {} });
});
