// Publishing requests that only the network gate stopped. The page gate holds every publish it
// recognises before any request exists, so a blocked publishing request means the page did
// something the platform table does not describe (a button it does not list, one inside a
// shadow root, a fetch made by page script). The post must never fail silently: the tab gets
// the notice, and the daemon records platform_unrecognised so IT learns the table needs an
// update. While IT's configuration is not known yet, Mastodon's publishing shapes are blocked
// on every host: such a block is told on the tab as "settings not read yet", not reported.
//
// webRequest observes without blocking (allowed in MV3, also when force-installed); the
// declarativeNetRequest feedback API would need an unpacked extension.

import { publishEndpoint, urlEndpoints, parseBody, bodyMatches } from '../lib/platforms.js';
import { pendingMatch } from '../lib/rules.js';
import * as store from './store.js';
import * as conn from './connection.js';
import { load, instances, configKnownNow } from './table.js';

/**
 * The error a request an extension's rule blocked gets: Chromium's, and Firefox's (its
 * declarativeNetRequest cancels the request with NS_ERROR_ABORT; the rules here only see
 * requests to publishing endpoints).
 */
export const BLOCKED_ERRORS = new Set(['net::ERR_BLOCKED_BY_CLIENT', 'NS_ERROR_ABORT']);
/** One report per tab and platform within this time (the daemon limits too). */
const REPORT_EVERY_MS = 60000;
/** Reports kept while the daemon is not reachable, sent once it is. */
const MAX_QUEUED = 20;

const lastReport = new Map(); // "tab|platform" -> time
/** Requests seen whose body fits none of their URL's publishing endpoints (likes, follows). */
const interactions = new Set();

/**
 * note is called for every request as it starts (webRequest.onBeforeRequest, which has the
 * body): a request to a URL whose endpoints are told apart by their body (Bluesky's
 * createRecord) and whose body fits none of them is no post but a like, a follow or the like.
 * The network gate blocks it all the same; onBlocked then says so instead of reporting a gap in
 * the table.
 */
export function note(details, table, instances) {
  if (!table || details.method === 'GET') return;
  const hit = publishEndpoint(table, details.method, details.url, instances);
  if (!hit) return;
  const eps = urlEndpoints(hit.platform, details.method, details.url, instances);
  if (!eps.length || !eps.every((e) => e.body_match)) return;
  const parsed = parseBody(details.requestBody);
  if (eps.some((e) => bodyMatches(e, parsed))) return;
  interactions.add(details.requestId);
  if (interactions.size > 200) interactions.delete(interactions.values().next().value);
}

/** tellTab shows the notice for code on the tab, putting the page gate there if it is not. */
export async function tellTab(tabId, code) {
  if (!Number.isInteger(tabId) || tabId < 0) return;
  const msg = { type: 'fe:state', state: 'notice', code };
  try {
    await chrome.tabs.sendMessage(tabId, msg, { frameId: 0 });
  } catch {
    await chrome.scripting.executeScript({ target: { tabId }, files: ['content/gate.js'] }).catch(() => {});
    await chrome.tabs.sendMessage(tabId, msg, { frameId: 0 }).catch(() => {});
  }
}

function pageHost(details) {
  for (const u of [details.initiator, details.documentUrl, details.url]) {
    try { if (u) return new URL(u).hostname; } catch { /* next */ }
  }
  return '';
}

/** onBlocked is the webRequest.onErrorOccurred listener body for blocked requests. */
export async function onBlocked(details) {
  if (!BLOCKED_ERRORS.has(details.error)) return;
  const table = await load();
  const hit = publishEndpoint(table, details.method, details.url, await instances());
  if (!hit) {
    if (!(await configKnownNow()) && pendingMatch(table, details.method, details.url)) await tellTab(details.tabId, 'config_pending');
    return;
  }
  // Chromium does not show a request its rules block to onBeforeRequest: a URL whose endpoints
  // are all told apart by the body (Bluesky's createRecord) is then taken as an interaction.
  const keyed = urlEndpoints(hit.platform, details.method, details.url, await instances());
  if (interactions.delete(details.requestId) || (keyed.length && keyed.every((e) => e.body_match))) { await tellTab(details.tabId, 'interaction_blocked'); return; }
  await tellTab(details.tabId, 'platform_unrecognised');
  const key = `${details.tabId}|${hit.platform.id}`;
  const now = Date.now();
  if (now - (lastReport.get(key) || 0) < REPORT_EVERY_MS) return;
  lastReport.set(key, now);
  let path = '';
  try { path = new URL(details.url).pathname.slice(0, 2048); } catch { /* none */ }
  await report({ platform: hit.platform.id, host: pageHost(details).slice(0, 253) || 'unknown', method: String(details.method).toUpperCase(), path, ...(details.tabId >= 0 ? { tab: String(details.tabId) } : {}) });
}

async function report(fields) {
  if (conn.isUp()) {
    try { await conn.call('unrecognised', fields); return; } catch (e) {
      if (e && e.code && e.code !== 'daemon_unavailable' && e.code !== 'timeout') { console.warn('foureyes: unrecognised report refused', e); return; }
    }
  }
  await store.update('unrecognised_queue', (q) => [...q, fields].slice(-MAX_QUEUED), []);
  conn.connect().catch(() => {});
}

/** flush sends the reports kept while the daemon was not reachable. */
export async function flush() {
  if (!conn.isUp()) return;
  const q = await store.get('unrecognised_queue', []);
  if (!q.length) return;
  await store.set('unrecognised_queue', []);
  for (const fields of q) await report(fields);
}
