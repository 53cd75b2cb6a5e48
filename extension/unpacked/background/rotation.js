// Rotation of an account's password inside a rotate session (PROTOCOL.md §2.5 "Rotation").
//
// A rotate session is approved like a post (from the CLI: `foureyes account rotate`, then
// `foureyes approve`), so the extension learns of it from the daemon's `session` event. Then:
// sign in with custody's own sign-in (`credentials`), open the platform's change-password page
// (the platform table's `password`) in a background tab, and content/rotate.js does its steps:
// once the first shows, the worker asks the daemon `rotation` once; a step only a person can do
// (Bluesky's e-mailed code) brings the tab to the front with a notice and a time limit; the
// first password field asks for the values, which go to that page only. The worker then reads the page until the platform's
// confirmation (ok) or its error (failed) shows, reports `rotated`, and signs the browser out.
//
// Custody one_time uses the same form after every posting session that signed the browser in:
// custody.js calls afterSession before it signs out, the daemon releases a rotation for that
// ended session once, and custody.js signs out when the change is over, either way.
//
// The passwords live only in this worker's memory between `rotation` and the report (to keep
// them out of an error text a page might echo): never in storage, a URL or the console.
// chrome.storage.local keeps only the session id, account, host, tab and phase.

import { accountPlatform, signInHost } from '../lib/custody.js';
import { passwordUrl, isPasswordPage, verdict, pageState, passwordSteps, formField, overdue, personWait, rotatesUnattended } from '../lib/rotation.js';
import { expiryMs } from '../lib/grant.js';
import * as conn from './connection.js';
import * as custody from './custody.js';
import { isOneTime } from './accounts.js';
import { load } from './table.js';

const KEY = 'rotation';        // chrome.storage.local: sessionId -> {account, platformId, host, tabId, phase, expires, deadline?, waitMs?}
const SIGN_IN_MS = 45000;      // the sign-in before the form
const RESULT_MS = 15000;       // the platform's answer after the submit
const STEP_MS = 45000;         // the next step of the form to show (a person step has its own limit)
const POLL_MS = 300;

/** The passwords of a rotation under way, by session id: {current, next}. Memory only. */
const secrets = new Map();

/** The after-session changes under way (custody one_time): session id -> resolve({ok, error}). */
const waiting = new Map();

const local = () => chrome.storage.local;
async function entries() { return (await local().get(KEY))[KEY] || {}; }
let chain = Promise.resolve();
function update(fn) {
  const run = chain.then(async () => { const next = fn({ ...(await entries()) }); await local().set({ [KEY]: next }); return next; });
  chain = run.catch(() => {});
  return run;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function platformOf(id) {
  return (await load()).platforms.find((p) => p.id === id && p.status === 'supported' && p.login && p.logout && p.password) || null;
}

/** onDaemonEvent starts a rotation for a new active rotate session. */
export async function onDaemonEvent(ev) {
  const s = ev && ev.kind === 'session' && ev.session;
  if (!s || s.action !== 'rotate' || s.state !== 'active' || typeof s.id !== 'string' || typeof s.account !== 'string') return;
  if ((await entries())[s.id]) return; // already under way (the event came again)
  await run(s);
}

async function run(s) {
  const p = await platformOf(accountPlatform(s.account));
  const host = p && signInHost(p, s.account);
  const expires = typeof s.expires === 'number' && s.expires < 1e12 ? s.expires * 1000 : expiryMs(s.expires);
  await update((a) => { a[s.id] = { account: s.account, platformId: p ? p.id : null, host, tabId: null, phase: 'signing_in', expires: Number.isFinite(expires) ? expires : null }; return a; });
  if (!p || !host) return finish(s.id, false, `the platform table has no change-password form for ${s.account}`);
  console.info(`foureyes: rotating the password of ${s.account}`);
  await custody.begin(null, { sessionId: s.id, account: s.account, expires: s.expires });
  // custody.ready returns at once while its sign-in tab is not recorded yet: wait for a verdict.
  const end = Date.now() + SIGN_IN_MS;
  let e = null;
  while (Date.now() < end) {
    e = await custody.ready(s.id, 2000);
    if (!e || e.signedIn || e.failed) break;
    await sleep(POLL_MS);
  }
  if (!e || !e.signedIn) return finish(s.id, false, `not signed in for the change: ${(e && e.failed) || 'the sign-in did not complete'}`);
  const tab = await chrome.tabs.create({ url: passwordUrl(p, host), active: false });
  await update((a) => { if (a[s.id]) { a[s.id].tabId = tab.id; a[s.id].phase = 'form'; } return a; });
  // The content script asks for the values; the timeout covers a form that never shows.
  setTimeout(() => { entries().then((a) => { if (a[s.id] && a[s.id].phase === 'form') finish(s.id, false, 'the change-password form did not show its fields'); }); }, SIGN_IN_MS);
}

/**
 * afterSession changes the password after a posting session of a one_time account ended, before
 * custody.js signs the browser out (custody.onBeforeSignOut): while still signed in, the
 * change-password page in a background tab, the daemon's `rotation` for that ended session
 * (once), the form, the platform's answer, `rotated`. Resolves when it is over, either way. Not
 * signed in, or a platform whose change cannot run unattended: nothing is changed, and the
 * daemon records rotation_skipped when the sign-out is reported.
 */
export async function afterSession({ sessionId, account, p, host, signedIn }) {
  if (!(await isOneTime(account))) return;
  if (!signedIn || !rotatesUnattended(p) || !passwordUrl(p, host)) {
    console.warn(`foureyes: the password of ${account} was not changed after the session: ${signedIn ? 'the platform\'s change cannot run unattended' : 'the browser was not signed in'}`);
    return;
  }
  if ((await entries())[sessionId]) return;
  console.info(`foureyes: changing the password of ${account} after the session (custody one_time)`);
  const done = new Promise((resolve) => waiting.set(sessionId, resolve));
  await update((a) => { a[sessionId] = { account, platformId: p.id, host, tabId: null, phase: 'form', after: true }; return a; });
  const tab = await chrome.tabs.create({ url: passwordUrl(p, host), active: false });
  await update((a) => { if (a[sessionId]) a[sessionId].tabId = tab.id; return a; });
  setTimeout(() => { entries().then((a) => { if (a[sessionId] && a[sessionId].phase === 'form') finish(sessionId, false, 'the change-password form did not show its fields'); }); }, SIGN_IN_MS);
  // The sign-out must follow whatever happens here: it waits no longer than this.
  const giveUp = new Promise((resolve) => setTimeout(() => resolve({ ok: false, error: 'the change did not finish in time' }), SIGN_IN_MS + RESULT_MS + 30000));
  return Promise.race([done, giveUp]);
}
custody.onBeforeSignOut(afterSession);

/** onTabUpdated puts content/rotate.js into a rotation's tab on its change-password page. */
export async function onTabUpdated(tabId, info, tab) {
  if (info.status !== 'complete' || !tab) return;
  const found = await forTab(tabId, tab.url);
  if (!found || found.e.phase !== 'form') return;
  await chrome.scripting.executeScript({ target: { tabId, frameIds: [0] }, files: ['content/rotate.js'] }).catch(() => {});
}

async function forTab(tabId, url) {
  for (const [sessionId, e] of Object.entries(await entries())) {
    if (e.tabId !== tabId) continue;
    const p = await platformOf(e.platformId);
    if (p && isPasswordPage(p, e.host, url)) return { sessionId, e, p };
  }
  return null;
}

/** hello gives content/rotate.js the form's steps, on a rotation's change-password page. */
export async function hello(sender) {
  const found = await forTab(sender.tab.id, sender.url);
  if (!found || found.e.phase !== 'form') return { ok: false };
  return { ok: true, steps: passwordSteps(found.p) };
}

/**
 * begin is content/rotate.js saying the form's first step shows: the daemon's `rotation` is asked
 * here, once, and the passwords wait in this worker's memory for fill. From here on every end
 * of the rotation is reported (the daemon records rotation_failed unless the platform confirmed).
 */
export async function begin(sender) {
  const found = await forTab(sender.tab.id, sender.url);
  if (!found || found.e.phase !== 'form') return { ok: false };
  const { sessionId, e, p } = found;
  await update((a) => { if (a[sessionId]) a[sessionId].phase = 'asked'; return a; });
  let r;
  try {
    r = await conn.call('rotation', { session_id: sessionId, account: e.account, host: e.host });
  } catch (err) {
    finish(sessionId, false, `the daemon refused the passwords: ${err && err.code || 'error'}`);
    return { ok: false };
  }
  if (typeof r.password !== 'string' || typeof r.new_password !== 'string' || !r.new_password) {
    finish(sessionId, false, 'the daemon sent no passwords');
    return { ok: false };
  }
  secrets.set(sessionId, { current: r.password, next: r.new_password });
  steps(sessionId, e, p).catch((err) => finish(sessionId, false, `reading the change-password page failed: ${err && err.message || err}`));
  return { ok: true };
}

/**
 * steps reads the change-password tab between begin and fill: an error the platform shows on the
 * way (Bluesky failing to send the code), the tab closed, a step that never shows, or a person
 * who did not type in time ends the rotation at once, reported as failed inside the session.
 */
async function steps(sessionId, e, p) {
  const pw = p.password;
  const end = Date.now() + STEP_MS;
  for (;;) {
    await sleep(1000);
    const cur = (await entries())[sessionId];
    if (!cur || !['asked', 'person'].includes(cur.phase)) return;
    const late = overdue(cur, Date.now());
    if (late) return finish(sessionId, false, late);
    if (cur.phase === 'asked' && Date.now() > end) return finish(sessionId, false, 'the change-password form did not show its next step');
    const tab = await chrome.tabs.get(e.tabId).catch(() => null);
    if (!tab) return finish(sessionId, false, 'the change-password tab was closed before the change was submitted');
    if (tab.status !== 'complete') continue;
    const [res] = await chrome.scripting.executeScript({ target: { tabId: e.tabId, frameIds: [0] }, func: pageState, args: [pw.success, pw.error, formField(p)] }).catch(() => []);
    const seen = res && res.result;
    // Only an error or another site counts here: nothing was submitted yet, so a page without the
    // form (Bluesky's dialog not open yet) is no answer.
    const v = verdict(p, e.host, seen && { ...seen, form: true });
    if (v.done && !v.ok) return finish(sessionId, false, v.error);
  }
}

/**
 * person is content/rotate.js reaching a step only a person can do (Bluesky's e-mailed code):
 * the tab comes to the front with the step's notice, and the rotation fails (safely: the old
 * password stays) unless the form moves on within the step's timeout_s.
 */
export async function person(sender, index) {
  const found = await forTab(sender.tab.id, sender.url);
  if (!found || found.e.phase !== 'asked') return { ok: false };
  const { sessionId, e, p } = found;
  const step = (passwordSteps(p) || [])[index];
  if (!step || !step.person) return { ok: false };
  const waitMs = personWait(step, e.expires ?? NaN, Date.now());
  if (!waitMs) { finish(sessionId, false, 'the rotate session ends too soon for a person to type the code the platform e-mailed; the old password stays'); return { ok: false }; }
  await update((a) => { if (a[sessionId]) Object.assign(a[sessionId], { phase: 'person', deadline: Date.now() + waitMs, waitMs }); return a; });
  const tab = await chrome.tabs.update(e.tabId, { active: true }).catch(() => null);
  if (tab && chrome.windows) await chrome.windows.update(tab.windowId, { focused: true }).catch(() => {});
  chrome.tabs.sendMessage(e.tabId, { type: 'fe:state', state: 'notice', code: step.notice }).catch(() => {});
  console.info(`foureyes: the password change of ${e.account} waits for a person to type the code the platform e-mailed`);
  setTimeout(() => { entries().then((a) => { const why = overdue(a[sessionId], Date.now()); if (why) finish(sessionId, false, why); }); }, waitMs + 50);
  return { ok: true };
}

/**
 * fill answers content/rotate.js once per rotation with the current and the new password, which
 * begin got from the daemon; they go to that page only. Then the worker reads the page for the
 * platform's answer.
 */
export async function fill(sender) {
  const found = await forTab(sender.tab.id, sender.url);
  if (!found || !['asked', 'person'].includes(found.e.phase)) return { ok: false };
  const { sessionId, e, p } = found;
  const why = overdue(e, Date.now());
  if (why) { finish(sessionId, false, why); return { ok: false }; }
  const s = secrets.get(sessionId);
  if (!s) {
    finish(sessionId, false, 'the passwords were given to an earlier worker that stopped');
    return { ok: false };
  }
  await update((a) => { if (a[sessionId]) a[sessionId].phase = 'submitted'; return a; });
  watch(sessionId, e, p).catch((err) => finish(sessionId, false, `reading the platform's answer failed: ${err && err.message || err}`));
  return { ok: true, current: s.current, new: s.next };
}

/** watch reads the change-password tab until the platform confirms or refuses the change. */
async function watch(sessionId, e, p) {
  const pw = p.password;
  const end = Date.now() + RESULT_MS;
  while (Date.now() < end) {
    await sleep(POLL_MS);
    const tab = await chrome.tabs.get(e.tabId).catch(() => null);
    if (!tab) return finish(sessionId, false, 'the change-password tab was closed before the platform answered');
    if (tab.status !== 'complete') continue;
    const [res] = await chrome.scripting.executeScript({ target: { tabId: e.tabId, frameIds: [0] }, func: pageState, args: [pw.success, pw.error, formField(p)] }).catch(() => []);
    const v = verdict(p, e.host, res && res.result);
    if (v.done) return finish(sessionId, v.ok, v.error);
  }
  return finish(sessionId, false, 'the platform showed no confirmation of the change');
}

const finishing = new Set();
/** finish reports `rotated` (once), closes the tab and signs the browser out. */
async function finish(sessionId, ok, error) {
  if (finishing.has(sessionId)) return;
  finishing.add(sessionId);
  try {
    const e = (await entries())[sessionId];
    if (!e) return;
    const s = secrets.get(sessionId);
    secrets.delete(sessionId);
    let why = error || '';
    // A page that echoes a password into its error text must not carry it into the audit.
    if (s && why && (why.includes(s.current) || why.includes(s.next))) why = 'the platform refused the change (its message repeated a password, so it is withheld)';
    // Only a rotation whose passwords went out is reported: the daemon accepts no other.
    if (['asked', 'person', 'submitted'].includes(e.phase)) {
      try {
        await conn.call('rotated', { session_id: sessionId, account: e.account, host: e.host, result: ok ? 'ok' : 'failed', ...(ok ? {} : { error: why.slice(0, 1000) }) });
      } catch (err) {
        console.warn(`foureyes: reporting the rotation of ${e.account} failed: ${err && err.code || err}`);
      }
    }
    if (ok) console.info(`foureyes: the password of ${e.account} was changed`);
    else console.warn(`foureyes: the password change of ${e.account} failed: ${why}`);
    await update((a) => { delete a[sessionId]; return a; });
    if (e.tabId !== null) await chrome.tabs.remove(e.tabId).catch(() => {});
    if (e.after) {
      // After a posting session: custody.js signs out once this returns.
      const resolve = waiting.get(sessionId);
      waiting.delete(sessionId);
      if (resolve) resolve({ ok, error: why });
      return;
    }
    // Strict custody: the browser signs out after the change either way.
    await custody.end(sessionId, ok ? 'rotated' : 'rotation failed');
  } finally {
    finishing.delete(sessionId);
  }
}
