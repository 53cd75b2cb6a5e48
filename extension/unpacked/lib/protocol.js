// Messages between the extension and the daemon (shared/protocol/PROTOCOL.md, version 1):
// builders and validators. Pure module: no browser APIs (crypto.getRandomValues only).

import { toBase64Url, fromBase64, parseTime } from './grant.js';

export const VERSION = 1;
export const MAX_MESSAGE = 64 * 1024;
export const NATIVE_HOST = 'org.foureyes.host';
export const PING_INTERVAL_MS = 20000;

/** Message types the extension may send to the daemon. */
export const OUTGOING = ['hello', 'ping', 'status', 'approvers', 'accounts', 'request', 'approve', 'deny', 'cancel', 'open', 'published', 'blocked', 'unrecognised', 'credentials', 'signed_out', 'rotation', 'rotated', 'private_post', 'media'];
/** Message types the daemon may send. */
export const INCOMING = ['hello', 'pong', 'status', 'approvers', 'accounts', 'request', 'approval', 'grant', 'ok', 'error', 'event', 'credentials', 'rotation'];

/** makeNonce returns a fresh base64url nonce of 16 random bytes. */
export function makeNonce() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return toBase64Url(b);
}

/**
 * encode builds one outgoing message. Throws on an unknown type or an oversized message.
 * @param {string} type
 * @param {object} fields
 * @param {number} [id]
 * @returns {string}
 */
export function encode(type, fields = {}, id) {
  if (!OUTGOING.includes(type)) throw new Error(`protocol: unknown outgoing type ${type}`);
  const msg = { v: VERSION, ...(id !== undefined ? { id } : {}), type, ...fields };
  const s = JSON.stringify(msg);
  if (new TextEncoder().encode(s).length > MAX_MESSAGE) throw new Error('protocol: message too large');
  return s;
}

/** helloFields is the extension's first message on a new WebSocket. */
export function helloFields(token, nonce) {
  return { token, nonce };
}

const isObj = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);

/**
 * decode parses and checks one incoming message. Returns {ok:true,msg} or {ok:false,reason}.
 * @param {unknown} raw
 */
export function decode(raw) {
  if (typeof raw !== 'string') return { ok: false, reason: 'not text' };
  if (raw.length > MAX_MESSAGE) return { ok: false, reason: 'too large' };
  let msg;
  try { msg = JSON.parse(raw); } catch { return { ok: false, reason: 'not JSON' }; }
  if (!isObj(msg)) return { ok: false, reason: 'not an object' };
  if (msg.v !== VERSION) return { ok: false, reason: `unsupported version ${msg.v}` };
  if (!INCOMING.includes(msg.type)) return { ok: false, reason: `unknown type ${msg.type}` };
  if (msg.id !== undefined && !(Number.isSafeInteger(msg.id) && msg.id >= 0)) return { ok: false, reason: 'bad id' };
  if (msg.type === 'error') {
    if (!isObj(msg.error) || typeof msg.error.code !== 'string') return { ok: false, reason: 'error without code' };
  }
  if (msg.type === 'event' && !isObj(msg.event)) return { ok: false, reason: 'event without body' };
  return { ok: true, msg };
}

/**
 * checkHostHello validates the native host's answer to hello. Returns
 * {ok:true, port, token, daemonKey, expires} or {ok:false, code, message}.
 * @param {any} m
 * @param {{expectedPort?: number, now?: number}} [opts]
 */
export function checkHostHello(m, opts = {}) {
  if (!isObj(m)) return { ok: false, code: 'daemon_unavailable', message: 'no answer from the native host' };
  if (m.type === 'error') {
    const e = isObj(m.error) ? m.error : {};
    return { ok: false, code: typeof e.code === 'string' ? e.code : 'daemon_unavailable', message: typeof e.message === 'string' ? e.message : '' };
  }
  if (m.v !== VERSION || m.type !== 'hello') return { ok: false, code: 'unsupported', message: 'native host speaks another protocol version' };
  if (!Number.isInteger(m.port) || m.port < 1 || m.port > 65535) return { ok: false, code: 'bad_request', message: 'native host gave no valid port' };
  if (opts.expectedPort && m.port !== opts.expectedPort) return { ok: false, code: 'forbidden', message: `native host named port ${m.port}, policy expects ${opts.expectedPort}` };
  if (typeof m.token !== 'string' || !/^[A-Za-z0-9_-]{16,}={0,2}$/.test(m.token)) return { ok: false, code: 'bad_request', message: 'native host gave no valid token' };
  let key;
  try { key = fromBase64(String(m.daemon_key || '')); } catch { key = null; }
  if (!key || key.length !== 32) return { ok: false, code: 'bad_request', message: 'native host gave no valid daemon key' };
  let expires;
  if (m.expires !== undefined) {
    expires = parseTime(m.expires);
    if (Number.isNaN(expires)) return { ok: false, code: 'bad_request', message: 'native host gave a bad expiry' };
    if (expires <= (opts.now ?? Date.now())) return { ok: false, code: 'expired', message: 'native host token already expired' };
  }
  return { ok: true, port: m.port, token: m.token, daemonKey: m.daemon_key, expires };
}

/**
 * wsUrl is the daemon's WebSocket address: loopback only, whatever anyone says.
 */
export function wsUrl(port) {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('bad port');
  return `ws://127.0.0.1:${port}/v1`;
}

/** backoff returns the reconnect delay in ms for the n-th consecutive failure (0-based). */
export function backoff(n, { base = 1000, max = 30000 } = {}) {
  return Math.min(max, base * 2 ** Math.min(n, 16));
}
