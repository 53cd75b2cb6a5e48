// The native host's hello over a port that stays open while the extension is connected to the
// daemon: Firefox only.
//
// Firefox runs the background as an event page and suspends it after 30 s without an extension
// event, open WebSocket or not (Chromium keeps a service worker with an active WebSocket alive).
// Suspended, it drops the connection, and the daemon's events of that time are lost: a rotate
// session or a posting session approved on the command line would never reach it. Firefox keeps
// an event page alive while it holds a native-messaging port (ext-backgroundPage.js,
// hasActiveNativeAppPorts), so there the hello goes over runtime.connectNative, and the port
// (the host waits on its stdin, PROTOCOL.md §1) is held until the connection ends.

import { NATIVE_HOST } from '../lib/protocol.js';

/** @type {any} */
let port = null;
let seq = 0;
/** Hellos waiting for the host's answer, by id. */
const waiting = new Map();

const failure = (message) => ({ v: 1, type: 'error', error: { code: 'daemon_unavailable', message } });

function open() {
  if (port) return port;
  const p = chrome.runtime.connectNative(NATIVE_HOST);
  p.onMessage.addListener((m) => {
    const done = m && Number.isInteger(m.id) ? waiting.get(m.id) : null;
    if (done) { waiting.delete(m.id); done(m); }
  });
  p.onDisconnect.addListener(() => {
    if (port === p) port = null;
    const why = (p.error && p.error.message) || (chrome.runtime.lastError && chrome.runtime.lastError.message) || 'the native host closed the port';
    for (const done of waiting.values()) done(failure(why));
    waiting.clear();
  });
  port = p;
  return p;
}

/**
 * hello sends msg (the native hello) over the held port, opening it when needed, and resolves
 * with the host's answer, or an error answer when the port fails or nothing comes within ms.
 */
export function hello(msg, ms) {
  return new Promise((resolve) => {
    const id = ++seq;
    const timer = setTimeout(() => { if (waiting.delete(id)) resolve(failure('the native host did not answer in time')); }, ms);
    waiting.set(id, (m) => { clearTimeout(timer); resolve(m); });
    try {
      open().postMessage({ ...msg, id });
    } catch (e) {
      waiting.delete(id);
      clearTimeout(timer);
      resolve(failure(String(e && e.message || e)));
    }
  });
}

/** release closes the held port (the connection to the daemon ended): the event page may sleep again. */
export function release() {
  const p = port;
  port = null;
  if (p) { try { p.disconnect(); } catch { /* already gone */ } }
  for (const done of waiting.values()) done(failure('the port to the native host was closed'));
  waiting.clear();
}
