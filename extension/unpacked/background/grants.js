// Grant verification in the worker: the daemon key and the nonce come from the live connection
// (stored in chrome.storage.session by connection.js), never from the message carrying the grant.

import { importDaemonKey, verifyGrant } from '../lib/grant.js';
import { state } from './connection.js';

let cached = { b64: null, key: null };

async function daemonKey(b64) {
  if (cached.b64 !== b64) cached = { b64, key: await importDaemonKey(b64) };
  return cached.key;
}

/**
 * check verifies grant g for the session about to be opened and the whole post about to go
 * out: its text digest and its manifest digest.
 * @returns {Promise<{ok: boolean, reason?: string}>}
 */
export async function check(g, { sessionId, digest, manifestDigest, account, action }) {
  const conn = await state();
  if (conn.state !== 'up' || !conn.daemonKey || !conn.nonce) return { ok: false, reason: 'not_connected' };
  let key;
  try { key = await daemonKey(conn.daemonKey); } catch { return { ok: false, reason: 'bad_key' }; }
  return verifyGrant(g, { key, nonce: conn.nonce, digest, manifestDigest, sessionId, account, action });
}
