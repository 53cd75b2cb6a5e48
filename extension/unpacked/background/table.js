// The platform table and the hosts it applies to. The table ships with the extension
// (data/platforms.json, a copy of the repo's shared/platforms.json); instance hosts (Mastodon)
// come from managed storage (IT), the daemon's policy, and local settings (added, never able to
// remove one that IT or the daemon set).

import { checkTable, normalizeInstances } from '../lib/platforms.js';
import * as store from './store.js';

let table = null;

/** load returns the platform table (cached for the worker's life). */
export async function load() {
  if (!table) {
    const res = await fetch(chrome.runtime.getURL('data/platforms.json'));
    table = checkTable(await res.json());
  }
  return table;
}

// Reading managed storage can take seconds right after the browser starts (Chromium on Linux
// waits for its policy service), so the gate never waits for it: the last value seen is kept in
// chrome.storage.session, and the worker rebuilds the gate once the fresh value is in.
let managedCache = null;
let managedPromise = null;

/** managedFresh reads managed storage (once per worker life unless reset) and caches it. */
export function managedFresh(reset = false) {
  if (reset) managedPromise = null;
  if (!managedPromise) {
    managedPromise = Promise.resolve()
      .then(() => chrome.storage.managed.get(null))
      .then((v) => v || {}, () => ({})) // no managed storage (unmanaged profile, Firefox without policy)
      .then(async (v) => { managedCache = v; await store.set('managed_cache', v); return v; });
  }
  return managedPromise;
}

/** managed returns the IT-managed settings as last seen, {} when there are none (yet). */
export async function managed() {
  if (managedCache) return managedCache;
  const cached = await store.get('managed_cache', null);
  if (cached) { managedCache = cached; return cached; }
  const v = await Promise.race([managedFresh(), new Promise((r) => setTimeout(() => r(null), 200))]);
  return v || {};
}

/** instances returns every instance host the gate must cover. */
export async function instances() {
  const m = await managed();
  const local = await chrome.storage.local.get('mastodon_instances');
  const fromDaemon = await store.get('daemon_instances', []);
  return normalizeInstances([
    ...(Array.isArray(m.mastodon_instances) ? m.mastodon_instances : []),
    ...fromDaemon,
    ...(Array.isArray(local.mastodon_instances) ? local.mastodon_instances : []),
  ]);
}
