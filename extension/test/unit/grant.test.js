import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grantString, verifyGrant, importDaemonKey, toBase64, checkGrantShape, parseTime, unixSeconds } from '../../unpacked/lib/grant.js';
import { digest } from '../../unpacked/lib/digest.js';
import { manifestDigest } from '../../unpacked/lib/manifest.js';

async function keypair() {
  const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey));
  return { priv: kp.privateKey, pubB64: toBase64(raw) };
}

async function sign(priv, g) {
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, priv, new TextEncoder().encode(grantString(g)));
  return { ...g, sig: toBase64(new Uint8Array(sig)) };
}

const nonce = 'bm9uY2Utb2YtdGhpcy1jb25u';

async function fixture() {
  const { priv, pubB64 } = await keypair();
  const key = await importDaemonKey(pubB64);
  const text = 'Guten Morgen aus dem Ministerium';
  const d = await digest(text);
  const md = await manifestDigest({ account: 'x:@ministry', action: 'post', text, media: [{ sha256: 'a'.repeat(64), size: 48213, type: 'image/png', name: 'chart.png', alt: '' }] });
  const base = { session_id: 's-1', account: 'x:@ministry', action: 'post', digest: d, manifestDigest: md, manifest_digest: md, expires: Math.floor(Date.now() / 1000) + 600, nonce };
  return { priv, key, d, md, text, base, g: await sign(priv, base) };
}

test('grantString is the documented layout', () => {
  const s = grantString({ session_id: 's', account: 'x:@a', action: 'reply', digest: 'a'.repeat(64), manifest_digest: 'b'.repeat(64), expires: 1700000000, nonce: 'n0' });
  assert.equal(s, `foureyes-grant-v2\ns\nx:@a\nreply\n${'a'.repeat(64)}\n${'b'.repeat(64)}\n1700000000\nn0`);
  // An RFC 3339 expiry signs as the same Unix seconds.
  assert.equal(grantString({ session_id: 's', account: 'x:@a', action: 'reply', digest: 'a'.repeat(64), manifest_digest: 'b'.repeat(64), expires: '2023-11-14T22:13:20.999999999Z', nonce: 'n0' }), s);
});

test('a grant signed by the daemon key verifies', async () => {
  const { key, d, md, g } = await fixture();
  assert.deepEqual(await verifyGrant(g, { key, nonce, digest: d, manifestDigest: md, sessionId: 's-1' }), { ok: true });
});

test('every tampered field fails the signature', async () => {
  const { key, d, md, g } = await fixture();
  for (const [f, v] of [['session_id', 's-2'], ['account', 'x:@other'], ['action', 'reply'], ['manifest_digest', 'c'.repeat(64)], ['expires', g.expires + 1]]) {
    const r = await verifyGrant({ ...g, [f]: v }, { key, nonce, digest: d, manifestDigest: md });
    assert.equal(r.reason, 'bad_signature', f);
  }
  const other = await digest('Something else');
  assert.equal((await verifyGrant({ ...g, digest: other }, { key, nonce, digest: other, manifestDigest: md })).reason, 'bad_signature');
});

test('a grant signed by another key (a squatter on the port) is refused', async () => {
  const { key, d, md, base } = await fixture();
  const squatter = await keypair();
  const forged = await sign(squatter.priv, base);
  assert.equal((await verifyGrant(forged, { key, nonce, digest: d, manifestDigest: md })).reason, 'bad_signature');
});

test('nonce, digest, session and expiry are checked', async () => {
  const { priv, key, d, md, base, g } = await fixture();
  assert.equal((await verifyGrant(g, { key, nonce: 'another', digest: d, manifestDigest: md })).reason, 'wrong_nonce');
  assert.equal((await verifyGrant(g, { key, nonce, digest: await digest('edited'), manifestDigest: md })).reason, 'digest_mismatch');
  assert.equal((await verifyGrant(g, { key, nonce, digest: d, manifestDigest: md, sessionId: 's-9' })).reason, 'wrong_session');
  const old = await sign(priv, { ...base, expires: Math.floor(Date.now() / 1000) - 1 });
  assert.equal((await verifyGrant(old, { key, nonce, digest: d, manifestDigest: md })).reason, 'expired');
  assert.equal((await verifyGrant(g, { key, nonce, digest: d, manifestDigest: md, now: (g.expires + 1) * 1000 })).reason, 'expired');
});

test('malformed grants are refused before any crypto', async () => {
  const { key, d, md, g } = await fixture();
  for (const bad of [null, {}, { ...g, sig: '' }, { ...g, account: 'x\nfoureyes' }, { ...g, action: 'delete' },
    { ...g, digest: 'A'.repeat(64) }, { ...g, manifest_digest: undefined }, { ...g, manifest_digest: 'x' }, { ...g, expires: 'tomorrow' }, { ...g, nonce: 'a b' }, { ...g, sig: 'not base64!' }]) {
    assert.equal((await verifyGrant(bad, { key, nonce, digest: d, manifestDigest: md })).reason, 'malformed', JSON.stringify(bad));
  }
  assert.equal((await verifyGrant({ ...g, sig: toBase64(new Uint8Array(64)) }, { key, nonce, digest: d, manifestDigest: md })).reason, 'bad_signature');
  assert.equal(checkGrantShape(g), null);
});

test('daemon key must be 32 bytes', async () => {
  await assert.rejects(importDaemonKey(toBase64(new Uint8Array(31))));
});

test('parseTime', () => {
  assert.equal(parseTime('1970-01-01T00:00:01Z'), 1000);
  assert.equal(parseTime('1970-01-01T01:00:01+01:00'), 1000);
  assert.equal(parseTime('1970-01-01T00:00:01.123456789Z'), 1123);
  assert.ok(Number.isNaN(parseTime('1970-01-01 00:00:01')));
  assert.equal(unixSeconds('2023-11-14T22:13:20.5Z'), 1700000000);
});

// Vectors the daemon's Go code signs and checks too (shared/protocol/grant-vectors.json).
import { readFileSync } from 'node:fs';
const gv = JSON.parse(readFileSync(new URL('../../../shared/protocol/grant-vectors.json', import.meta.url), 'utf8'));

test('shared grant vectors: signed string and signature', async (t) => {
  const key = await importDaemonKey(gv.public_key);
  for (const v of gv.vectors) {
    await t.test(v.name, async () => {
      assert.equal(grantString(v.grant), v.signed);
      const r = await verifyGrant(v.grant, { key, nonce: v.grant.nonce, digest: v.grant.digest, manifestDigest: v.grant.manifest_digest, now: 0 });
      assert.deepEqual(r, { ok: true });
    });
  }
  for (const v of gv.must_not_verify) {
    await t.test(`refused: ${v.name}`, async () => {
      const r = await verifyGrant(v.grant, { key, nonce: v.nonce, digest: v.grant.digest, manifestDigest: v.grant.manifest_digest, now: 0 });
      assert.equal(r.ok, false);
    });
  }
});

test('account and action must be the ones being used', async () => {
  const { key, d, md, g } = await fixture();
  assert.equal((await verifyGrant(g, { key, nonce, digest: d, manifestDigest: md, account: 'x:@ministry', action: 'post' })).ok, true);
  assert.equal((await verifyGrant(g, { key, nonce, digest: d, manifestDigest: md, account: 'x:@other' })).reason, 'wrong_session');
  assert.equal((await verifyGrant(g, { key, nonce, digest: d, manifestDigest: md, action: 'reply' })).reason, 'wrong_session');
});

test('a grant for the whole post A does not open the gate for post B (same text, another image)', async () => {
  const { priv, key, d, md, text, base, g } = await fixture();
  const other = await manifestDigest({ account: 'x:@ministry', action: 'post', text, media: [{ sha256: 'b'.repeat(64), size: 48213, type: 'image/png', name: 'chart.png', alt: '' }] });
  assert.notEqual(other, md);
  // A correctly signed grant for A, checked against the post B the composer holds.
  assert.equal((await verifyGrant(g, { key, nonce, digest: d, manifestDigest: other })).reason, 'manifest_mismatch');
  // A grant signed for B is refused when A is about to go out.
  const forB = await sign(priv, { ...base, manifest_digest: other });
  assert.equal((await verifyGrant(forB, { key, nonce, digest: d, manifestDigest: md })).reason, 'manifest_mismatch');
  // A's grant with B's digest written in: the signature no longer holds.
  assert.equal((await verifyGrant({ ...g, manifest_digest: other }, { key, nonce, digest: d, manifestDigest: other })).reason, 'bad_signature');
  // No manifest digest to check against: never open.
  assert.equal((await verifyGrant(g, { key, nonce, digest: d })).reason, 'manifest_mismatch');
});

test('a v1 grant (signed without the manifest line) is refused', async () => {
  const { priv, key, d, md, base } = await fixture();
  const v1 = ['foureyes-grant-v1', base.session_id, base.account, base.action, base.digest, String(base.expires), base.nonce].join('\n');
  const sig = toBase64(new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, priv, new TextEncoder().encode(v1))));
  const { manifest_digest: _, ...withoutManifest } = base;
  assert.equal((await verifyGrant({ ...withoutManifest, sig }, { key, nonce, digest: d, manifestDigest: md })).reason, 'malformed');
  assert.equal((await verifyGrant({ ...base, sig }, { key, nonce, digest: d, manifestDigest: md })).reason, 'bad_signature');
});
