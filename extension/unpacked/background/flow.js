// The approval flow, tab by tab:
//
//   Post pressed -> held (draft stored, "Request approval" offered)
//   approval page -> request + approve at the daemon -> approved session for that tab
//   Post pressed again -> digest of the current text checked -> `open` spends the session ->
//   signed grant verified -> gate opened for one request -> page lets the click through ->
//   request seen -> gate closed -> `published` reported.
//
// Per-tab state lives in chrome.storage.session: drafts[tabId], approved[tabId].

import { digest } from '../lib/digest.js';
import { manifestDigest } from '../lib/manifest.js';
import { platformForUrl, normalizeHost } from '../lib/platforms.js';
import { ACTIONS, expiryMs } from '../lib/grant.js';
import * as store from './store.js';
import * as conn from './connection.js';
import * as gate from './gate.js';
import * as grants from './grants.js';
import * as custody from './custody.js';
import * as accounts from './accounts.js';
import { load, instances, configKnownNow } from './table.js';
import { compareAttachments, seenPost, postParts } from '../lib/post.js';
import { sameAccount } from '../lib/accounts.js';

const MAX_TEXT = 40000;
const APPROVAL_PAGE = 'ui/approve.html';

const errOf = (e) => (e && e.code ? { code: e.code, message: e.message || '', ...(e.until ? { until: e.until } : {}) } : { code: 'internal', message: String(e && e.message || e) });

async function platformOf(url) {
  return platformForUrl(await load(), url, await instances());
}

function notifyTab(tabId, msg) {
  chrome.tabs.sendMessage(tabId, { type: 'fe:state', ...msg }).catch(() => {});
}

/** report tells the daemon about a held-back attempt, when connected; never waits long. */
function reportBlocked(fields) {
  if (!conn.isUp()) return;
  conn.call('blocked', fields).catch(() => {});
}

/**
 * hello answers a content script starting on a page: which platform, composer selectors, and the
 * current state for this tab.
 */
export async function hello(sender) {
  let p = await platformOf(sender.url);
  // Until IT's configuration is known, any page may be a governed instance: hold its
  // Mastodon-shaped composer too (submit answers config_pending).
  if (!p && !(await configKnownNow())) p = (await load()).platforms.find((x) => x.instances_from_policy && x.status === 'supported');
  if (!p) return { ok: false };
  conn.connect().catch(() => {});
  const c = await conn.state();
  const approved = (await store.get('approved', {}))[sender.tab.id];
  return {
    ok: true,
    platform: { id: p.id, name: p.name, composer: p.composer, actions: p.actions || [], media: p.media || null, target: p.target || null, api_hosts: p.api_hosts || [] },
    daemon: c.state === 'up' ? 'up' : 'down',
    approved: approved ? { digest: approved.digest, expires: approved.expires } : null,
  };
}

/** forDigest is a post's manifest without what only the approval window shows. */
const forDigest = (account, action, text, parts) => ({
  account, action, text,
  media: parts.media.map(({ sha256, size, type, name, alt }) => ({ sha256, size, type, name, alt })),
  ...(parts.target ? { target: parts.target } : {}),
});

/**
 * submit decides about one attempt to publish from a content script: {allow:true} once the gate
 * is open for exactly this post, else {allow:false, code}.
 */
export async function submit(sender, msg) {
  const tabId = sender.tab.id;
  const p = await platformOf(sender.url);
  if (!p) return { allow: false, code: (await configKnownNow()) ? 'page_not_understood' : 'config_pending' };
  const host = normalizeHost(new URL(sender.url).host);
  const text = typeof msg.text === 'string' ? msg.text : null;
  if (text === null || text.length > MAX_TEXT) {
    reportBlocked({ host, reason: 'page_not_understood' });
    return { allow: false, code: 'page_not_understood' };
  }
  const action = ACTIONS.includes(msg.action) ? msg.action : 'post';
  const d = await digest(text);
  const parts = postParts(msg);
  if (parts === null) {
    reportBlocked({ host, reason: 'page_not_understood' });
    return { allow: false, code: 'page_not_understood' };
  }

  const approvedAll = await store.get('approved', {});
  const a = approvedAll[tabId];
  if (a && a.platformId === p.id && a.host === host) {
    if (!(expiryMs(a.expires) > Date.now())) {
      await dropApproved(tabId);
      return held(tabId, p, host, action, text, d, 'expired', parts);
    }
    // The whole post, before the text: an image added after approval, or a reply now answering
    // another post, is named as what it is.
    const differs = a.manifest ? compareAttachments({ ...a.manifest, action: a.action }, parts) : [];
    if (differs.length) {
      reportBlocked({ host, reason: 'manifest_mismatch', account: a.account, digest: d });
      await saveDraft(tabId, p, host, action, text, d, parts);
      return { allow: false, code: differs[0], differs };
    }
    if (d !== a.digest) {
      reportBlocked({ host, reason: 'digest_mismatch', account: a.account, digest: d });
      await saveDraft(tabId, p, host, action, text, d, parts);
      return { allow: false, code: 'digest_mismatch' };
    }
    // Custody: a sign-in under way for this session finishes first, so the post goes out signed in.
    const signIn = await custody.ready(a.sessionId);
    // A sign-in that certainly did not happen (the page asked for an e-mailed code, the daemon
    // sent no credentials) leaves the tab signed out: held, unless the tab shows the session's
    // own account after all. Opening the gate would spend the session on a request the platform
    // refuses.
    if (signIn && signIn.failed && signIn.notSignedIn) {
      const w = await accounts.who(tabId, p, host);
      if (w.kind !== 'official' || !sameAccount(w.account, a.account)) {
        reportBlocked({ host, reason: 'sign_in_failed', account: a.account, digest: d });
        await dropApproved(tabId);
        return { allow: false, code: 'sign_in_failed' };
      }
    }
    // The session's one publish goes out only from a tab signed in to the session's account.
    if (await accounts.wrongAccount(tabId, p, host, a.account)) {
      reportBlocked({ host, reason: 'wrong_account', account: a.account, digest: d });
      return { allow: false, code: 'wrong_account' };
    }
    // The whole post as the composer holds it now (it matched the approved one above); the
    // daemon compares its digest with the session's too.
    const md = await manifestDigest(forDigest(a.account, action, text, parts));
    let reply;
    try {
      // The daemon checks the account and action too: an approval for a reply never opens a new post.
      reply = await conn.call('open', { session_id: a.sessionId, account: a.account, action, digest: d, manifest_digest: md });
    } catch (e) {
      const err = errOf(e);
      if (['expired', 'already_used', 'locked', 'not_found'].includes(err.code)) await dropApproved(tabId);
      return { allow: false, ...err };
    }
    await dropApproved(tabId); // spent at the daemon, whatever happens next
    await custody.spent(a.sessionId); // signed out after its one publish
    const g = reply.grant || reply;
    // The grant must name the whole post the composer holds (md), and that must be the post this
    // tab was approved for: a grant for another manifest never opens the gate.
    let v = await grants.check(g, { sessionId: a.sessionId, digest: d, manifestDigest: md, account: a.account, action: a.action });
    if (v.ok && a.manifestDigest && g.manifest_digest !== a.manifestDigest) v = { ok: false, reason: 'manifest_mismatch' };
    if (!v.ok) {
      reportBlocked({ host, reason: 'grant_invalid', account: a.account, digest: d });
      return { allow: false, code: 'grant_invalid', message: v.reason };
    }
    // What the publishing request must carry: checked by the request observer when it goes out.
    const post = { account: a.account, action, text, media: forDigest(a.account, action, text, parts).media, target: parts.target, digest: md };
    await gate.openOnce(p, tabId, host, await instances(), { sessionId: a.sessionId, digest: d, manifestDigest: md, account: a.account, action, post, uploads: parts.uploads });
    return { allow: true };
  }
  // A private account (not in custody): the daemon decides by the policy's private_accounts.
  const w = await accounts.who(tabId, p, host);
  if (w.kind === 'private') {
    const r = await accounts.privatePost(p, host, w);
    if (!r.ok) return { allow: false, code: r.code };
    await gate.openOnce(p, tabId, host, await instances(), { sessionId: null, private: true, digest: d, account: w.account, action });
    return { allow: true };
  }
  return held(tabId, p, host, action, text, d, null, parts);
}

async function held(tabId, p, host, action, text, d, why, parts) {
  await saveDraft(tabId, p, host, action, text, d, parts);
  let code = why || 'approval_needed';
  try {
    await Promise.race([conn.connect(), new Promise((_, rej) => setTimeout(() => rej(new Error('slow')), 2500))]);
  } catch (e) {
    code = e && e.code && e.code !== 'timeout' ? e.code : 'daemon_unavailable';
  }
  reportBlocked({ host, reason: code, digest: d });
  return { allow: false, code };
}

async function saveDraft(tabId, p, host, action, text, d, parts) {
  const media = parts ? parts.media : [];
  const target = parts ? parts.target : null;
  // A request already made stays good only for the same text, attachments and target.
  const same = JSON.stringify([d, action, media.map((f) => [f.sha256, f.alt]), target && target.url]);
  await store.update('drafts', (all) => {
    const prev = all[tabId];
    const keep = prev && prev.same === same && prev.requestId ? { requestId: prev.requestId, account: prev.account } : {};
    return { ...all, [tabId]: { platformId: p.id, platformName: p.name, host, action, text, digest: d, media, target, same, at: Date.now(), ...keep } };
  }, {});
}

async function dropApproved(tabId) {
  await store.update('approved', (all) => { const n = { ...all }; delete n[tabId]; return n; }, {});
}

/** openApproval opens the approval page for the tab's held post. */
export async function openApproval(tabId) {
  const drafts = await store.get('drafts', {});
  if (!drafts[tabId]) return { ok: false, code: 'not_found' };
  const url = chrome.runtime.getURL(`${APPROVAL_PAGE}?tab=${tabId}`);
  const open = await chrome.tabs.query({ url: chrome.runtime.getURL(APPROVAL_PAGE) + '*' });
  const same = open.find((t) => t.url === url);
  if (same) {
    await chrome.windows.update(same.windowId, { focused: true }).catch(() => {});
    return { ok: true };
  }
  if (chrome.windows && chrome.windows.create) {
    await chrome.windows.create({ url, type: 'popup', width: 480, height: 720 });
  } else {
    await chrome.tabs.create({ url });
  }
  return { ok: true };
}

/** draft returns what the approval page shows for a tab. */
export async function draft(tabId) {
  const d = (await store.get('drafts', {}))[tabId];
  const c = await conn.state();
  return { ok: !!d, draft: d || null, daemon: c.state === 'up' ? 'up' : 'down', error: c.state === 'up' ? null : { code: c.code || 'daemon_unavailable', message: c.message || '' } };
}

/** lists returns the confirmed approvers and the accounts of the draft's platform. */
export async function lists(tabId) {
  const d = (await store.get('drafts', {}))[tabId];
  try {
    const [ap, ac] = await Promise.all([conn.call('approvers'), conn.call('accounts')]);
    const accounts = (ac.accounts || []).filter((x) => !d || x.platform === d.platformId);
    return { ok: true, approvers: ap.approvers || [], accounts };
  } catch (e) {
    return { ok: false, error: errOf(e) };
  }
}

/**
 * handOver gives the daemon the bytes of each file it names (policy keep_media), read in chunks
 * from the tab that holds them, in order from offset 0. Throws media_not_kept when the tab no
 * longer has a file, and whatever the daemon answers (a file whose bytes are not the approved
 * ones, too large, a store it cannot write).
 */
async function handOver(tabId, requestId, shas) {
  for (const sha256 of shas) {
    let offset = 0;
    for (;;) {
      const part = await chrome.tabs.sendMessage(tabId, { type: 'fe:media', sha256, offset }, { frameId: 0 }).catch(() => null);
      if (!part || !part.ok) {
        throw Object.assign(new Error(`the tab no longer holds the attached file ${sha256.slice(0, 12)}…: attach it again, then ask again`), { code: 'media_not_kept' });
      }
      const r = await conn.call('media', { request_id: requestId, sha256, offset, ...(part.length ? { data: part.data } : {}) });
      offset += part.length;
      if (r.done) break;
      if (!part.length || offset >= part.size) {
        throw Object.assign(new Error(`the daemon did not keep the file ${sha256.slice(0, 12)}… after all its bytes`), { code: 'media_not_kept' });
      }
    }
  }
}

/**
 * approve creates the request (once per text and account) and submits one approver's code.
 * Returns {ok, done} with done=false while a second approver is needed.
 */
export async function approve(tabId, { account, approver, code }) {
  const drafts = await store.get('drafts', {});
  const d = drafts[tabId];
  if (!d) return { ok: false, error: { code: 'not_found', message: 'no held post for this tab' } };
  if (typeof account !== 'string' || typeof approver !== 'string' || !/^[0-9]{6,8}$/.test(code || '')) {
    return { ok: false, error: { code: 'bad_request', message: 'pick an account and an approver and enter the 6-digit code' } };
  }
  try {
    let requestId = d.requestId && d.account === account ? d.requestId : null;
    const parts = { media: d.media || [], target: d.target || null };
    const m = forDigest(account, d.action, d.text, parts);
    const md = await manifestDigest(m);
    if (!requestId) {
      const r = await conn.call('request', {
        account, action: d.action, text: d.text, digest: d.digest, manifest_digest: md,
        ...(m.media.length ? { media: m.media } : {}), ...(m.target ? { target: m.target } : {}),
      });
      const req = r.request || r;
      requestId = req.id;
      // keep_media: the daemon keeps a copy of each file before any approval counts.
      if (Array.isArray(req.media_to_keep) && req.media_to_keep.length) {
        try {
          await handOver(tabId, requestId, req.media_to_keep);
        } catch (e) {
          // The next try makes a new request: this one would only count against the open ones.
          await conn.call('cancel', { request_id: requestId }).catch(() => {});
          throw e;
        }
      }
      await store.update('drafts', (all) => (all[tabId] ? { ...all, [tabId]: { ...all[tabId], requestId, account } } : all), {});
    }
    const res = await conn.call('approve', { request_id: requestId, approver, code });
    const req = res.request || {};
    const sessionId = (res.session && res.session.id) || req.session_id || (res.grant && res.grant.session_id);
    if (!sessionId) {
      return { ok: true, done: false, needed: req.approvals_needed || 2, have: (req.approved_by || []).length };
    }
    const expires = (res.session && res.session.expires) || (res.grant && res.grant.expires) || req.expires;
    const digestApproved = (res.session && res.session.digest) || req.digest || d.digest;
    await store.update('approved', (all) => ({ ...all, [tabId]: {
      sessionId, requestId, account, action: d.action, digest: digestApproved, expires,
      manifest: { media: m.media, target: m.target || null }, manifestDigest: (res.session && res.session.manifest_digest) || md,
      approvedBy: (res.session && res.session.approved_by) || req.approved_by || [approver], platformId: d.platformId, host: d.host,
    } }), {});
    notifyTab(tabId, { state: 'approved' });
    // Custody: sign the browser in to the account for this session (not awaited: the approval page answers now).
    custody.begin(tabId, { sessionId, account, expires }).catch((e) => console.warn('foureyes: sign-in', e && e.message));
    return { ok: true, done: true, expires };
  } catch (e) {
    const err = errOf(e);
    // media_not_kept: the next try makes the request again and hands the files over again.
    if (['not_found', 'expired', 'denied', 'locked', 'already_used', 'media_not_kept'].includes(err.code)) {
      await store.update('drafts', (all) => (all[tabId] ? { ...all, [tabId]: { ...all[tabId], requestId: null } } : all), {});
    }
    return { ok: false, error: err };
  }
}

/** cancel withdraws the tab's pending request. */
export async function cancel(tabId) {
  const d = (await store.get('drafts', {}))[tabId];
  if (d && d.requestId && conn.isUp()) await conn.call('cancel', { request_id: d.requestId }).catch(() => {});
  await store.update('drafts', (all) => { const n = { ...all }; delete n[tabId]; return n; }, {});
  return { ok: true };
}

/** forgetTab drops everything about a closed tab. */
export async function forgetTab(tabId) {
  await cancel(tabId);
  await dropApproved(tabId);
}

/** onDaemonEvent reacts to revocations, expiry and lock. */
export async function onDaemonEvent(ev) {
  if (!ev || typeof ev !== 'object') return;
  if (ev.kind === 'lock') {
    await gate.closeAll();
    const all = await store.get('approved', {});
    await store.set('approved', {});
    for (const tabId of Object.keys(all)) notifyTab(Number(tabId), { state: 'revoked', code: 'locked' });
    return;
  }
  if (ev.kind === 'session' && ev.session && ev.session.state && ev.session.state !== 'active') {
    // Revoked or expired: close a gate opened for it. (A consumed session is the one this
    // extension just spent with `open`; its gate closes on the request or the timeout.)
    if (ev.session.state !== 'consumed') await gate.closeFor(ev.session.id);
    const all = await store.get('approved', {});
    for (const [tabId, a] of Object.entries(all)) {
      if (a.sessionId === ev.session.id) {
        await dropApproved(Number(tabId));
        if (ev.session.state !== 'consumed') notifyTab(Number(tabId), { state: 'revoked', code: ev.session.state === 'expired' ? 'expired' : 'locked' });
      }
    }
  }
}

/** onConnectionState tells the platform tabs whether the daemon is reachable. */
export async function onConnectionState(c) {
  const drafts = await store.get('drafts', {});
  for (const tabId of Object.keys(drafts)) notifyTab(Number(tabId), { daemon: c.state === 'up' ? 'up' : 'down' });
}

/** status is what the popup shows. */
export async function status() {
  const c = await conn.state();
  let daemon = null;
  if (conn.isUp()) {
    try { daemon = (await conn.call('status')).status || null; } catch { daemon = null; }
  }
  const approved = await store.get('approved', {});
  return { ok: true, connection: { state: c.state, code: c.code || null, message: c.message || null, version: c.version || null }, daemon, approvedTabs: Object.keys(approved).length };
}

/**
 * published reports what went out through an opened gate: the digest of the text found in the
 * request body when the table says where it is, else the digest that was checked before the
 * gate opened. A body that differs from the approved text is the daemon's alarm to raise.
 */
export async function published(allow, seen) {
  // A private account's post: no session to report (the daemon recorded private_post_allowed).
  if (allow.private) { notifyTab(allow.tabId, { state: 'notice', code: 'published_private' }); return; }
  const bodyText = seen ? seen.text : null;
  const mismatch = seen ? seen.mismatch : null;
  // What went out is not the approved post (a like through a repost's allow, a thread): the
  // digest of a description of it, which never equals an approved text's, raises the alarm.
  const d = mismatch ? await digest(`foureyes: not the approved request: ${mismatch}`) : typeof bodyText === 'string' ? await digest(bodyText) : allow.digest;
  if (mismatch) console.warn(`foureyes: ${mismatch}`);
  // The whole post the request carried, as a manifest digest: the daemon compares it with the
  // session's and raises publish_mismatch when another image or another target went out.
  let md = mismatch ? d : allow.post ? allow.post.digest : (allow.manifestDigest || null);
  if (!mismatch && allow.post && seen && seen.fields) {
    try {
      const p = (await load()).platforms.find((x) => x.id === allow.platformId);
      const sha = async (s) => (await import('../lib/digest.js')).toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
      md = await manifestDigest(await seenPost(p, allow.post, seen.fields, allow.uploads || {}, allow.host, sha));
    } catch (e) {
      console.warn('foureyes: could not read the published post', e && e.message);
      md = await digest(`foureyes-unreadable-post:${allow.sessionId}`); // never equal to an approved one
    }
  }
  conn.call('published', { session_id: allow.sessionId, digest: d, ...(md ? { manifest_digest: md } : {}) }).catch((e) => console.warn('foureyes: could not report publish', e));
  notifyTab(allow.tabId, { state: d === allow.digest && (!allow.post || md === allow.post.digest) ? 'published' : 'published_mismatch' });
  // The session's one publish is done: sign the browser out.
  await custody.end(allow.sessionId, 'published');
}
