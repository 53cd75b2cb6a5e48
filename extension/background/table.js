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

/** managed returns the IT-managed settings, {} when there are none. */
export async function managed() {
  try {
    return (await chrome.storage.managed.get(null)) || {};
  } catch {
    return {}; // no managed storage (unmanaged profile, or Firefox without policy)
  }
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
