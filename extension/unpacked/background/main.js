// Service worker entry: wires listeners (synchronously, at the top level, as MV3 requires) and
// brings the gate up on every start. Each job lives in its own module.

import * as conn from './connection.js';
import * as gate from './gate.js';
import * as flow from './flow.js';
import * as unrecognised from './unrecognised.js';
import * as custody from './custody.js';
import * as rotation from './rotation.js';
import { onMessage } from './messages.js';
import { load, instances, managedFresh, configKnown, onRetry } from './table.js';

const RECONNECT_ALARM = 'foureyes-reconnect';

// State from the cached table and instance list, for the synchronous request observer.
let cache = { table: null, instances: [] };

let refreshing = Promise.resolve();
/** refreshGate brings the rules in line with the configuration, one refresh at a time. */
function refreshGate() {
  refreshing = refreshing.catch(() => {}).then(refreshOnce);
  return refreshing;
}

async function refreshOnce() {
  const table = await load();
  // Whether IT's configuration is known, decided before the instances are read: once it is,
  // the instances below include it.
  const known = await configKnown();
  if (!known) await gate.setPending(true);
  const inst = await instances();
  cache = { table, instances: inst };
  await gate.installBlockRules(table, inst);
  // Only with the governed set in place may the fail-closed ruleset go.
  if (known) await gate.setPending(false);
  await gate.registerInstanceScripts(table, inst).catch((e) => console.warn('foureyes: content scripts', e));
  await chrome.storage.session.set({ config_state: known ? 'known' : 'pending' });
}

// Every start: block rules in place, no allow rule left over from a stopped worker.
const ready = (async () => {
  await gate.start();
  await refreshGate();
})().catch((e) => {
  console.error('foureyes: gate setup failed', e);
  chrome.storage.session.set({ setup_error: String(e && e.stack || e) }).catch(() => {});
});

// Sessions of a previous browser run are signed out; a session past its time too.
custody.start().catch((e) => console.error('foureyes: custody start', e));

chrome.runtime.onInstalled.addListener(() => {
  ready.then(refreshGate).then(() => gate.injectIntoOpenTabs(chrome.runtime.getManifest().content_scripts.flatMap((c) => c.matches))).catch(console.error);
});
chrome.runtime.onStartup.addListener(() => { ready.then(refreshGate); });

onRetry(() => { refreshGate().catch(console.error); });
chrome.storage.onChanged.addListener((changes, areaName) => {
  if (areaName === 'managed') { managedFresh(true).then(refreshGate).catch(console.error); return; }
  if ((areaName === 'local' && changes.mastodon_instances) ||
      (areaName === 'session' && changes.daemon_instances)) {
    refreshGate().catch(console.error);
  }
});

chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => onMessage(msg, sender, sendResponse));

// Observations still running, by request id: a request can complete before a worker it woke
// has looked at it.
const observing = new Map();
chrome.webRequest.onBeforeRequest.addListener((details) => {
  try { unrecognised.note(details, cache.table, cache.instances); } catch (e) { console.error(e); }
  let work;
  if (cache.table) work = gate.observe(details, cache.table, cache.instances);
  // A worker this request woke has no table yet: the request may be the publish an allow left
  // by its predecessor let through.
  else work = Promise.all([load(), instances()]).then(([t, i]) => gate.observe(details, t, i));
  const done = work.catch(console.error).finally(() => { if (observing.get(details.requestId) === done) observing.delete(details.requestId); });
  observing.set(details.requestId, done);
}, { urls: ['https://*/*'], types: ['xmlhttprequest', 'main_frame', 'sub_frame', 'ping', 'other'] }, ['requestBody']);

// The request that went through an open gate: report it once the server answered.
const inflight = new Map();
gate.onSeen(({ allow, requestId, text, mismatch, fields }) => { inflight.set(requestId, { allow, text, mismatch, fields }); });
chrome.webRequest.onCompleted.addListener((details) => {
  (observing.get(details.requestId) || Promise.resolve()).then(() => {
    const seen = inflight.get(details.requestId);
    if (!seen) return;
    inflight.delete(details.requestId);
    flow.published(seen.allow, { text: seen.text, mismatch: seen.mismatch, fields: seen.fields }).catch(console.error);
  });
}, { urls: ['https://*/*'] });
chrome.webRequest.onErrorOccurred.addListener((details) => {
  (observing.get(details.requestId) || Promise.resolve()).then(() => { inflight.delete(details.requestId); });
  unrecognised.onBlocked(details).catch(console.error);
}, { urls: ['https://*/*'] });

chrome.tabs.onRemoved.addListener((tabId) => { flow.forgetTab(tabId).catch(() => {}); });

conn.onEvent((ev) => { flow.onDaemonEvent(ev).catch(console.error); custody.onDaemonEvent(ev).catch(console.error); rotation.onDaemonEvent(ev).catch(console.error); });
chrome.tabs.onUpdated.addListener((tabId, info, tab) => { custody.onTabUpdated(tabId, info, tab).catch(console.error); rotation.onTabUpdated(tabId, info, tab).catch(console.error); });
chrome.cookies.onChanged.addListener((change) => { custody.onCookieChanged(change).catch(console.error); });
conn.onState((s) => {
  flow.onConnectionState(s).catch(() => {});
  if (s.state === 'down') gate.closeAll().catch(() => {});
  if (s.state === 'up') { unrecognised.flush().catch(console.error); custody.flush().catch(console.error); }
});

chrome.alarms.create(RECONNECT_ALARM, { periodInMinutes: 1 });
chrome.alarms.onAlarm.addListener((a) => {
  if (a.name === RECONNECT_ALARM) {
    conn.connect().catch(() => {});
    ready.then(refreshGate).catch(console.error); // ends a grace period a stopped worker left
  }
  if (a.name === gate.CLOSE_ALARM) ready.then(() => gate.closeAll()).catch(console.error);
  if (a.name === custody.ALARM) ready.then(() => custody.sweep()).catch(console.error);
});

ready.then(() => conn.connect()).catch(() => {});
ready.then(() => managedFresh()).then(() => refreshGate()).catch(console.error);
