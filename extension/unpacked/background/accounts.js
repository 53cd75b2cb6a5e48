// Which account a tab is signed in to, and what follows from it (policy keys `custody` and
// `private_accounts`):
//   - gated custody: the browser stays signed in as a person left it; custody.js neither signs
//     in nor out for such an account;
//   - one_time custody: strict, and rotation.js changes the password before each sign-out;
//   - an approved session's one publish goes out only from a tab signed in to the session's
//     account (or one that does not show which: treated as the official one, fail closed);
//   - a tab signed in to a private account (not in custody) asks the daemon `private_post`: on
//     `ok` one publish from that tab goes through (no session, no grant), else nothing.

import { readSignedIn, classify, sameAccount } from '../lib/accounts.js';
import * as conn from './connection.js';

const TTL_MS = 30000; // how long the daemon's account list is reused

let cached = { at: 0, list: null };

/** list returns the daemon's accounts in custody ({id, platform, handle, custody}), or null. */
export async function list() {
  if (cached.list && Date.now() - cached.at < TTL_MS) return cached.list;
  // Not connected: no waiting here (the caller's own call says why); unknown means strict and official.
  if (!conn.isUp()) return null;
  try {
    const r = await conn.call('accounts');
    cached = { at: Date.now(), list: Array.isArray(r.accounts) ? r.accounts : [] };
    return cached.list;
  } catch {
    return null;
  }
}

/**
 * isGated says whether the account's custody is `gated`. Anything unknown (daemon not
 * reachable, account not listed) is strict: signing out is the safe side.
 */
export async function isGated(account) {
  const l = await list();
  return !!(l && l.some((a) => sameAccount(a.id, account) && a.custody === 'gated'));
}

/**
 * isOneTime says whether the account's custody is `one_time`: its password changes after every
 * posting session that signed the browser in. The daemon lists it so only where the platform's
 * change runs unattended; unknown is strict.
 */
export async function isOneTime(account) {
  const l = await list();
  return !!(l && l.some((a) => sameAccount(a.id, account) && a.custody === 'one_time'));
}

/**
 * who reads the handle the tab's top frame shows (the platform table's `signed_in`) and
 * classifies it. {kind: 'unknown'} when the page does not say or cannot be read.
 */
export async function who(tabId, p, host) {
  if (!p.signed_in) return { kind: 'unknown' };
  let handle = null;
  try {
    const spec = p.signed_in.session_storage ? { ...p.signed_in, storage: p.login && p.login.session_storage } : p.signed_in;
    const [r] = await chrome.scripting.executeScript({ target: { tabId, frameIds: [0] }, func: readSignedIn, args: [spec] });
    handle = r && typeof r.result === 'string' ? r.result : null;
  } catch {
    handle = null;
  }
  if (handle === null) return { kind: 'unknown' };
  const l = await list();
  // Without the daemon's list nobody can be told apart from an official account.
  if (!l) return { kind: 'unknown' };
  return classify(p, host, handle, l);
}

/**
 * wrongAccount says whether the tab is signed in to an account other than `account` (the
 * approved session's): then the session's publish must not go out from it.
 */
export async function wrongAccount(tabId, p, host, account) {
  const w = await who(tabId, p, host);
  if (w.kind === 'unknown') return null;
  return sameAccount(w.account, account) ? null : w;
}

/**
 * privatePost asks the daemon whether the private account w may publish. {ok:true} or
 * {ok:false, code}.
 */
export async function privatePost(p, host, w) {
  try {
    await conn.call('private_post', { platform: p.id, host, handle: w.handle });
    return { ok: true };
  } catch (e) {
    return { ok: false, code: e && e.code ? e.code : 'daemon_unavailable' };
  }
}
