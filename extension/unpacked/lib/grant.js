// Signed grants: the daemon's permission to open the gate for one publish.
//
// A grant is {session_id, account, action, digest, manifest_digest, expires, nonce, sig}
// (expires in Unix seconds, an integer; an RFC 3339 string is accepted too); sig is the daemon's
// Ed25519 signature (base64) over the UTF-8 bytes of
//
//   foureyes-grant-v2\n<session_id>\n<account>\n<action>\n<digest>\n<manifest_digest>\n<expires as unix seconds>\n<nonce>
//
// The extension opens its gate only for a grant that verifies against the daemon key learnt from
// the native-messaging host, carries the extension's own connection nonce, the digest of the
// text about to be sent and the manifest digest of the whole post about to be sent (text,
// attachments, answered post), and has not expired. A v1 grant (no manifest line) is refused:
// it does not say which attachments were approved. Pure module: WebCrypto only.

import { validDigest } from './digest.js';

export const GRANT_PREFIX = 'foureyes-grant-v2';
export const ACTIONS = ['post', 'reply', 'quote', 'repost'];

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * parseTime parses an RFC 3339 time to milliseconds since the epoch; NaN if malformed.
 * (Date.parse accepts too much and too little: nanosecond fractions, odd formats.)
 * @param {string} s
 */
export function parseTime(s) {
  const m = typeof s === 'string' ? RFC3339.exec(s) : null;
  if (!m) return NaN;
  const [, y, mo, d, h, mi, se, frac, z, sign, oh, om] = m;
  let ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +se);
  if (frac) ms += Math.floor(Number('0' + frac) * 1000);
  if (z.toUpperCase() !== 'Z') ms -= (sign === '-' ? -1 : 1) * (+oh * 60 + +om) * 60000;
  return ms;
}

/**
 * expiryMs reads an expiry given as Unix seconds (integer) or as an RFC 3339 string; NaN if it
 * is neither.
 */
export function expiryMs(x) {
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 0 ? x * 1000 : NaN;
  return parseTime(x);
}

/** unixSeconds is the whole seconds of an expiry (floor), as the daemon signs it. */
export function unixSeconds(x) {
  const ms = expiryMs(x);
  if (Number.isNaN(ms)) throw new Error(`grant: bad expires ${JSON.stringify(x)}`);
  return Math.floor(ms / 1000);
}

const SAFE = /^[\x21-\x7e]+$/; // printable ASCII without space: no field may smuggle a newline
const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * checkGrantShape returns null when g has the fields of a grant, else what is wrong.
 */
export function checkGrantShape(g) {
  if (!g || typeof g !== 'object') return 'not an object';
  for (const f of ['session_id', 'account', 'action', 'digest', 'manifest_digest', 'nonce', 'sig']) {
    if (typeof g[f] !== 'string' || g[f] === '') return `missing ${f}`;
  }
  if (!SAFE.test(g.session_id)) return 'bad session_id';
  if (!/^[^\n\r]+$/.test(g.account)) return 'bad account';
  if (!ACTIONS.includes(g.action)) return 'bad action';
  if (!validDigest(g.digest)) return 'bad digest';
  if (!validDigest(g.manifest_digest)) return 'bad manifest_digest';
  if (Number.isNaN(expiryMs(g.expires))) return 'bad expires';
  if (!B64URL.test(g.nonce)) return 'bad nonce';
  if (!B64.test(g.sig)) return 'bad sig';
  return null;
}

/**
 * grantString is the exact text the daemon signs.
 * @returns {string}
 */
export function grantString(g) {
  const bad = checkGrantShape({ sig: 'AA==', ...g });
  if (bad) throw new Error(`grant: ${bad}`);
  return [GRANT_PREFIX, g.session_id, g.account, g.action, g.digest, g.manifest_digest, String(unixSeconds(g.expires)), g.nonce].join('\n');
}

/** fromBase64 decodes standard or URL-safe base64, padded or not. */
export function fromBase64(s) {
  const std = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** toBase64 encodes bytes as standard padded base64. */
export function toBase64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** toBase64Url encodes bytes as unpadded base64url. */
export function toBase64Url(bytes) {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * importDaemonKey imports the daemon's raw 32-byte Ed25519 public key (base64).
 * @param {string} b64
 * @returns {Promise<CryptoKey>}
 */
export async function importDaemonKey(b64) {
  const raw = fromBase64(b64);
  if (raw.length !== 32) throw new Error('daemon key: want 32 bytes of Ed25519 public key');
  return crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
}

/**
 * verifyGrant checks a grant. Returns {ok:true} or {ok:false, reason} where reason is one of
 * malformed, bad_signature, wrong_nonce, digest_mismatch, manifest_mismatch, expired, wrong_session.
 * want.manifestDigest is required: a grant opens the gate only for the whole post it names.
 * @param {any} g the grant
 * @param {{key: CryptoKey, nonce: string, digest: string, manifestDigest: string, now?: number, sessionId?: string, account?: string, action?: string}} want
 */
export async function verifyGrant(g, want) {
  const bad = checkGrantShape(g);
  if (bad) return { ok: false, reason: 'malformed', detail: bad };
  let sigOk = false;
  try {
    const sig = fromBase64(g.sig);
    sigOk = sig.length === 64 && await crypto.subtle.verify({ name: 'Ed25519' }, want.key, sig, new TextEncoder().encode(grantString(g)));
  } catch {
    sigOk = false;
  }
  if (!sigOk) return { ok: false, reason: 'bad_signature' };
  if (g.nonce !== want.nonce) return { ok: false, reason: 'wrong_nonce' };
  if (want.sessionId && g.session_id !== want.sessionId) return { ok: false, reason: 'wrong_session' };
  if ((want.account && g.account !== want.account) || (want.action && g.action !== want.action)) return { ok: false, reason: 'wrong_session' };
  if (g.digest !== want.digest) return { ok: false, reason: 'digest_mismatch' };
  if (!want.manifestDigest || g.manifest_digest !== want.manifestDigest) return { ok: false, reason: 'manifest_mismatch' };
  const now = want.now ?? Date.now();
  if (expiryMs(g.expires) <= now) return { ok: false, reason: 'expired' };
  return { ok: true };
}
