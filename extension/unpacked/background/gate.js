// The network gate: declarativeNetRequest rules that block every publishing endpoint, and a
// session-scoped allow rule that lets exactly one request from one tab through after a verified
// grant. The allow rule is removed as soon as the request is seen (webRequest, observational),
// when the daemon revokes sessions, when the worker starts, and after ALLOW_MS at the latest.

import { blockRules, allowRules, endpointFits, ruleUpdate, isAllowRule, ALLOW_ID_BASE, PENDING_RULESET } from '../lib/rules.js';
import { contentScriptMatches, urlEndpoints, throughGate } from '../lib/platforms.js';
import { bodyFields } from '../lib/post.js';
import * as store from './store.js';

/** How long an opened gate waits for the page's request. */
export const ALLOW_MS = 5000;
const INSTANCE_SCRIPT_ID = 'foureyes-gate-instances';
const INSTANCE_OBSERVER_ID = 'foureyes-observe-instances';
/** Wakes a stopped worker to close a gate it left open (the timer died with it). */
export const CLOSE_ALARM = 'foureyes-close-gate';

/** Every id an allow rule may have: openOnce never uses more. */
const ALLOW_IDS = Array.from({ length: 64 }, (_, i) => ALLOW_ID_BASE + i);

let closeTimer = null;
/** The open allow (mirrors storage 'allow'), read synchronously by the request observer. */
let current = null;
/**
 * An allow a stopped worker left open: its rule let the one request through that woke this
 * worker; that request is still the session's publish, to be reported. Taken once.
 */
let leftover = null;
let startup = null;

/**
 * start runs once per worker start, before anything opens the gate: it notes an allow the
 * previous worker left, then removes every allow rule.
 */
export function start() {
  if (!startup) {
    // First of all, before any await: the removal reaches the browser even if this worker is
    // stopped again at once, so an allow rule never outlives two workers.
    chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: ALLOW_IDS }).catch(() => {});
    startup = (async () => {
      const left = await store.get('allow', null);
      if (left && left.deadline > Date.now()) leftover = left;
      await closeAll();
    })();
  }
  return startup;
}

/**
 * setPending turns the fail-closed ruleset (every host's Mastodon publishing shapes) on while
 * IT's configuration is not known, and off once the governed set is in place.
 */
export async function setPending(on) {
  const enabled = await chrome.declarativeNetRequest.getEnabledRulesets();
  if (enabled.includes(PENDING_RULESET) === on) return;
  await chrome.declarativeNetRequest.updateEnabledRulesets(on ? { enableRulesetIds: [PENDING_RULESET] } : { disableRulesetIds: [PENDING_RULESET] });
}
const seenListeners = new Set();

/** onSeen registers fn({allow, url, requestId}) for the request that went through an open gate. */
export function onSeen(fn) { seenListeners.add(fn); }

/**
 * installBlockRules brings the dynamic block rules in line with the table and instances.
 */
export async function installBlockRules(table, instances) {
  const wanted = blockRules(table, instances);
  const existing = await chrome.declarativeNetRequest.getDynamicRules();
  const upd = ruleUpdate(existing, wanted);
  if (upd.removeRuleIds.length || upd.addRules.length) await chrome.declarativeNetRequest.updateDynamicRules(upd);
  return wanted.length;
}

/**
 * registerInstanceScripts runs the page gate on instance hosts (Mastodon) too. X's hosts are in
 * the manifest, so the page gate is there from the first page load.
 */
export async function registerInstanceScripts(table, instances) {
  const staticHosts = new Set(chrome.runtime.getManifest().content_scripts.flatMap((c) => c.matches));
  const matches = contentScriptMatches(table, instances).filter((m) => !staticHosts.has(m));
  const have = await chrome.scripting.getRegisteredContentScripts({ ids: [INSTANCE_SCRIPT_ID, INSTANCE_OBSERVER_ID] }).catch(() => []);
  if (have.length) {
    if (have.length === 2 && have.every((h) => JSON.stringify([...h.matches].sort()) === JSON.stringify(matches))) return;
    await chrome.scripting.unregisterContentScripts({ ids: have.map((h) => h.id) });
  }
  if (!matches.length) return;
  await chrome.scripting.registerContentScripts([{
    id: INSTANCE_SCRIPT_ID, matches, js: ['content/gate.js'], runAt: 'document_start', allFrames: false, persistAcrossSessions: true,
  }, {
    // The upload observer, in the page's world: media ids are only in the uploads' responses.
    id: INSTANCE_OBSERVER_ID, matches, js: ['content/observe.js'], runAt: 'document_start', allFrames: false, persistAcrossSessions: true, world: 'MAIN',
  }]);
  await injectIntoOpenTabs(matches);
}

/**
 * injectIntoOpenTabs runs the page gate in tabs that were already open when their host became
 * governed (the script ignores a second injection).
 */
export async function injectIntoOpenTabs(matches) {
  const tabs = await chrome.tabs.query({ url: matches }).catch(() => []);
  await Promise.all(tabs.map((t) => Promise.all([
    chrome.scripting.executeScript({ target: { tabId: t.id }, files: ['content/gate.js'] }).catch(() => {}),
    chrome.scripting.executeScript({ target: { tabId: t.id }, files: ['content/observe.js'], world: 'MAIN' }).catch(() => {}),
  ])));
}

/**
 * closeAll removes every allow rule: nothing stays open.
 */
export async function closeAll() {
  clearTimeout(closeTimer);
  current = null;
  chrome.alarms.clear(CLOSE_ALARM).catch(() => {});
  const rules = await chrome.declarativeNetRequest.getSessionRules();
  const ids = rules.filter((r) => isAllowRule(r.id)).map((r) => r.id);
  if (ids.length) await chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: ids });
  await store.set('allow', null);
}

/** closeFor closes the gate if it is open for session id. */
export async function closeFor(sessionId) {
  const allow = current || await store.get('allow', null);
  if (allow && allow.sessionId === sessionId) await closeAll();
}

/**
 * openOnce lets one publishing request of platform p from tabId through.
 * @param {any} p platform entry
 * @param {number} tabId
 * @param {string} host the page's host
 * @param {string[]} instances
 * @param {{sessionId: string, digest: string, account?: string, action: string}} session
 */
export async function openOnce(p, tabId, host, instances, session) {
  await start(); // a freshly started worker clears what its predecessor left first
  await closeAll();
  // Only the endpoints of the approved kind of action: a text's approval never lets a repost out.
  const rules = allowRules(p, tabId, ALLOW_ID_BASE, instances, host, session.action);
  if (rules.length > ALLOW_IDS.length) throw new Error('too many allow rules');
  const allow = { tabId, platformId: p.id, host, ruleIds: rules.map((r) => r.id), deadline: Date.now() + ALLOW_MS, ...session };
  current = allow;
  await store.set('allow', allow);
  await chrome.declarativeNetRequest.updateSessionRules({ addRules: rules });
  closeTimer = setTimeout(() => { closeAll().catch(console.error); }, ALLOW_MS);
  // If this worker is stopped before the timer fires, the alarm wakes the next one to close.
  chrome.alarms.create(CLOSE_ALARM, { when: allow.deadline });
  return allow;
}

/**
 * observe is the webRequest listener body: when the open gate's request goes out, close the gate
 * at once and tell the listeners.
 */
export async function observe(details, table, instances) {
  let allow = current;
  if (!allow) {
    // A worker woken by this very request: the allow its predecessor left let it through.
    await start();
    allow = leftover && leftover.tabId === details.tabId ? leftover : null;
  }
  if (!allow || details.tabId !== allow.tabId) return;
  const p = table.platforms.find((x) => x.id === allow.platformId && x.status === 'supported');
  if (!p) return;
  // The endpoints the allow rules opened for this URL (others were blocked by the rules anyway).
  const opened = urlEndpoints(p, details.method, details.url, instances).filter((e) => !allow.action || endpointFits(e, allow.action));
  if (!opened.length) return;
  // Synchronously: a second request in the same tick finds the gate closed.
  if (allow === current) current = null; else leftover = null;
  // Before any await, as start() does: the rule's removal reaches the browser even if this
  // worker is stopped right after the request, so a second request cannot use it.
  chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: ALLOW_IDS }).catch(() => {});
  store.set('allow', null).catch(() => {});
  const seen = throughGate(opened, details.requestBody);
  // Media ids and the answered, quoted or reposted post, as the request carries them.
  let fields = null;
  if (seen.endpoint) {
    try { fields = bodyFields(p, seen.endpoint, details.requestBody, details.url); fields.text = seen.text; } catch (e) { console.warn('foureyes: request body', e && e.message); }
  }
  for (const fn of seenListeners) { try { fn({ allow, url: details.url, requestId: details.requestId, text: seen.text, mismatch: seen.mismatch, fields }); } catch (e) { console.error(e); } }
  await closeAll();
}
