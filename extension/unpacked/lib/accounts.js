// Which account a platform's page is signed in to, the pure part: the platform table's
// `signed_in` says where the page shows it (an element's text and a pattern, or a JSON script
// and a path); this turns what was read into an account id and says whether that account is
// one in custody. No browser APIs.

import { normalizeHost } from './platforms.js';

/**
 * readSignedIn runs IN THE PAGE (chrome.scripting, isolated world) and returns the raw handle
 * the page shows, or null. It must be self-contained: it is serialised into the tab.
 * @param {any} spec the platform's `signed_in`
 */
export function readSignedIn(spec) {
  try {
    if (spec.session_storage) {
      // The handle of the current account of a session kept in localStorage (Bluesky); the
      // caller passes login.session_storage as spec.storage.
      const st = spec.storage;
      const raw = st && localStorage.getItem(st.key);
      if (!raw) return null;
      const data = JSON.parse(raw);
      const at = (o, path) => path.split('.').reduce((v, k) => (v && typeof v === 'object' && Object.hasOwn(v, k) ? v[k] : undefined), o);
      const id = at(data, st.current);
      const list = at(data, st.accounts);
      const acc = typeof id === 'string' && Array.isArray(list) ? list.find((a) => a && a[st.id] === id) : null;
      const h = acc && acc[st.handle];
      return typeof h === 'string' && h ? h : null;
    }
    if (spec.selector) {
      const el = document.querySelector(spec.selector);
      const m = el && new RegExp(spec.pattern).exec(el.textContent || '');
      return m && m[1] ? m[1] : null;
    }
    const s = document.querySelector(spec.json_script);
    if (!s) return null;
    const data = JSON.parse(s.textContent || 'null');
    const at = (path) => path.split('.').reduce((o, k) => (o && typeof o === 'object' && Object.hasOwn(o, k) ? o[k] : undefined), data);
    // "{a.b}" in the path is the value found at a.b (Mastodon: accounts.{meta.me}.acct).
    const path = spec.json_path.replace(/\{([^}]+)\}/g, (_, p) => String(at(p)));
    const v = at(path);
    return typeof v === 'string' && v ? v : null;
  } catch {
    return null;
  }
}

/**
 * accountId turns a handle the page shows into the account id the daemon uses
 * ("ministry" on X -> "x:@ministry"; Mastodon's "press" on social.example ->
 * "mastodon:@press@social.example", "someone@elsewhere" stays on its own instance).
 * null for anything that is not a plain handle.
 * @param {any} p platform entry
 * @param {string} host the page's host
 * @param {string|null} handle
 */
export function accountId(p, host, handle) {
  if (typeof handle !== 'string') return null;
  let h = handle.trim().replace(/^@/, '');
  if (!h || h.length > 255 || /[\s:/]/.test(h)) return null;
  if (p.instances_from_policy) {
    const parts = h.split('@');
    if (parts.length > 2 || !parts[0]) return null;
    if (parts.length === 1) h = `${h}@${normalizeHost(host)}`;
  } else if (h.includes('@')) {
    return null;
  }
  return `${p.id}:@${h.toLowerCase()}`;
}

/**
 * classify says who is signed in on the page, against the daemon's accounts in custody:
 *   {kind: 'unknown'}                          nothing readable: treated as the official account
 *   {kind: 'official', account, custody}       an account in custody
 *   {kind: 'private', account, handle}         someone's own account on the platform
 * @param {any} p platform entry
 * @param {string} host
 * @param {string|null} handle what readSignedIn found
 * @param {{id:string, custody?:string}[]} accounts the daemon's `accounts`
 */
export function classify(p, host, handle, accounts) {
  const id = accountId(p, host, handle);
  if (!id) return { kind: 'unknown' };
  const hit = (accounts || []).find((a) => typeof a.id === 'string' && a.id.toLowerCase() === id);
  if (hit) return { kind: 'official', account: hit.id, custody: hit.custody === 'gated' ? 'gated' : 'strict' };
  return { kind: 'private', account: id, handle: `@${id.slice(id.indexOf('@') + 1)}` };
}

/**
 * sameAccount compares account ids as the platforms do (handles are case-insensitive).
 */
export function sameAccount(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}
