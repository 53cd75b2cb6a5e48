// background/nativeport.js: the native hello over a held port (Firefox), against a stand-in for
// runtime.connectNative that answers as the native host does (PROTOCOL.md §1: the id echoed).
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ports = [];
function fakePort({ answer }) {
  const on = { msg: [], disc: [] };
  const p = {
    sent: [], disconnected: false, error: null,
    onMessage: { addListener: (f) => on.msg.push(f) },
    onDisconnect: { addListener: (f) => on.disc.push(f) },
    postMessage(m) { p.sent.push(m); if (answer) queueMicrotask(() => { const r = answer(m); if (r) on.msg.forEach((f) => f(r)); }); },
    disconnect() { p.disconnected = true; },
    hostCloses(message) { p.error = { message }; on.disc.forEach((f) => f(p)); },
  };
  return p;
}
let answer = null;
globalThis.chrome = { runtime: { connectNative(name) { assert.equal(name, 'org.foureyes.host'); const p = fakePort({ answer }); ports.push(p); return p; }, lastError: null } };
const nativeport = await import('../../unpacked/background/nativeport.js');

const HELLO = { v: 1, type: 'hello', origin: 'moz-extension://0b6e0d5c-7d1f-4a7e-9d43-6c7e2f0c1a11' };

test('one port carries every hello while held; each answer goes to its own hello by id', async () => {
  answer = (m) => ({ v: 1, type: 'hello', id: m.id, port: 47321, token: `t${m.id}` });
  const [a, b] = await Promise.all([nativeport.hello(HELLO, 1000), nativeport.hello(HELLO, 1000)]);
  assert.equal(ports.length, 1, 'a second port was opened');
  assert.notEqual(a.id, b.id);
  assert.deepEqual([a.token, b.token], [`t${a.id}`, `t${b.id}`]);
  assert.deepEqual(ports[0].sent.map((m) => m.origin), [HELLO.origin, HELLO.origin]);
  assert.equal(ports[0].disconnected, false, 'the port was closed while held');
});

test('release closes the port; the next hello opens a new one', async () => {
  nativeport.release();
  assert.equal(ports[0].disconnected, true);
  const r = await nativeport.hello(HELLO, 1000);
  assert.equal(r.type, 'hello');
  assert.equal(ports.length, 2);
});

test('the host closing the port answers a waiting hello with daemon_unavailable and its reason', async () => {
  answer = null;
  const waiting = nativeport.hello(HELLO, 5000);
  ports.at(-1).hostCloses('No such native application org.foureyes.host');
  const r = await waiting;
  assert.deepEqual(r.error, { code: 'daemon_unavailable', message: 'No such native application org.foureyes.host' });
  await nativeport.hello(HELLO, 10).then((x) => assert.equal(x.error.code, 'daemon_unavailable'));
  assert.equal(ports.length, 3, 'a closed port was used again');
});

test('no answer in time is daemon_unavailable, and a late answer is ignored', async () => {
  answer = null;
  const r = await nativeport.hello(HELLO, 20);
  assert.equal(r.error.code, 'daemon_unavailable');
  assert.match(r.error.message, /did not answer in time/);
});
