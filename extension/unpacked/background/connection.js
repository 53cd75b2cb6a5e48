// The channel to the daemon.
//
// 1. Ask the native-messaging host (org.foureyes.host) for a one-time token, the WebSocket port
//    and the daemon's public key. The browser starts the host only for this extension's ID.
// 2. Open ws://127.0.0.1:PORT/v1, send hello with the token and a fresh nonce.
// 3. Ping every 20 s (this also keeps Chromium's service worker alive while connected; Firefox's
//    event page is kept awake by the native host's port, nativeport.js); reconnect with
//    back-off when the socket drops.
//
// What the rest of the worker needs after a restart (daemon key, nonce of the live connection,
// status) is kept in chrome.storage.session. A restarted worker has no socket, so it always
// connects afresh with a new nonce.

import { NATIVE_HOST, PING_INTERVAL_MS, encode, decode, checkHostHello, wsUrl, makeNonce, backoff } from '../lib/protocol.js';
import * as store from './store.js';
import { managed } from './table.js';
import { isFirefox } from './sitedata.js';
import * as nativeport from './nativeport.js';

const CALL_TIMEOUT_MS = 10000;
const HELLO_TIMEOUT_MS = 5000;

/** @type {WebSocket|null} */
let ws = null;
let nextId = 1;
/** @type {Map<number, {resolve: Function, reject: Function, timer: any}>} */
const pending = new Map();
let connecting = null; // Promise while a connection attempt runs
let failures = 0;
let retryTimer = null;
let pingTimer = null;
const eventListeners = new Set();
const stateListeners = new Set();

/** onEvent registers fn for the daemon's unsolicited events. */
export function onEvent(fn) { eventListeners.add(fn); }
/** onState registers fn for connection state changes. */
export function onState(fn) { stateListeners.add(fn); }

/** DaemonError is a refusal with a stable code. */
export class DaemonError extends Error {
  constructor(code, message, until) {
    super(message || code);
    this.code = code;
    if (until) this.until = until;
  }
  toJSON() { return { code: this.code, message: this.message, ...(this.until ? { until: this.until } : {}) }; }
}

async function setState(s) {
  const prev = await store.get('conn', {});
  const next = { ...prev, ...s, changed: Date.now() };
  await store.set('conn', next);
  for (const fn of stateListeners) { try { fn(next); } catch (e) { console.error(e); } }
}

/** state returns the stored connection state. */
export function state() {
  return store.get('conn', { state: 'down', code: 'daemon_unavailable' });
}

/** isUp reports whether the socket is open and greeted. */
export function isUp() {
  return ws !== null && ws.readyState === WebSocket.OPEN && helloDone;
}
let helloDone = false;

function nativeHello() {
  const origin = new URL(chrome.runtime.getURL('')).origin;
  // Firefox: over a port held while connected, which keeps its event page awake (nativeport.js).
  if (isFirefox()) return nativeport.hello({ v: 1, type: 'hello', origin }, CALL_TIMEOUT_MS);
  return new Promise((resolve) => {
    try {
      chrome.runtime.sendNativeMessage(NATIVE_HOST, { v: 1, type: 'hello', origin }, (reply) => {
        const err = chrome.runtime.lastError;
        if (err) resolve({ v: 1, type: 'error', error: { code: 'daemon_unavailable', message: err.message } });
        else resolve(reply);
      });
    } catch (e) {
      resolve({ v: 1, type: 'error', error: { code: 'daemon_unavailable', message: String(e && e.message || e) } });
    }
  });
}

function rejectAll(err) {
  for (const [, p] of pending) { clearTimeout(p.timer); p.reject(err); }
  pending.clear();
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  const delay = backoff(failures);
  failures++;
  retryTimer = setTimeout(() => { connect().catch(() => {}); }, delay);
}

function send(type, fields) {
  const id = nextId++;
  const text = encode(type, fields, id);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new DaemonError('timeout', 'the daemon did not answer in time'));
    }, type === 'hello' ? HELLO_TIMEOUT_MS : CALL_TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    ws.send(text);
  });
}

function onMessage(ev) {
  const r = decode(typeof ev.data === 'string' ? ev.data : '');
  if (!r.ok) { console.warn('foureyes: dropped message from daemon:', r.reason); return; }
  const msg = r.msg;
  if (msg.type === 'event') {
    for (const fn of eventListeners) { try { fn(msg.event); } catch (e) { console.error(e); } }
    return;
  }
  if (msg.id === undefined) return;
  const p = pending.get(msg.id);
  if (!p) return;
  pending.delete(msg.id);
  clearTimeout(p.timer);
  if (msg.type === 'error') p.reject(new DaemonError(msg.error.code, msg.error.message, msg.error.until));
  else p.resolve(msg);
}

async function attempt() {
  await setState({ state: 'connecting' });
  const m = await managed();
  const expectedPort = Number.isInteger(m.daemon_port) ? m.daemon_port : undefined;
  const hh = checkHostHello(await nativeHello(), { expectedPort });
  if (!hh.ok) throw new DaemonError(hh.code, hh.message);

  const nonce = makeNonce();
  const sock = new WebSocket(wsUrl(hh.port));
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => { try { sock.close(); } catch {} reject(new DaemonError('daemon_unavailable', 'no WebSocket connection')); }, HELLO_TIMEOUT_MS);
    sock.onopen = () => { clearTimeout(t); resolve(); };
    sock.onerror = () => { clearTimeout(t); reject(new DaemonError('daemon_unavailable', 'WebSocket refused')); };
  });
  ws = sock;
  helloDone = false;
  ws.onmessage = onMessage;
  ws.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    helloDone = false;
    nativeport.release();
    clearInterval(pingTimer);
    rejectAll(new DaemonError('daemon_unavailable', 'connection to the daemon closed'));
    setState({ state: 'down', code: 'daemon_unavailable', message: 'connection closed', nonce: null }).catch(() => {});
    scheduleRetry();
  };
  let reply;
  try {
    reply = await send('hello', { token: hh.token, nonce });
  } catch (e) {
    try { sock.close(); } catch {}
    throw e;
  }
  if (reply.type !== 'hello') { try { sock.close(); } catch {} throw new DaemonError('unsupported', 'daemon did not greet'); }
  helloDone = true;
  failures = 0;
  const policy = reply.policy && typeof reply.policy === 'object' ? reply.policy : {};
  const inst = Array.isArray(policy.mastodon_instances) ? policy.mastodon_instances : [];
  await store.set('daemon_instances', inst.filter((x) => typeof x === 'string'));
  await setState({ state: 'up', code: null, message: null, port: hh.port, daemonKey: hh.daemonKey, nonce, version: reply.version || null, since: Date.now() });
  clearInterval(pingTimer);
  pingTimer = setInterval(() => { if (isUp()) send('ping', {}).catch(() => {}); }, PING_INTERVAL_MS);
}

/**
 * connect makes sure a connection is up or being made. Resolves when up; rejects with a
 * DaemonError when this attempt fails (a retry is then scheduled).
 */
export function connect() {
  if (isUp()) return Promise.resolve();
  if (!connecting) {
    clearTimeout(retryTimer);
    connecting = attempt().catch(async (e) => {
      const err = e instanceof DaemonError ? e : new DaemonError('daemon_unavailable', String(e && e.message || e));
      await setState({ state: 'down', code: err.code, message: err.message, nonce: null });
      if (!ws) { nativeport.release(); scheduleRetry(); }
      throw err;
    }).finally(() => { connecting = null; });
  }
  return connecting;
}

/**
 * call sends one request to the daemon and resolves with its reply; a daemon error rejects with
 * a DaemonError carrying the stable code.
 * @param {string} type
 * @param {object} fields
 */
export async function call(type, fields = {}) {
  await connect();
  if (!isUp()) throw new DaemonError('daemon_unavailable', 'not connected');
  return send(type, fields);
}

/** reconnectNow drops the back-off and tries at once. */
export function reconnectNow() {
  failures = 0;
  return connect();
}
