// Service worker entry: wires listeners (synchronously, at the top level, as MV3 requires) and
// brings the gate up on every start. Each job lives in its own module.

import * as conn from './connection.js';
import * as gate from './gate.js';
import * as flow from './flow.js';
import { onMessage } from './messages.js';
import { load, instances, managedFresh } from './table.js';

const RECONNECT_ALARM = 'foureyes-reconnect';

// State from the cached table and instance list, for the synchronous request observer.
let cache = { table: null, instances: [] };

async function refreshGate() {
  const table = await load();
  const inst = await instances();
  cache = { table, instances: inst };
  await gate.installBlockRules(table, inst);
  await gate.registerInstanceScripts(table, inst).catch((e) => console.warn('foureyes: content scripts', e));
}

// Every start: block rules in place, no allow rule left over from a stopped worker.
const ready = (async () => {
  await gate.closeAll();
  await refreshGate();
})().catch((e) => {
  console.error('foureyes: gate setup failed', e);
  chrome.storage.session.set({ setup_error: String(e && e.stack || e) }).catch(() => {});
});

chrome.runtime.onInstalled.addListener(() => {
  ready.then(refreshGate).then(() => gate.injectIntoOpenTabs(chrome.runtime.getManifest().content_scripts.flatMap((c) => c.matches))).catch(console.error);
});
chrome.runtime.onStartup.addListener(() => { ready.then(refreshGate); });

chrome.storage.onChanged.addListener((changes, areaName) => {
  if (areaName === 'managed') { managedFresh(true).then(refreshGate).catch(console.error); return; }
  if ((areaName === 'local' && changes.mastodon_instances) ||
      (areaName === 'session' && changes.daemon_instances)) {
    refreshGate().catch(console.error);
  }
});

chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => onMessage(msg, sender, sendResponse));

chrome.webRequest.onBeforeRequest.addListener((details) => {
  if (cache.table) gate.observe(details, cache.table, cache.instances).catch(console.error);
}, { urls: ['https://*/*'], types: ['xmlhttprequest', 'main_frame', 'sub_frame', 'ping', 'other'] }, ['requestBody']);

// The request that went through an open gate: report it once the server answered.
const inflight = new Map();
gate.onSeen(({ allow, requestId, text }) => { inflight.set(requestId, { allow, text }); });
chrome.webRequest.onCompleted.addListener((details) => {
  const seen = inflight.get(details.requestId);
  if (!seen) return;
  inflight.delete(details.requestId);
  flow.published(seen.allow, seen.text).catch(console.error);
}, { urls: ['https://*/*'] });
chrome.webRequest.onErrorOccurred.addListener((details) => { inflight.delete(details.requestId); }, { urls: ['https://*/*'] });

chrome.tabs.onRemoved.addListener((tabId) => { flow.forgetTab(tabId).catch(() => {}); });

conn.onEvent((ev) => { flow.onDaemonEvent(ev).catch(console.error); });
conn.onState((s) => {
  flow.onConnectionState(s).catch(() => {});
  if (s.state === 'down') gate.closeAll().catch(() => {});
});

chrome.alarms.create(RECONNECT_ALARM, { periodInMinutes: 1 });
chrome.alarms.onAlarm.addListener((a) => { if (a.name === RECONNECT_ALARM) conn.connect().catch(() => {}); });

ready.then(() => conn.connect()).catch(() => {});
ready.then(() => managedFresh()).then(() => refreshGate()).catch(console.error);
