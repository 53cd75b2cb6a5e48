// The one message switch of the worker, in trust tiers.
//
// Tier 1, content scripts: they run inside the platform's page, so everything they send is
// untrusted. Only messages on CONTENT_MESSAGES are handled, only from a top-level frame of a
// real tab; the platform is derived from the sender's URL, never from the message.
// Tier 2, extension pages (approval page, popup): the sender must be one of this extension's
// own pages.
// Anything else is dropped without an answer.

import * as flow from './flow.js';
import * as conn from './connection.js';
import * as custody from './custody.js';
import * as rotation from './rotation.js';

export const CONTENT_MESSAGES = new Set(['cs:hello', 'cs:submit', 'cs:open-approval', 'cs:signin-hello', 'cs:signin-step', 'cs:signin-stop', 'cs:rotate-hello', 'cs:rotate-begin', 'cs:rotate-person', 'cs:rotate-fill']);
export const UI_MESSAGES = new Set(['ui:draft', 'ui:lists', 'ui:approve', 'ui:cancel', 'ui:status', 'ui:reconnect']);

function extensionOrigin() {
  return new URL(chrome.runtime.getURL('')).origin;
}

function fromExtensionPage(sender) {
  if (sender.id !== chrome.runtime.id || typeof sender.url !== 'string') return false;
  try { return new URL(sender.url).origin === extensionOrigin(); } catch { return false; }
}

function fromContentScript(sender) {
  if (sender.id !== chrome.runtime.id || !sender.tab || !Number.isInteger(sender.tab.id) || sender.tab.id < 0) return false;
  if (sender.frameId !== 0 || typeof sender.url !== 'string') return false;
  try { return new URL(sender.url).protocol === 'https:'; } catch { return false; }
}

const tabArg = (msg) => (Number.isInteger(msg.tab) && msg.tab >= 0 ? msg.tab : null);

/**
 * onMessage is the runtime.onMessage listener. Returns true when it will answer asynchronously.
 */
export function onMessage(msg, sender, sendResponse) {
  if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return false;
  let work;
  if (CONTENT_MESSAGES.has(msg.type)) {
    if (!fromContentScript(sender) || fromExtensionPage(sender)) return false;
    switch (msg.type) {
      case 'cs:hello': work = flow.hello(sender); break;
      case 'cs:submit': work = flow.submit(sender, { text: msg.text, action: msg.action, media: msg.media, target: msg.target, uploads: msg.uploads }); break;
      case 'cs:open-approval': work = flow.openApproval(sender.tab.id); break;
      // custody.js answers only the sign-in page of a live session's sign-in host.
      case 'cs:signin-hello': work = custody.hello(sender); break;
      case 'cs:signin-step': work = custody.step(sender, msg.fields); break;
      case 'cs:signin-stop': work = custody.stopSignIn(sender, String(msg.notice || '')); break;
      // rotation.js answers only its own tab on the change-password page of a rotate session.
      case 'cs:rotate-hello': work = rotation.hello(sender); break;
      case 'cs:rotate-begin': work = rotation.begin(sender); break;
      case 'cs:rotate-person': work = rotation.person(sender, Number(msg.index)); break;
      case 'cs:rotate-fill': work = rotation.fill(sender); break;
    }
  } else if (UI_MESSAGES.has(msg.type)) {
    if (!fromExtensionPage(sender)) return false;
    const tab = tabArg(msg);
    switch (msg.type) {
      case 'ui:draft': work = flow.draft(tab); break;
      case 'ui:lists': work = flow.lists(tab); break;
      case 'ui:approve': work = flow.approve(tab, { account: msg.account, approver: msg.approver, code: msg.code }); break;
      case 'ui:cancel': work = flow.cancel(tab); break;
      case 'ui:status': work = flow.status(); break;
      case 'ui:reconnect': work = conn.reconnectNow().then(() => flow.status(), () => flow.status()); break;
    }
  } else {
    return false;
  }
  work.then(sendResponse, (e) => sendResponse({ ok: false, allow: false, error: { code: (e && e.code) || 'internal', message: String(e && e.message || e) } }));
  return true;
}
