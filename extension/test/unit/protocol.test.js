import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode, decode, checkHostHello, wsUrl, makeNonce, backoff, MAX_MESSAGE } from '../../unpacked/lib/protocol.js';
import { toBase64 } from '../../unpacked/lib/grant.js';

test('encode: envelope, known types only, size limit', () => {
  assert.deepEqual(JSON.parse(encode('hello', { token: 't', nonce: 'n' }, 1)), { v: 1, id: 1, type: 'hello', token: 't', nonce: 'n' });
  assert.throws(() => encode('grant', {}, 2), /unknown/);
  assert.throws(() => encode('request', { text: 'x'.repeat(MAX_MESSAGE) }, 3), /too large/);
});

test('decode accepts daemon messages and refuses the rest', () => {
  assert.ok(decode('{"v":1,"id":3,"type":"pong"}').ok);
  assert.ok(decode('{"v":1,"type":"event","event":{"kind":"lock"}}').ok);
  assert.ok(decode('{"v":1,"id":1,"type":"error","error":{"code":"bad_code","message":"x"}}').ok);
  for (const bad of ['', 'nope', '[]', '{"v":2,"type":"pong"}', '{"v":1,"type":"hello-there"}', '{"v":1,"id":-1,"type":"pong"}',
    '{"v":1,"id":1.5,"type":"pong"}', '{"v":1,"type":"error","error":"x"}', '{"v":1,"type":"event"}', 'x'.repeat(MAX_MESSAGE + 1)]) {
    assert.equal(decode(bad).ok, false, bad.slice(0, 40));
  }
  assert.equal(decode(42).ok, false);
});

test('checkHostHello', () => {
  const key = toBase64(new Uint8Array(32).fill(7));
  const good = { v: 1, type: 'hello', port: 47321, token: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', daemon_key: key, expires: new Date(Date.now() + 60000).toISOString() };
  const r = checkHostHello(good);
  assert.equal(r.ok, true);
  assert.equal(r.port, 47321);
  assert.equal(checkHostHello(good, { expectedPort: 47321 }).ok, true);
  assert.equal(checkHostHello(good, { expectedPort: 1 }).code, 'forbidden');
  assert.equal(checkHostHello({ v: 1, type: 'error', error: { code: 'daemon_unavailable', message: 'down' } }).code, 'daemon_unavailable');
  assert.equal(checkHostHello(undefined).code, 'daemon_unavailable');
  assert.equal(checkHostHello({ ...good, port: 0 }).ok, false);
  assert.equal(checkHostHello({ ...good, port: '47321' }).ok, false);
  assert.equal(checkHostHello({ ...good, token: 'short' }).ok, false);
  assert.equal(checkHostHello({ ...good, daemon_key: toBase64(new Uint8Array(33)) }).ok, false);
  assert.equal(checkHostHello({ ...good, expires: '2000-01-01T00:00:00Z' }).code, 'expired');
  assert.equal(checkHostHello({ ...good, v: 2 }).code, 'unsupported');
});

test('wsUrl is always loopback', () => {
  assert.equal(wsUrl(47321), 'ws://127.0.0.1:47321/v1');
  assert.throws(() => wsUrl(0));
  assert.throws(() => wsUrl('80'));
});

test('nonces are fresh base64url of 16 bytes', () => {
  const a = makeNonce();
  assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(a, makeNonce());
});

test('backoff grows and is capped', () => {
  assert.equal(backoff(0), 1000);
  assert.equal(backoff(1), 2000);
  assert.equal(backoff(10), 30000);
  assert.equal(backoff(100), 30000);
});

// Sample messages shared with the daemon's tests (shared/protocol/examples.json).
import { readFileSync } from 'node:fs';
const ex = JSON.parse(readFileSync(new URL('../../../shared/protocol/examples.json', import.meta.url), 'utf8')).examples;

test('shared examples: the extension reads every valid daemon message', () => {
  for (const e of ex.filter((x) => x.direction === 'from_daemon' && x.valid)) {
    assert.ok(decode(JSON.stringify(e.message)).ok, e.name);
  }
});

test('shared examples: the extension can build every valid message it sends', () => {
  for (const e of ex.filter((x) => x.direction === 'to_daemon' && x.valid)) {
    const { v, id, type, ...fields } = e.message;
    assert.deepEqual(JSON.parse(encode(type, fields, id)), e.message, e.name);
  }
});

test('shared examples: native host answers', () => {
  for (const e of ex.filter((x) => x.direction === 'from_host' && x.valid)) {
    const r = checkHostHello(e.message, { now: 0 });
    if (e.message.type === 'hello') assert.equal(r.ok, true, `${e.name}: ${r.message}`);
    else assert.equal(r.ok, false, e.name);
  }
});
