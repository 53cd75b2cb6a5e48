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
// waits for its policy service), and on a fresh profile the first read comes back empty and the
// value arrives seconds later (storage.onChanged, area "managed"). So the gate never waits for
// it, and never trusts an early empty answer either: until managed storage has answered with
// IT's settings, or stayed empty for CONFIG_GRACE_MS after the browser session's first worker
// start, the configuration counts as not known, and the fail-closed ruleset holds (main.js).
// The last value seen is kept in chrome.storage.session.
export const CONFIG_GRACE_MS = 20000;
const RETRY_MS = 500;
let managedCache = null;
let managedPromise = null;
let retryTimer = null;
const knownListeners = new Set();

/** onRetry registers fn for each re-read of managed storage while it is still empty. */
export function onRetry(fn) { knownListeners.add(fn); }

async function since() {
  let t = await store.get('config_since', null);
  if (!Number.isFinite(t)) { t = Date.now(); await store.set('config_since', t); }
  return t;
}

/** managedFresh reads managed storage (once per worker life unless reset) and caches it. */
export function managedFresh(reset = false) {
  if (reset) managedPromise = null;
  if (!managedPromise) {
    managedPromise = Promise.resolve()
      .then(() => chrome.storage.managed.get(null))
      .then((v) => v || {}, () => ({})) // no managed storage (unmanaged profile, Firefox without policy)
      .then(async (v) => {
        managedCache = v;
        await store.set('managed_cache', v);
        // The first reason counts: settings arriving after the grace period ran out do not hide that.
        if (Object.keys(v).length && !(await store.get('config_known', false))) await store.set('config_known', 'managed');
        else await retryWhileEmpty();
        return v;
      });
  }
  return managedPromise;
}

// An empty answer shortly after start may be the policy service not being ready yet: ask
// again every RETRY_MS until the grace period ends (storage.onChanged may come first).
async function retryWhileEmpty() {
  if (retryTimer || await store.get('config_known', false)) return;
  const left = CONFIG_GRACE_MS - (Date.now() - await since());
  if (left <= 0) return; // the last retry ran at the end of the grace period
  retryTimer = setTimeout(() => {
    retryTimer = null;
    managedFresh(true).then(() => { for (const fn of knownListeners) fn(); }).catch(console.error);
  }, Math.min(RETRY_MS, left));
}

/**
 * configKnown reports whether IT's configuration is known: managed storage answered with
 * settings, or stayed empty for the whole grace period of this browser session.
 */
export async function configKnown() {
  if (await store.get('config_known', false)) return true;
  const t0 = await since();
  const m = await managedFresh();
  if (Object.keys(m).length) return true;
  if (Date.now() - t0 < CONFIG_GRACE_MS) return false;
  await store.set('config_known', 'grace'); // what says so: managed storage, or the grace period
  return true;
}

/**
 * configKnownNow is configKnown without reading managed storage, which can take seconds right
 * after start: for answers that must not wait (a notice on the tab, a page's hello).
 */
export async function configKnownNow() {
  if (await store.get('config_known', false)) return true;
  return Date.now() - await since() >= CONFIG_GRACE_MS;
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
