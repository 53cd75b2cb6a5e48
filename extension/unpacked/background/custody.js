// Custody of the sign-in (PROTOCOL.md §2.5): a posting session is a signed-in browser session.
//
// Sign-in: when a session exists for account A (from the approval flow or a `session` event) and
// the browser is not signed in to A's platform, a background tab opens the platform's sign-in
// page; content/signin.js fills it step by step. The credentials come from the daemon once per
// session (`credentials`) and live only in this worker's memory, for that sign-in: never in
// storage, a URL or the console, and they go only to the top frame of a tab on the sign-in page
// of the sign-in host, each value at most once.
// Sign-out: when the session ends (published, spent and the gate closed, expired, revoked, Lock
// now), the platform's own sign-out request first (the session dies on the server), then the
// site's cookies and storage; then `signed_out` to the daemon with the result. Under custody
// one_time the password changes first, while still signed in (rotation.js, onBeforeSignOut).
//
// "Sessions to sign out" are kept in chrome.storage.local (session id, account, host; no secret),
// so a browser closed mid-session is signed out at its next start.

import { accountPlatform, signInHost, loginUrl, isLoginPage, clearOrigins, logoutUrl, logoutInit, csrfFromHtml, cookieOnHost, FIELDS, readStoredSession, storedSignedIn, bearerLogoutUrl, bearerLogoutInit } from '../lib/custody.js';
import { normalizeHost } from '../lib/platforms.js';
import { expiryMs } from '../lib/grant.js';
import * as conn from './connection.js';
import { load } from './table.js';
import { isGated } from './accounts.js';
import { removeSiteData } from './sitedata.js';

export const ALARM = 'foureyes-custody';
const KEY = 'custody';          // chrome.storage.local: sessionId -> entry (no secret)
const REPORTS = 'custody_reports'; // chrome.storage.local: signed_out reports not yet delivered
const SIGN_IN_MS = 60000;       // how long released credentials stay in memory
const AFTER_SPENT_MS = 8000;    // a spent session's gate has closed by then (gate.ALLOW_MS + margin)

/** Released credentials, by session id: {username, password, totp, handed:Set, timer}. Memory only. */
const secrets = new Map();

const local = () => chrome.storage.local;
async function entries() { return (await local().get(KEY))[KEY] || {}; }
let chain = Promise.resolve();
/** update changes the stored entries one change at a time. */
function update(fn) {
  const run = chain.then(async () => { const next = fn({ ...(await entries()) }); await local().set({ [KEY]: next }); return next; });
  chain = run.catch(() => {});
  return run;
}

function notifyTab(tabId, code) {
  if (Number.isInteger(tabId)) chrome.tabs.sendMessage(tabId, { type: 'fe:state', state: 'notice', code }).catch(() => {});
}

function forget(sessionId) {
  const s = secrets.get(sessionId);
  if (s) { clearTimeout(s.timer); secrets.delete(sessionId); }
}

async function platformOf(id) {
  return (await load()).platforms.find((p) => p.id === id && p.status === 'supported' && p.login && p.logout) || null;
}

/** stored says whether platform p keeps its session in localStorage (Bluesky), not in a cookie. */
const stored = (p) => !!(p && p.login && p.login.session_storage);

/**
 * readSession reads the session stored in tab's top frame (login.session_storage): the current
 * account, or null; undefined when the tab cannot be read. The refresh token in it stays in
 * this worker's memory for the call that needs it, never in storage or a log.
 */
async function readSession(p, tabId) {
  try {
    const [r] = await chrome.scripting.executeScript({ target: { tabId, frameIds: [0] }, func: readStoredSession, args: [p.login.session_storage] });
    return r ? r.result : undefined;
  } catch {
    return undefined;
  }
}

/** tabOnHost says whether tab tabId shows a page of host. */
async function tabOnHost(tabId, host) {
  if (!Number.isInteger(tabId)) return false;
  const t = await chrome.tabs.get(tabId).catch(() => null);
  try { return !!t && normalizeHost(new URL(t.url || t.pendingUrl || '').host) === host; } catch { return false; }
}

async function isSignedIn(p, host, tabId = null) {
  if (stored(p)) return (await tabOnHost(tabId, host)) && storedSignedIn(await readSession(p, tabId));
  const c = await chrome.cookies.get({ url: `https://${host}/`, name: p.login.session_cookie }).catch(() => null);
  return !!c;
}

/**
 * watchStored notes a sign-in that succeeded on a platform without a session cookie: the
 * sign-in tab's localStorage holds a session. Polls while the sign-in is under way.
 */
async function watchStored(sessionId) {
  const end = Date.now() + SIGN_IN_MS;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 400));
    const e = (await entries())[sessionId];
    if (!e || e.signedIn || e.failed || e.state !== 'active' || e.signInTab === null) return;
    const p = await platformOf(e.platformId);
    if (!p || !(await tabOnHost(e.signInTab, e.host))) continue;
    if (!storedSignedIn(await readSession(p, e.signInTab))) continue;
    await update((a) => { if (a[sessionId]) a[sessionId].signedIn = true; return a; });
    forget(sessionId);
    setTimeout(() => chrome.tabs.remove(e.signInTab).catch(() => {}), 500);
    notifyTab(e.tabId, 'signed_in');
    return;
  }
}

/**
 * track records a session that may sign the browser in, before anything is released: from
 * then on its end signs the browser out. Returns the entry, or null for a platform without
 * custody data.
 */
export async function track({ sessionId, account, expires, tabId = null }) {
  await start();
  // Gated custody: the browser stays signed in as a person left it; the gates alone hold posts.
  if (await isGated(account)) return null;
  const p = await platformOf(accountPlatform(account));
  const host = p && signInHost(p, account);
  if (!p || !host) return null;
  const exp = typeof expires === 'number' && expires < 1e12 ? expires * 1000 : expiryMs(expires);
  const all = await update((all) => {
    const prev = all[sessionId] || {};
    all[sessionId] = { account, platformId: p.id, host, expires: Number.isFinite(exp) ? exp : Date.now() + 600000, state: 'active', tabId: tabId ?? prev.tabId ?? null, signInTab: prev.signInTab ?? null, asked: !!prev.asked, signedIn: !!prev.signedIn, failed: prev.failed || null, notSignedIn: !!prev.notSignedIn };
    return all;
  });
  armAlarm().catch(() => {});
  return all[sessionId];
}

/**
 * begin runs after an approval for tabId: track the session and, when the browser is not
 * signed in to the platform, open its sign-in page in a background tab.
 */
export async function begin(tabId, { sessionId, account, expires }) {
  const e = await track({ sessionId, account, expires, tabId });
  if (!e) return;
  const p = await platformOf(e.platformId);
  if (await isSignedIn(p, e.host, tabId)) { await update((all) => { if (all[sessionId]) all[sessionId].signedIn = true; return all; }); return; }
  const tab = await chrome.tabs.create({ url: loginUrl(p, e.host), active: false });
  await update((all) => { if (all[sessionId]) all[sessionId].signInTab = tab.id; return all; });
  if (stored(p)) watchStored(sessionId).catch(console.error);
}

/** live lists the entries whose session can still sign in, for host. */
function liveFor(all, host) {
  return Object.entries(all).filter(([, e]) => e.host === host && e.state === 'active' && e.expires > Date.now() && !e.signedIn && !e.failed);
}

/** onTabUpdated fills a sign-in page of a platform with a live session (tabs.onUpdated). */
export async function onTabUpdated(tabId, info, tab) {
  await start();
  if (info.status !== 'complete' || !tab) return;
  await injectIfSignIn(tabId, tab.url);
}

async function injectIfSignIn(tabId, url) {
  if (typeof url !== 'string' || !url.startsWith('https://')) return;
  const host = new URL(url).host.toLowerCase();
  const all = await entries();
  const live = liveFor(all, host);
  if (!live.length) return;
  const p = await platformOf(live[0][1].platformId);
  if (!p || !isLoginPage(p, host, url)) return;
  // A sign-in page that is the site's start page (Bluesky): only the tab opened for the sign-in.
  if (stored(p) && !live.some(([, e]) => e.signInTab === tabId)) return;
  await chrome.scripting.executeScript({ target: { tabId, frameIds: [0] }, files: ['content/signin.js'] }).catch(() => {});
}

/** sessionForPage finds the live session whose sign-in page url is, or null. */
async function sessionForPage(url) {
  let host;
  try { host = new URL(url).host.toLowerCase(); } catch { return null; }
  const live = liveFor(await entries(), host);
  if (!live.length) return null;
  // The newest session first: its credentials are the ones to use.
  live.sort((a, b) => b[1].expires - a[1].expires);
  const [sessionId, e] = live[0];
  const p = await platformOf(e.platformId);
  if (!p || !isLoginPage(p, host, url)) return null;
  return { sessionId, e, p, host };
}

/** pageFor finds the live session whose sign-in tab sender is (any tab, for a cookie platform). */
async function pageFor(sender) {
  const found = await sessionForPage(sender.url);
  if (found && stored(found.p) && (!sender.tab || sender.tab.id !== found.e.signInTab)) return null;
  return found;
}

/**
 * stopSignIn ends a sign-in the page asks something of that the extension cannot give
 * (login.stop: Bluesky's e-mailed code): the sign-in failed, the tab gets the table's notice.
 */
export async function stopSignIn(sender, notice) {
  await start();
  const found = await pageFor(sender);
  if (!found) return { ok: false };
  const hit = (found.p.login.stop || []).find((x) => x.notice === notice);
  if (!hit) return { ok: false };
  await fail(found.sessionId, found.e, hit.notice, `the page asks for something foureyes cannot fill (${hit.selector})`, true);
  return { ok: true };
}

/** hello gives content/signin.js the form's steps (selectors only) on a live session's sign-in page. */
export async function hello(sender) {
  await start();
  const found = await pageFor(sender);
  return found ? { ok: true, steps: found.p.login.steps, stop: found.p.login.stop || [] } : { ok: false };
}

/**
 * step answers content/signin.js on a sign-in page: the values for the fields it found, each
 * value at most once per session. The sender is checked by messages.js (a top frame of a real
 * tab over https); here its page must be the sign-in page of a live session's sign-in host.
 */
export async function step(sender, fields) {
  await start();
  const found = await pageFor(sender);
  if (!found) return { ok: false, code: 'approval_needed' };
  const { sessionId, e, host } = found;
  const want = (Array.isArray(fields) ? fields : []).filter((f) => FIELDS.includes(f));
  if (!want.length) return { ok: false };
  let s = secrets.get(sessionId);
  if (!s) {
    // Once per session: a worker that lost the released values (stopped meanwhile) cannot ask again.
    if (e.asked) return fail(sessionId, e, 'sign_in_failed', 'the credentials were released to an earlier worker that stopped');
    await update((a) => { if (a[sessionId]) a[sessionId].asked = true; return a; });
    let r;
    try {
      r = await conn.call('credentials', { session_id: sessionId, account: e.account, host });
    } catch (err) {
      return fail(sessionId, e, 'sign_in_failed', `the daemon refused the credentials: ${err && err.code || 'error'}`, true);
    }
    if (typeof r.username !== 'string' || typeof r.password !== 'string') return fail(sessionId, e, 'sign_in_failed', 'the daemon sent no credentials', true);
    s = { username: r.username, password: r.password, totp: typeof r.code === 'string' ? r.code : null, handed: new Set() };
    s.timer = setTimeout(() => forget(sessionId), SIGN_IN_MS);
    secrets.set(sessionId, s);
  }
  const values = {};
  for (const f of want) {
    if (s.handed.has(f) || s[f] === null) return { ok: false, code: 'sign_in_failed' };
    values[f] = s[f];
    s.handed.add(f);
  }
  // Everything there is has gone to the form: nothing left to keep.
  if (FIELDS.every((f) => s.handed.has(f) || s[f] === null)) forget(sessionId);
  return { ok: true, values };
}

/**
 * fail records a failed sign-in and tells the tab. `nothingFilled`: the sign-in certainly did not
 * happen (no credentials came, or the page stopped it), so a Post is held instead of spending
 * the session on a request the platform refuses; otherwise (a worker stopped mid-form) the
 * browser may be signed in after all.
 */
async function fail(sessionId, e, code, why, nothingFilled = false) {
  forget(sessionId);
  await update((a) => { if (a[sessionId]) { a[sessionId].failed = why; if (nothingFilled) a[sessionId].notSignedIn = true; } return a; });
  console.warn(`foureyes: sign-in to ${e.host} failed: ${why}`);
  notifyTab(e.tabId, code);
  if (e.signInTab !== null) chrome.tabs.remove(e.signInTab).catch(() => {});
  return { ok: false, code };
}

/** onCookieChanged notes a sign-in that succeeded (the session cookie appeared on the host). */
export async function onCookieChanged({ removed, cookie }) {
  await start();
  if (removed || !cookie) return;
  const all = await entries();
  const done = [];
  for (const [sessionId, e] of Object.entries(all)) {
    if (e.state !== 'active' || e.signedIn || !cookieOnHost(cookie.domain, e.host)) continue;
    const p = await platformOf(e.platformId);
    if (p && cookie.name === p.login.session_cookie) done.push([sessionId, e]);
  }
  if (!done.length) return;
  await update((a) => { for (const [id] of done) if (a[id]) a[id].signedIn = true; return a; });
  for (const [id, e] of done) {
    forget(id);
    // The sign-in page has sent the platform to its home page by now; the tab we opened goes.
    if (e.signInTab !== null) setTimeout(() => chrome.tabs.remove(e.signInTab).catch(() => {}), 500);
    notifyTab(e.tabId, 'signed_in');
  }
}

/**
 * ready waits (at most ms) while the session's sign-in is under way, so that Post pressed
 * meanwhile publishes signed in. Resolves with the entry (or null).
 */
export async function ready(sessionId, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const e = (await entries())[sessionId];
    if (!e || e.signedIn || e.failed || e.signInTab === null || Date.now() > end) return e || null;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** spent marks a session this browser spent with `open`: it ends once its one publish is done. */
export async function spent(sessionId) {
  await update((a) => { if (a[sessionId]) { a[sessionId].state = 'spent'; a[sessionId].endBy = Date.now() + AFTER_SPENT_MS; } return a; });
  await armAlarm();
}

/** beforeSignOut, when set (rotation.js), runs before a session's sign-out, signed in or not. */
let beforeSignOut = null;
/** onBeforeSignOut sets what runs before each sign-out after a session. */
export function onBeforeSignOut(fn) { beforeSignOut = fn; }

let ending = Promise.resolve();
/**
 * end signs the browser out after a session (once the last live session on that host ended).
 * `why`: published, consumed, expired, revoked, locked, restart.
 */
export function end(sessionId, why) {
  ending = ending.catch(() => {}).then(() => endOne(sessionId, why));
  return ending;
}

async function endOne(sessionId, why) {
  forget(sessionId);
  const all = await entries();
  const e = all[sessionId];
  if (!e) return;
  await update((a) => { delete a[sessionId]; return a; });
  const others = Object.values(await entries()).filter((o) => o.host === e.host && o.state === 'active' && o.expires > Date.now());
  const p = await platformOf(e.platformId);
  if (others.length || !p) return; // another live session still needs this sign-in
  // Custody one_time: the password changes first, while still signed in (rotation.js).
  if (beforeSignOut) {
    try { await beforeSignOut({ sessionId, account: e.account, p, host: e.host, signedIn: await isSignedIn(p, e.host) }); } catch (err) { console.warn(`foureyes: the password change after the session on ${e.host}: ${err && err.message || err}`); }
  }
  console.info(`foureyes: signing out of ${e.host} (session ${why})`);
  const r = await signOut(p, e.host);
  await report({ session_id: sessionId, account: e.account, host: e.host, result: r.ok ? 'ok' : 'failed', ...(r.ok ? {} : { error: r.error }) });
  notifyTab(e.tabId, r.ok ? 'signed_out' : 'sign_out_failed');
  if (!r.ok) console.warn(`foureyes: sign-out of ${e.host} after ${why}: ${r.error}`);
}

/**
 * signOut sends the platform's sign-out request, then removes the site data of the table's
 * origins, and checks that no cookie is left. {ok, error?}.
 */
export async function signOut(p, host) {
  if (p.logout.request.bearer) return signOutStored(p, host);
  const problems = [];
  const url = logoutUrl(p, host);
  try {
    const r = p.logout.request;
    let token = null;
    if (r.csrf && r.csrf.cookie) token = ((await chrome.cookies.get({ url, name: r.csrf.cookie })) || {}).value || null;
    if (r.csrf && r.csrf.page) {
      const page = await fetch(`https://${host}${r.csrf.page}`, { credentials: 'include', redirect: 'manual', cache: 'no-store' });
      token = page.ok ? csrfFromHtml(await page.text(), r.csrf.meta) : null;
    }
    if (!token && r.csrf) {
      // Not signed in (no token): nothing to end on the server, unless a cookie says otherwise.
      if (await isSignedIn(p, host)) problems.push('no anti-forgery token for the sign-out request while signed in');
    } else {
      const res = await fetch(url, logoutInit(p, token));
      const ok = res.ok || res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400);
      if (!ok) problems.push(`the sign-out request was answered ${res.status}`);
    }
  } catch (err) {
    problems.push(`the sign-out request failed: ${err && err.message || err}`);
  }
  const origins = clearOrigins(p, host);
  const clear = new Set(p.logout.clear || []);
  problems.push(...await removeSiteData(origins, p.logout.clear));
  // Cookies set for a parent domain, or set again meanwhile: remove them one by one.
  for (const o of origins) {
    const h = new URL(o).host;
    for (const c of await chrome.cookies.getAll({ domain: h }).catch(() => [])) {
      await chrome.cookies.remove({ url: `https://${c.domain.replace(/^\./, '')}${c.path}`, name: c.name, storeId: c.storeId }).catch(() => {});
    }
  }
  if (clear.has('sessionStorage')) {
    const tabs = await chrome.tabs.query({ url: origins.map((o) => `${o}/*`) }).catch(() => []);
    await Promise.all(tabs.map((t) => chrome.scripting.executeScript({ target: { tabId: t.id, allFrames: true }, func: () => { try { sessionStorage.clear(); } catch { /* opaque origin */ } } }).catch(() => {})));
  }
  const left = [];
  for (const o of origins) left.push(...(await chrome.cookies.getAll({ url: `${o}/` }).catch(() => [])).map((c) => c.name));
  if (left.length) problems.push(`cookies left: ${[...new Set(left)].join(', ')}`);
  return problems.length ? { ok: false, error: problems.join('; ') } : { ok: true };
}

/**
 * waitLoaded waits (at most ms) until tab tabId has loaded a page of host; false if it did not.
 * The host too: Firefox reports a tab just created as complete while it still shows about:blank.
 */
async function waitLoaded(tabId, host, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = await chrome.tabs.get(tabId).catch(() => null);
    if (!t) return false;
    if (t.status === 'complete' && await tabOnHost(tabId, host)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/**
 * signOutStored signs out of a platform that keeps its session in localStorage and whose web
 * app ends no session on the server when signing out (Bluesky): in a background tab of the
 * site (a page that runs none of its code), read the stored session; send the table's sign-out
 * request to the session's own API host, which must be one of api_hosts (else the token goes
 * nowhere and that is the failure), with the refresh token as bearer; remove the item; remove
 * the site data; reload the site's open tabs, so no running app writes its session back; and
 * check that no session is stored any more. {ok, error?}.
 */
async function signOutStored(p, host) {
  const problems = [];
  const spec = p.login.session_storage;
  let tab = null;
  try {
    tab = await chrome.tabs.create({ url: `https://${host}${spec.page || '/'}`, active: false });
    if (!(await waitLoaded(tab.id, host))) problems.push(`the page to read the stored session from did not load`);
    const s = await readSession(p, tab.id);
    if (s === undefined) problems.push('the stored session could not be read');
    else if (storedSignedIn(s)) {
      const url = bearerLogoutUrl(p, s);
      if (!url) problems.push('the stored session names an API host that is not the platform\'s: its token was not sent there');
      else {
        try {
          const res = await fetch(url, bearerLogoutInit(p, s.refresh));
          if (!res.ok) problems.push(`the sign-out request was answered ${res.status}`);
        } catch (err) {
          problems.push(`the sign-out request failed: ${err && err.message || err}`);
        }
      }
    }
    await chrome.scripting.executeScript({ target: { tabId: tab.id, frameIds: [0] }, func: (k) => { localStorage.removeItem(k); }, args: [spec.key] }).catch(() => {});
  } catch (err) {
    problems.push(`signing out failed: ${err && err.message || err}`);
  }
  const origins = clearOrigins(p, host);
  problems.push(...await removeSiteData(origins, p.logout.clear));
  for (const o of origins) {
    for (const c of await chrome.cookies.getAll({ domain: new URL(o).host }).catch(() => [])) {
      await chrome.cookies.remove({ url: `https://${c.domain.replace(/^\./, '')}${c.path}`, name: c.name, storeId: c.storeId }).catch(() => {});
    }
  }
  const open = (await chrome.tabs.query({ url: origins.map((o) => `${o}/*`) }).catch(() => [])).filter((t) => !tab || t.id !== tab.id);
  await Promise.all(open.map((t) => chrome.tabs.reload(t.id).catch(() => {})));
  if (tab) {
    const left = await readSession(p, tab.id);
    if (left) problems.push('a session is still stored in the browser');
    await chrome.tabs.remove(tab.id).catch(() => {});
  }
  return problems.length ? { ok: false, error: problems.join('; ') } : { ok: true };
}

/** report sends `signed_out` to the daemon, or keeps it (no secret) until the daemon is back. */
async function report(r) {
  const q = (await local().get(REPORTS))[REPORTS] || [];
  q.push(r);
  await local().set({ [REPORTS]: q });
  await flush();
}

let flushing = null;
/** flush delivers the kept `signed_out` reports (connection up). */
export function flush() {
  if (!flushing) {
    flushing = (async () => {
      if (!conn.isUp()) return;
      const q = (await local().get(REPORTS))[REPORTS] || [];
      const left = [];
      for (const r of q) {
        try { await conn.call('signed_out', r); } catch (err) { if (!err || !['not_found', 'scope_mismatch', 'bad_request', 'unsupported'].includes(err.code)) left.push(r); }
      }
      const now = (await local().get(REPORTS))[REPORTS] || [];
      await local().set({ [REPORTS]: [...left, ...now.slice(q.length)] });
    })().finally(() => { flushing = null; });
  }
  return flushing;
}

/** onDaemonEvent ends sessions on lock, expiry, revocation; notes sessions issued elsewhere. */
export async function onDaemonEvent(ev) {
  await start();
  if (!ev || typeof ev !== 'object') return;
  if (ev.kind === 'lock') {
    for (const id of Object.keys(await entries())) await end(id, 'locked');
    return;
  }
  const s = ev.kind === 'session' && ev.session;
  if (!s || typeof s.id !== 'string') return;
  if (s.state === 'active' && typeof s.account === 'string') { await track({ sessionId: s.id, account: s.account, expires: s.expires }); return; }
  if (s.state === 'expired' || s.state === 'revoked') await end(s.id, s.state);
  // consumed: spent by `open`; flow.js marks it spent and ends it after the publish.
  else if (s.state === 'consumed' && (await entries())[s.id]?.state === 'active') await spent(s.id);
}

/** sweep ends sessions past their time: expired, or spent and their gate long closed. */
export async function sweep() {
  await start();
  const now = Date.now();
  for (const [id, e] of Object.entries(await entries())) {
    if (e.expires <= now) await end(id, 'expired');
    else if (e.state === 'spent' && e.endBy <= now) await end(id, 'consumed');
  }
  await armAlarm();
}

async function armAlarm() {
  const times = Object.values(await entries()).map((e) => (e.state === 'spent' ? e.endBy : e.expires)).filter(Number.isFinite);
  if (!times.length) { await chrome.alarms.clear(ALARM); return; }
  await chrome.alarms.create(ALARM, { when: Math.max(Date.now() + 1000, Math.min(...times) + 500) });
}

/**
 * resume picks up sign-ins a stopped worker left: credentials released to it are gone with it
 * (and never released twice), so that sign-in failed; a sign-in page not filled yet is filled.
 */
async function resume() {
  for (const [id, e] of Object.entries(await entries())) {
    if (e.state !== 'active' || e.signedIn || e.failed || e.signInTab === null) continue;
    if (e.asked) { await fail(id, e, 'sign_in_failed', 'the worker stopped during the sign-in'); continue; }
    if (stored(await platformOf(e.platformId))) watchStored(id).catch(console.error);
    const tab = await chrome.tabs.get(e.signInTab).catch(() => null);
    if (tab && tab.status === 'complete') await injectIfSignIn(tab.id, tab.url);
  }
}

/**
 * start runs once per worker start, before anything else here. A new browser run
 * (chrome.storage.session is empty then) signs out every session of the previous run: its
 * approvals died with the browser.
 */
let booting = null;
export function start() {
  if (!booting) {
    booting = (async () => {
      const boot = (await chrome.storage.session.get('custody_boot')).custody_boot;
      if (!boot) {
        await chrome.storage.session.set({ custody_boot: Date.now() });
        for (const id of Object.keys(await entries())) await endOne(id, 'restart');
      } else {
        await resume();
      }
    })();
    booting.then(() => sweep()).catch(console.error);
  }
  return booting;
}
