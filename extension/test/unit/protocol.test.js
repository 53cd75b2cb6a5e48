import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode, decode, checkHostHello, wsUrl, makeNonce, backoff, helloFields, MAX_MESSAGE, OUTGOING, INCOMING } from '../../unpacked/lib/protocol.js';
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

// The same schema the daemon's tests use (shared/protocol/messages.schema.json), through ajv.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const schema = JSON.parse(readFileSync(new URL('../../../shared/protocol/messages.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
ajv.addSchema(schema, 'messages');
const fits = (direction, msg) => ajv.getSchema(`messages#/$defs/${direction}`)(msg);

test('shared examples: ajv agrees with every example\'s verdict', () => {
  assert.ok(ex.length > 20);
  for (const e of ex) assert.equal(fits(e.direction, e.message), e.valid, `${e.direction}/${e.name}`);
});

test('every message the extension builds fits the schema', () => {
  const digest = 'ab'.repeat(32);
  const built = [
    encode('hello', helloFields('t', makeNonce()), 1),
    encode('ping', {}, 2),
    encode('request', { account: 'x:@m', action: 'post', text: 'Hallo', digest }, 3),
    encode('approve', { request_id: 'r', approver: 'anna', code: '123456' }, 4),
    encode('open', { session_id: 's', account: 'x:@m', action: 'repost', digest, manifest_digest: digest }, 5),
    encode('published', { session_id: 's', digest, manifest_digest: digest }, 6),
    encode('blocked', { host: 'x.com', reason: 'no session' }, 7),
  ];
  for (const m of built) assert.ok(fits('to_daemon', JSON.parse(m)), m);
});

// decode checks the envelope of what the daemon sends (version, type, id, error and event
// bodies); fields are checked where they are used. It must never accept what the schema
// refuses at the envelope, nor refuse what the schema accepts.
test('decode and the schema agree on the envelope of daemon messages', () => {
  for (const e of ex.filter((x) => x.direction === 'from_daemon' && x.valid)) {
    assert.ok(decode(JSON.stringify(e.message)).ok, e.name);
  }
  const bad = [
    { v: 2, id: 1, type: 'pong' },
    { v: 1, id: 1, type: 'teleport' },
    { v: 1, id: -1, type: 'pong' },
    { v: 1, id: 1.5, type: 'pong' },
    { v: 1, id: 1, type: 'error', error: 'x' },
    { v: 1, id: 1, type: 'error', error: { message: 'no code' } },
    { v: 1, type: 'event' },
    [],
  ];
  for (const m of bad) {
    assert.equal(fits('from_daemon', m), false, `schema accepts ${JSON.stringify(m)}`);
    assert.equal(decode(JSON.stringify(m)).ok, false, `decode accepts ${JSON.stringify(m)}`);
  }
});

test('the message types of protocol.js are exactly the schema\'s', () => {
  const types = (dir) => schema.$defs[dir].oneOf.map((r) => schema.$defs[r.$ref.split('/').pop()].properties.type.const).sort();
  assert.deepEqual([...OUTGOING].sort(), types('to_daemon'));
  assert.deepEqual([...INCOMING].sort(), types('from_daemon'));
});
