// Custody of the sign-in (shared/protocol/PROTOCOL.md §2.5), the pure part: where an account
// signs in, which page may receive its credentials, and what signing out sends and clears.
// Everything comes from the platform table's `login` and `logout`. No browser APIs.

import { normalizeHost, apiHostOf } from './platforms.js';

/** FIELDS are the values a sign-in step may ask for, in the order the daemon gives them. */
export const FIELDS = ['username', 'password', 'totp'];

/**
 * accountPlatform returns the platform id of an account id ("x:@ministry" -> "x").
 * @param {string} account
 */
export function accountPlatform(account) {
  const i = typeof account === 'string' ? account.indexOf(':') : -1;
  return i > 0 ? account.slice(0, i) : null;
}

/**
 * signInHost is the one host where the account's credentials may go: the host of the table's
 * sign-in URL, or for an instance platform (Mastodon) the instance in the account id
 * ("mastodon:@press@social.example" -> "social.example"). null when there is none.
 * @param {any} p platform entry
 * @param {string} account
 */
export function signInHost(p, account) {
  if (!p || !p.login) return null;
  if (p.login.url) return normalizeHost(new URL(p.login.url).host);
  if (!p.instances_from_policy) return null;
  const at = account.lastIndexOf('@');
  if (at < 0 || at === account.indexOf(':') + 1) return null;
  return normalizeHost(account.slice(at + 1));
}

/** loginUrl is the sign-in page on host. */
export function loginUrl(p, host) {
  return p.login.url || `https://${host}${p.login.path}`;
}

/**
 * isLoginPage says whether url is the platform's sign-in page on host (https, that exact host,
 * the sign-in path). Only such a page's top frame may receive credentials.
 */
export function isLoginPage(p, host, url) {
  if (!p || !p.login || !host) return false;
  let u;
  try { u = new URL(url); } catch { return false; }
  if (u.protocol !== 'https:' || normalizeHost(u.host) !== host || u.port) return false;
  const path = p.login.url ? new URL(p.login.url).pathname : p.login.path;
  return u.pathname === path || u.pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
}

/** clearOrigins lists the origins whose site data signing out removes. */
export function clearOrigins(p, host) {
  return [...new Set((p.logout.origins || []).map((o) => o.replace('{instance}', host)))];
}

/** logoutUrl is the platform's own sign-out request's URL. */
export function logoutUrl(p, host) {
  const r = p.logout.request;
  return r.url || `https://${host}${r.path}`;
}

/**
 * csrfFromHtml finds the content of <meta name=NAME content=...> in a page, or null.
 * @param {string} html
 * @param {string} name
 */
export function csrfFromHtml(html, name) {
  const metas = String(html).match(/<meta\b[^>]*>/gi) || [];
  for (const m of metas) {
    const attr = (a) => { const r = new RegExp(`\\b${a}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(m); return r ? (r[2] ?? r[3]) : null; };
    if (attr('name') === name) {
      const v = attr('content');
      if (v) return v.replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d))).replace(/&quot;/g, '"').replace(/&amp;/g, '&');
    }
  }
  return null;
}

/**
 * logoutInit builds the sign-out request's fetch options from the table, with the anti-forgery
 * token found (a cookie's value, or a page's meta).
 * @param {any} p
 * @param {string|null} token
 */
export function logoutInit(p, token) {
  const r = p.logout.request;
  const headers = {};
  let body;
  if (r.csrf && r.csrf.header && token) headers[r.csrf.header] = token;
  if (r.form || (r.csrf && r.csrf.field)) {
    const f = new URLSearchParams(r.form || {});
    if (r.csrf && r.csrf.field && token) f.set(r.csrf.field, token);
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = f.toString();
  }
  return { method: r.method, headers, body, credentials: 'include', redirect: 'manual', cache: 'no-store' };
}

/**
 * cookieOnHost says whether a cookie of domain (as chrome.cookies reports it, maybe with a
 * leading dot) is sent to host.
 */
export function cookieOnHost(domain, host) {
  const d = String(domain).replace(/^\./, '').toLowerCase();
  return host === d || host.endsWith(`.${d}`);
}

/**
 * readStoredSession runs IN THE PAGE (chrome.scripting, isolated world, which shares the page's
 * localStorage) and returns the current account of a session kept in localStorage, as the
 * table's login.session_storage describes it: {id, handle, refresh, service} (each a string or
 * null), or null when none is stored. Self-contained: it is serialised into the tab.
 * @param {any} spec login.session_storage
 */
export function readStoredSession(spec) {
  try {
    const raw = localStorage.getItem(spec.key);
    if (!raw) return null;
    const data = JSON.parse(raw);
    const at = (o, path) => path.split('.').reduce((v, k) => (v && typeof v === 'object' && Object.hasOwn(v, k) ? v[k] : undefined), o);
    const id = at(data, spec.current);
    if (typeof id !== 'string' || !id) return null;
    const list = at(data, spec.accounts);
    const acc = Array.isArray(list) ? list.find((a) => a && a[spec.id] === id) : null;
    if (!acc) return null;
    const str = (v) => (typeof v === 'string' && v ? v : null);
    const service = spec.service.map((k) => str(acc[k])).find(Boolean) || null;
    return { id, handle: str(acc[spec.handle]), refresh: str(acc[spec.refresh]), service };
  } catch {
    return null;
  }
}

/** storedSignedIn says whether a stored session (readStoredSession) means signed in. */
export function storedSignedIn(s) {
  return !!(s && s.refresh);
}

/**
 * bearerLogoutUrl is where a stored session's sign-out goes (the table's logout path on the
 * session's own API host), or null when that host is not one of the platform's api_hosts over
 * https: then the token must not go there.
 * @param {any} p
 * @param {{service: string|null}|null} s
 */
export function bearerLogoutUrl(p, s) {
  if (!s || typeof s.service !== 'string') return null;
  let u;
  try { u = new URL(s.service); } catch { return null; }
  if (u.protocol !== 'https:' || u.username || u.password || (u.port && u.port !== '443')) return null;
  const host = normalizeHost(u.hostname);
  if (!host || !apiHostOf(p, host)) return null;
  return `https://${host}${p.logout.request.path}`;
}

/** bearerLogoutInit builds the fetch options of a sign-out that carries a token as bearer. */
export function bearerLogoutInit(p, token) {
  return { method: p.logout.request.method, headers: { authorization: `Bearer ${token}` }, credentials: 'omit', redirect: 'error', cache: 'no-store', referrerPolicy: 'no-referrer' };
}
