// Page gate: holds back every way the platform's composer can publish (click on a submit button,
// the keyboard shortcut, a form submit), before the page's own handlers run, and asks the worker.
// The worker answers "allow" only when the gate is open for exactly this text; then the held
// action is replayed once. Otherwise a short notice says why and offers "Request approval",
// which opens the extension's own approval page: no code is ever typed into the platform's page.
//
// Runs in the platform's page (classic script, no imports). Treats the page as hostile: the
// notice lives in a closed shadow root and its button needs a real (trusted) click.

(() => {
  if (window.__foureyesGate) return;
  Object.defineProperty(window, '__foureyesGate', { value: true });

  // BEGIN notices: generated from shared/notices.json by extension/scripts/sync-shared.mjs; do not edit.
  const NOTICES = {
    "approval_needed": "This account needs approval from a press officer before posting.",
    "daemon_unavailable": "foureyes daemon is not running: start it with `foureyes daemon`.",
    "bridge_down": "foureyes is running, but another program on this computer holds the port the browser talks to it on. Tell IT; foureyes keeps trying and connects by itself once the port is free.",
    "bad_code": "That code is wrong. Check the approver picked and their current code.",
    "replayed": "That code was already used. Wait for the next code on the phone (at most 30 seconds).",
    "throttled": "Too many wrong codes for this approver: try again later.",
    "throttled_until": "Too many wrong codes for this approver: try again after {time}.",
    "self_approval": "You cannot approve your own post: another person must give the code.",
    "already_approved": "This approver has already approved this post: a second, different approver must give the code.",
    "not_authorised": "This approver is not authorised for this account.",
    "outside_hours": "Posting is not allowed outside posting hours for this account.",
    "expired": "The approval ran out of time. Request a new approval.",
    "already_used": "This approval was already used for one post. Request a new approval.",
    "locked": "All approvals were revoked (\"Lock now\"). Request a new approval.",
    "denied": "The press officer denied this post.",
    "digest_mismatch": "The text was changed after approval. A new approval is needed for the new text.",
    "media_added": "An image or video was added after approval, so nothing was published. Request approval for the post with it.",
    "media_removed": "An approved image or video was removed after approval, so nothing was published. Request approval for the post as it is now.",
    "media_changed": "The images or videos were replaced or reordered after approval, so nothing was published. Request approval for the post as it is now.",
    "alt_changed": "The description (alt text) of an image was changed after approval, so nothing was published. Request approval for the post as it is now.",
    "reply_target_changed": "This reply answers a different post than the approved one, so nothing was published. Request approval for this reply.",
    "quote_target_changed": "This post quotes a different post than the approved one, so nothing was published. Request approval for this quote.",
    "repost_target_changed": "This is a repost of a different post than the approved one, so nothing was published. Request approval for this repost.",
    "scope_mismatch": "The approval was for another account or another kind of post. Request approval for this one.",
    "no_keyring": "foureyes cannot reach the keyring of this computer. Ask IT.",
    "keyring_locked": "The keyring of this computer is locked: unlock it (log in again) and retry.",
    "audit_unavailable": "The audit log cannot be written, so nothing can be approved. Ask IT.",
    "invalid_policy": "The foureyes policy on this computer is invalid, so nothing can be approved. Ask IT.",
    "not_found": "The daemon does not know this request or account any more. Request a new approval.",
    "not_confirmed": "This approver has not finished enrolment yet.",
    "private_account": "This browser is signed in to a private account here, and your organisation holds back posts from private accounts on this platform. Sign out of it, or post from elsewhere.",
    "unverified": "IT has not yet checked this account or approver, so nothing can be approved for it. Ask IT.",
    "too_many_requests": "You have too many open requests. Cancel some first.",
    "forbidden": "The daemon refused this browser. Ask IT to allow the extension (`foureyes extension allow`).",
    "unsupported": "The extension and the daemon versions do not match. Ask IT to update foureyes.",
    "page_not_understood": "foureyes does not understand this page, so it cannot send the post. Nothing was published.",
    "grant_invalid": "The approval could not be verified, so nothing was published. Request a new approval.",
    "timeout": "The daemon did not answer in time. Try again.",
    "approved": "Approved. Press Post again to publish this exact text.",
    "published": "Published with approval.",
    "published_mismatch": "The page sent a text other than the approved one. The press office has been alerted.",
    "platform_unrecognised": "foureyes stopped a post this page sent in a way foureyes does not recognise yet. Nothing was published; IT has been told so they can update foureyes.",
    "signed_in": "Signed in to the official account for this approved post. Press Post to publish the approved text.",
    "sign_in_failed": "foureyes could not sign this browser in to the official account, so the post cannot go out signed in. Request a new approval; if it happens again, tell IT.",
    "signed_out": "The approved post is done: this browser is signed out of the official account again.",
    "sign_out_failed": "foureyes could not sign this browser out of the official account completely. The press office has been alerted; close the browser and tell IT.",
    "wrong_account": "This browser is signed in here to another account than the one this post was approved for, so nothing was published. Switch to the approved account, or request approval for this one.",
    "published_private": "Published from your private account: your organisation lets private accounts post without approval here.",
    "sign_in_email_code": "Bluesky asks for a code it e-mailed to the official account, which foureyes cannot enter, so this browser is not signed in and nothing was published. Tell IT: the account must have e-mail sign-in codes turned off for foureyes to sign in.",
    "rotate_email_code": "foureyes is changing the official account's password, and Bluesky has e-mailed a code to the account's address. An administrator types that code into the code field on this page; foureyes fills in the new password itself, so nobody sees it. If no code is typed within 10 minutes, the change is dropped and the old password keeps working.",
    "interaction_blocked": "foureyes holds back likes, follows and similar actions here outside an approved posting session: on this platform they go out the same way as posts. Nothing was sent.",
    "config_pending": "foureyes is still reading this computer's settings, so nothing can be posted on this site yet. Nothing was published; try again in a few seconds.",
    "code_check_unavailable": "Not approved: the organisation's code server cannot check the approver's code right now. Try again in a minute; if it persists, tell IT.",
    "media_not_kept": "Not approved: this organisation keeps a copy of every attached file, and foureyes could not keep this post's files (one may be too large, or was changed or removed in the tab). Nothing was published; attach the files again and ask for approval again, or tell IT if it persists."
  };
  // END notices
  const WITH_REQUEST = new Set(['approval_needed', 'digest_mismatch', 'scope_mismatch', 'expired', 'already_used', 'locked', 'grant_invalid',
    'media_added', 'media_removed', 'media_changed', 'alt_changed', 'reply_target_changed', 'quote_target_changed', 'repost_target_changed']);

  let config = null; // {id, name, composer, actions}
  let configWaiters = [];
  let passing = false; // true while a held action is replayed
  let busy = false;

  // ---- talking to the worker -------------------------------------------------------------
  function ask(msg) {
    return new Promise((resolve) => {
      try {
        chrome.runtime.sendMessage(msg, (reply) => {
          if (chrome.runtime.lastError) resolve(null); else resolve(reply);
        });
      } catch { resolve(null); }
    });
  }

  ask({ type: 'cs:hello' }).then((r) => {
    if (r && r.ok) config = r.platform;
    // Lets tests (and support staff) see that the page gate is active on this page.
    document.documentElement.setAttribute('data-foureyes', config ? 'on' : 'off');
    for (const w of configWaiters) w();
    configWaiters = [];
  });

  chrome.runtime.onMessage.addListener((msg, sender) => {
    if (sender.id !== chrome.runtime.id || !msg || msg.type !== 'fe:state') return;
    if (msg.state === 'approved') show('approved', false);
    else if (msg.state === 'published') show('published', false, 4000);
    else if (msg.state === 'published_mismatch') show('published_mismatch', false);
    else if (msg.state === 'revoked') show(msg.code || 'locked', true);
    // The network gate stopped a request this gate did not hold (or the settings are not read
    // yet): nothing went out, and the page must say so.
    else if (msg.state === 'notice' && Object.hasOwn(NOTICES, msg.code)) {
      // Signed in or out (custody) is news, not a reason: it never hides a held post's notice.
      if ((msg.code === 'signed_in' || msg.code === 'signed_out') && host && host.isConnected && WITH_REQUEST.has(host.dataset.reason)) return;
      show(msg.code, false);
    }
    else if (msg.daemon === 'down' && host && host.dataset.reason === 'approval_needed') show('daemon_unavailable', true);
  });

  // ---- reading the page -------------------------------------------------------------------
  function firstMatch(el, selectors) {
    for (const s of selectors || []) {
      try { const m = el.closest(s); if (m) return m; } catch { /* bad selector in table */ }
    }
    return null;
  }

  // One selector list, checked with one native closest() per click: busy pages click a lot.
  let submitSel = null;
  function submitSelector() {
    if (submitSel === null) {
      const ok = (config.composer.submit || []).filter((s) => { try { document.querySelector(s); return true; } catch { return false; } });
      submitSel = ok.join(',') || ':not(*)';
    }
    return submitSel;
  }

  function submitButtonOf(ev) {
    if (!config) return null;
    const t = ev.target;
    return t instanceof Element ? t.closest(submitSelector()) : null;
  }

  function composerIn(root) {
    for (const s of config.composer.text) {
      try { const m = root.querySelector(s); if (m) return m; } catch {}
    }
    return null;
  }

  // The composer that belongs to el: el itself, or the nearest one up the tree.
  function composerNear(el) {
    const self = firstMatch(el, config.composer.text);
    if (self) return self;
    for (let n = el; n && n !== document.documentElement; n = n.parentElement) {
      const c = composerIn(n);
      if (c) return c;
    }
    return composerIn(document);
  }

  function textOf(el) {
    if (!el) return null;
    if (el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement) return el.value;
    return el.innerText;
  }

  function actionOf(el) {
    for (const rule of config.actions || []) {
      try {
        if (rule.url_regex && !new RegExp(rule.url_regex).test(location.pathname)) continue;
        if (rule.has) {
          const scope = rule.scope ? el.closest(rule.scope) : document.documentElement;
          if (!scope || !scope.querySelector(rule.has)) continue;
        }
        return rule.action;
      } catch { continue; }
    }
    return 'post';
  }

  function isShortcut(ev) {
    if (!config || ev.key !== 'Enter') return false;
    const combos = config.composer.shortcut || [];
    const mods = [ev.ctrlKey && 'Control', ev.metaKey && 'Meta', ev.altKey && 'Alt', ev.shiftKey && 'Shift'].filter(Boolean);
    const got = [...mods, 'Enter'].join('+');
    return combos.includes(got);
  }

  // ---- holding and replaying --------------------------------------------------------------
  function hold(ev) {
    ev.preventDefault();
    ev.stopImmediatePropagation();
  }

  async function decide(origin, replay, repostOf) {
    if (busy) return;
    busy = true;
    try {
      let text, action, target = null, media = [];
      if (repostOf !== undefined) {
        // A repost has no text of its own: what is approved is the address of the reposted post.
        action = 'repost';
        target = repostOf ? readTarget(repostOf) : null;
        if (!target) { show('page_not_understood', false); return; }
        text = target.url;
      } else {
        const composer = composerNear(origin);
        text = textOf(composer);
        if (text === null) { show('page_not_understood', false); return; }
        action = actionOf(composer || origin);
        if (action === 'reply' || action === 'quote') target = targetNear(composer || origin);
        media = await attachmentsNear(composer || origin);
        if (media === null) { show('page_not_understood', false); return; }
      }
      const r = await ask({ type: 'cs:submit', text, action, media, target, uploads: Object.fromEntries(uploaded) });
      if (r && r.allow) {
        hide();
        passing = true;
        try { replay(); } finally { passing = false; }
        return;
      }
      const code = (r && (r.code || (r.error && r.error.code))) || 'daemon_unavailable';
      show(code, WITH_REQUEST.has(code));
    } finally {
      busy = false;
    }
  }

  function needsConfig(ev) {
    // Before the worker told us the selectors, hold anything that looks like a submit and retry.
    if (config) return false;
    const t = ev.target;
    if (!(t instanceof Element)) return false;
    const looks = t.closest('button, [role=button], form, textarea, [contenteditable=true], input[type=submit]');
    if (!looks || (ev.type === 'keydown' && ev.key !== 'Enter') || (ev.type === 'click' && !t.closest('button, [role=button], input[type=submit]'))) return false;
    hold(ev);
    return true;
  }

  function onClick(ev) {
    if (passing) return;
    if (needsConfig(ev)) return;
    if (onRepostClick(ev)) return;
    const btn = submitButtonOf(ev);
    if (!btn) return;
    hold(ev);
    const composer = composerNear(btn);
    decide(btn, () => currentButton(btn, composer).click());
  }

  // Pages re-render their buttons: by the time the worker answered, the button clicked may have
  // been replaced. Use the live one that belongs to the same composer.
  function currentButton(btn, composer) {
    if (btn.isConnected) return btn;
    const sels = config.composer.submit;
    for (let n = composer; n; n = n.parentElement) {
      for (const s of sels) {
        try { const m = n.querySelector(s); if (m) return m; } catch {}
      }
    }
    return btn;
  }

  function onKey(ev) {
    if (passing || !isShortcut(ev)) return;
    const t = ev.target instanceof Element ? ev.target : null;
    if (!t || !firstMatch(t, config.composer.text) && !t.closest(config.composer.form || ':not(*)')) return;
    hold(ev);
    if (ev.type !== 'keydown') return;
    const init = { key: ev.key, code: ev.code, keyCode: 13, which: 13, ctrlKey: ev.ctrlKey, metaKey: ev.metaKey, altKey: ev.altKey, shiftKey: ev.shiftKey, bubbles: true, cancelable: true, composed: true };
    decide(t, () => { t.dispatchEvent(new KeyboardEvent('keydown', init)); });
  }

  function onSubmit(ev) {
    if (passing) return;
    const form = ev.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (!config) { hold(ev); return; }
    const isComposerForm = (config.composer.form && form.matches(config.composer.form)) || composerIn(form);
    if (!isComposerForm) return;
    hold(ev);
    const submitter = ev.submitter || null;
    decide(composerIn(form) || form, () => form.requestSubmit(submitter && form.contains(submitter) ? submitter : undefined));
  }

  // ---- the whole post: attachments, the target post, uploads ----------------------------
  // Every file attached in the composer (file picker, drag and drop, paste) is hashed the moment
  // it is attached, from the bytes the page received: sha256 -> {sha256, size, type, name, thumb}.
  const attached = new Map();
  const attachOrder = [];
  // The files themselves, sha256 -> Blob, for a daemon that keeps copies (policy keep_media):
  // the worker asks for them chunk by chunk ('fe:media') when the daemon names them.
  const blobs = new Map();
  const hashing = new Set();
  // What the upload observer (content/observe.js, in the page's world) reported: media id -> sha256.
  const uploaded = new Map();
  const chunks = new Map(); // media id -> [segments] of a chunked upload under way
  const MAX_FILE = 1024 * 1024 * 1024;

  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const sha256 = async (buf) => hex(await crypto.subtle.digest('SHA-256', buf));
  const mimeOf = (t) => (typeof t === 'string' && /^[a-z]+\/[a-z0-9.+-]+$/.test(t.toLowerCase()) ? t.toLowerCase() : 'application/octet-stream');

  // A small picture of the file for the approval window only (never sent to the daemon).
  async function thumbnail(file) {
    const draw = (src, w, h) => {
      const k = Math.min(1, 160 / Math.max(w, h, 1));
      const c = document.createElement('canvas');
      c.width = Math.max(1, Math.round(w * k)); c.height = Math.max(1, Math.round(h * k));
      c.getContext('2d').drawImage(src, 0, 0, c.width, c.height);
      return c.toDataURL('image/jpeg', 0.7);
    };
    const within = (p) => Promise.race([p, new Promise((r) => setTimeout(() => r(null), 3000))]);
    try {
      if (file.type.startsWith('image/')) {
        const bmp = await within(createImageBitmap(file));
        return bmp ? draw(bmp, bmp.width, bmp.height) : null;
      }
      if (file.type.startsWith('video/')) {
        const url = URL.createObjectURL(file);
        try {
          const v = document.createElement('video');
          v.muted = true; v.preload = 'auto'; v.src = url;
          const ok = await within(new Promise((res) => { v.onloadeddata = () => res(true); v.onerror = () => res(false); }));
          return ok ? draw(v, v.videoWidth, v.videoHeight) : null; // the first frame
        } finally { URL.revokeObjectURL(url); }
      }
    } catch { /* no picture: the approval window says so */ }
    return null;
  }

  function capture(files) {
    for (const file of files || []) {
      if (!(file instanceof File) || file.size > MAX_FILE) continue;
      const job = (async () => {
        const sha = await sha256(await file.arrayBuffer());
        attachOrder.push(sha);
        if (!blobs.has(sha)) blobs.set(sha, file);
        if (!attached.has(sha)) attached.set(sha, { sha256: sha, size: file.size, type: mimeOf(file.type), name: String(file.name || '').slice(0, 255), thumb: await thumbnail(file) });
      })().catch(() => {});
      hashing.add(job);
      job.finally(() => hashing.delete(job));
    }
  }

  function inComposerArea(t) {
    return config && config.media && t instanceof Element && (!config.media.scope || t.closest(config.media.scope) || t.closest('input[type=file]'));
  }
  // A chunk of an attached file for the worker, which hands it to the daemon (keep_media). Only
  // the extension's own worker can ask (runtime messages from this extension); the daemon checks
  // the whole file's SHA-256 against the approved manifest.
  const MEDIA_CHUNK = 32 * 1024;
  chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    if (sender.id !== chrome.runtime.id || !msg || msg.type !== 'fe:media') return;
    const b = blobs.get(msg.sha256);
    const off = Number.isSafeInteger(msg.offset) && msg.offset >= 0 ? msg.offset : -1;
    if (!b || off < 0 || off > b.size) { sendResponse({ ok: false }); return; }
    b.slice(off, off + MEDIA_CHUNK).arrayBuffer().then((buf) => {
      const bytes = new Uint8Array(buf);
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      sendResponse({ ok: true, data: btoa(bin), length: bytes.length, size: b.size });
    }, () => sendResponse({ ok: false }));
    return true;
  });

  window.addEventListener('change', (ev) => { const t = ev.target; if (t instanceof HTMLInputElement && t.type === 'file' && config && config.media) capture(t.files); }, true);
  window.addEventListener('drop', (ev) => { if (inComposerArea(ev.target) && ev.dataTransfer) capture(ev.dataTransfer.files); }, true);
  window.addEventListener('paste', (ev) => { if (inComposerArea(ev.target) && ev.clipboardData) capture(ev.clipboardData.files); }, true);

  function altOf(preview) {
    const sel = config.media.alt;
    const el = sel ? preview.querySelector(sel) : null;
    if (!el) return '';
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) return el.value;
    return el.getAttribute('alt') || el.getAttribute('aria-label') || '';
  }

  // The bytes behind a preview: the page shows attached files through blob: addresses of the
  // file itself, which this script can read (same origin).
  async function previewSha(preview) {
    const m = preview.querySelector('img[src^="blob:"], video[src^="blob:"], source[src^="blob:"]');
    if (!m) return null;
    try {
      const b = await (await fetch(m.getAttribute('src'))).blob();
      const sha = await sha256(await b.arrayBuffer());
      if (!attached.has(sha)) attached.set(sha, { sha256: sha, size: b.size, type: mimeOf(b.type), name: '', thumb: null });
      if (!blobs.has(sha)) blobs.set(sha, b);
      return sha;
    } catch { return null; }
  }

  /**
   * attachmentsNear lists the composer's attachments in order, as the previews show them; null
   * when the previews cannot be tied to the attached bytes (fail closed).
   */
  async function attachmentsNear(el) {
    if (!config.media) return [];
    await Promise.all([...hashing]);
    const scope = (config.media.scope && el.closest(config.media.scope)) || document;
    let previews = [];
    try { previews = [...scope.querySelectorAll(config.media.preview)]; } catch { return null; }
    const shas = await Promise.all(previews.map(previewSha));
    if (shas.some((x) => x === null)) {
      // No readable picture: by attachment order, when the count leaves no doubt.
      const live = attachOrder.slice(-previews.length);
      if (previews.length !== attachOrder.length) return null;
      for (let i = 0; i < shas.length; i++) if (shas[i] === null) shas[i] = live[i];
    }
    return shas.map((sha, i) => ({ ...attached.get(sha), alt: altOf(previews[i]).slice(0, 2000) }));
  }

  function readTarget(post) {
    const t = config.target;
    if (!t || !post) return null;
    // The first link to a post: a post also links its author's profile.
    let links = [];
    try { links = [...(post.matches(t.link) ? [post] : []), ...post.querySelectorAll(t.link)]; } catch { return null; }
    let m = null;
    for (const a of links) {
      try { m = new RegExp(t.id_regex).exec(new URL(a.getAttribute('href') || '', location.href).pathname); } catch { m = null; }
      if (m && m[1]) break;
    }
    if (!m || !m[1]) return null;
    const q = (sel) => { try { const e = sel && post.querySelector(sel); return e ? e.innerText.trim() : ''; } catch { return ''; } };
    return {
      url: t.url_template.replace('{id}', encodeURIComponent(m[1])).replace('{instance}', location.hostname),
      author: q(t.author).split('\n').find((x) => x.startsWith('@')) || q(t.author).slice(0, 100),
      excerpt: [...q(t.text)].slice(0, 280).join(''),
    };
  }

  function targetNear(el) {
    const t = config.target;
    if (!t) return null;
    const scope = (config.media && config.media.scope && el.closest(config.media.scope)) || document;
    for (const sel of t.post) {
      try { const p = scope.querySelector(sel); if (p) return readTarget(p); } catch { /* bad selector */ }
    }
    return null;
  }

  // Reposts: the post whose repost menu was opened last, and the confirm button, held like Post.
  let repostPost = null;
  function closestPost(el) {
    for (const sel of config.target.post) { try { const p = el.closest(sel); if (p) return p; } catch { /* bad selector */ } }
    return null;
  }
  function onRepostClick(ev) {
    const r = config && config.target && config.target.repost;
    const t = ev.target instanceof Element ? ev.target : null;
    if (!r || !t) return false;
    try {
      if (r.open && t.closest(r.open)) { repostPost = closestPost(t); return false; }
      const btn = t.closest(r.confirm);
      if (!btn) return false;
      hold(ev);
      decide(btn, () => btn.click(), closestPost(btn) || repostPost);
      return true;
    } catch { return false; }
  }

  // The upload observer speaks through window messages: anything on the page can post those too,
  // so a report only ever ties bytes to an id; it never opens anything (installer/threat-model.md).
  window.addEventListener('message', (ev) => {
    if (ev.origin !== location.origin || !config || !config.media) return;
    // A copy in this script's own world: Firefox hands a content script the page's objects behind
    // wrappers, where the page's ArrayBuffer is not this world's.
    let d;
    try { d = structuredClone(ev.data); } catch { d = ev.data; }
    if (!d || d.foureyes !== 'upload') return;
    const job = onUpload(d);
    hashing.add(job);
    job.finally(() => hashing.delete(job));
  });
  async function onUpload(d) {
    try {
      // A path_regex upload goes to the page's own host, or to the platform's API hosts (Bluesky's
      // PDS hosts; a leading *. is any host under that name).
      const esc = (h) => h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const apiHosts = Array.isArray(config.api_hosts) ? config.api_hosts.filter((h) => typeof h === 'string' && h) : [];
      const hosts = apiHosts.length ? apiHosts.map((h) => (h.startsWith('*.') ? `[a-z0-9-]+(\\.[a-z0-9-]+)*\\.${esc(h.slice(2))}` : esc(h))).join('|') : esc(location.host);
      const up = (config.media.upload || []).find((u) => u.method === d.method && new RegExp(u.url_regex || `^https://(${hosts})(:443)?${(u.path_regex || '').slice(1)}`, 'i').test(d.url));
      if (!up) return;
      const query = new URL(d.url).searchParams;
      const field = (k) => (d.fields && typeof d.fields[k] === 'string' ? d.fields[k] : query.get(k));
      let resp = null;
      try { resp = JSON.parse(d.response); } catch { resp = null; }
      let id = resp;
      for (const k of up.response_id.split('.')) id = id && typeof id === 'object' ? id[k] : undefined;
      if (typeof id === 'number') id = String(id);
      const b = up.bytes ? d.files && d.files[up.bytes] : d.body;
      const bytes = b instanceof ArrayBuffer ? b : Object.prototype.toString.call(b) === '[object ArrayBuffer]' ? new Uint8Array(b).slice().buffer : null;
      if (up.chunked) {
        const cmd = String(field(up.chunked.command) || '').toUpperCase();
        const mid = field(up.chunked.id) || (typeof id === 'string' ? id : null);
        if (!mid) return;
        // The file is the APPENDs' bytes in segment order; FINALIZE carries no file, so the
        // observer never reports it: the hash is brought up to date at every APPEND.
        if (cmd !== 'APPEND' || !(bytes instanceof ArrayBuffer)) return;
        const list = chunks.get(mid) || [];
        const seg = Number(field('segment_index'));
        list[Number.isInteger(seg) && seg >= 0 && seg < 1000 ? seg : list.length] = bytes;
        chunks.set(mid, list);
        const all = new Uint8Array(list.reduce((n, p) => n + (p ? p.byteLength : 0), 0));
        let off = 0;
        for (const p of list) { if (p) { all.set(new Uint8Array(p), off); off += p.byteLength; } }
        uploaded.set(mid, await sha256(all));
        return;
      }
      if (typeof id === 'string' && bytes instanceof ArrayBuffer) uploaded.set(id, await sha256(bytes));
    } catch { /* not an upload this page gate understands: its id stays unknown, which fails the check */ }
  }

  // Window, capture phase: runs before anything the page registers on document or below.
  for (const type of ['click', 'auxclick']) window.addEventListener(type, onClick, true);
  window.addEventListener('keydown', onKey, true);
  window.addEventListener('keypress', onKey, true);
  window.addEventListener('submit', onSubmit, true);

  // ---- the notice -------------------------------------------------------------------------
  let host = null;
  let root = null;
  let hideTimer = null;

  function build() {
    host = document.createElement('foureyes-notice');
    host.setAttribute('role', 'alert');
    host.style.cssText = 'all:initial;position:fixed;z-index:2147483647;right:16px;bottom:16px;display:block;';
    root = host.attachShadow({ mode: 'closed' });
    root.innerHTML = `
      <style>
        .box{font:14px/1.4 system-ui,sans-serif;background:#fff;color:#111;border:2px solid #b00020;border-radius:10px;
             box-shadow:0 4px 18px rgba(0,0,0,.25);padding:12px 14px;width:320px}
        .box.ok{border-color:#1b7f3b}
        .t{font-weight:600;margin:0 0 6px}
        .m{margin:0 0 10px;white-space:pre-wrap}
        .row{display:flex;gap:8px}
        button{font:inherit;border-radius:6px;border:1px solid #888;background:#f4f4f4;padding:6px 10px;cursor:pointer}
        button.p{background:#1d4ed8;color:#fff;border-color:#1d4ed8}
        [hidden]{display:none}
      </style>
      <div class="box" part="box">
        <p class="t">foureyes: not published</p>
        <p class="m"></p>
        <div class="row"><button class="p" data-a="request">Request approval</button><button data-a="close">Dismiss</button></div>
      </div>`;
    root.addEventListener('click', (ev) => {
      const b = ev.target instanceof Element ? ev.target.closest('button') : null;
      if (!b || !ev.isTrusted) return;
      if (b.dataset.a === 'close') hide();
      if (b.dataset.a === 'request') ask({ type: 'cs:open-approval' });
    });
  }

  function show(code, withRequest, autoHideMs) {
    if (!host) build();
    const msg = NOTICES[code] || `Not published (${code}).`;
    const ok = code === 'approved' || code === 'published';
    root.querySelector('.box').classList.toggle('ok', ok);
    root.querySelector('.t').textContent = ok ? 'foureyes' : 'foureyes: not published';
    root.querySelector('.m').textContent = msg;
    root.querySelector('[data-a=request]').hidden = !withRequest;
    // Visible to tests and assistive tools; nothing secret is ever shown here.
    host.dataset.reason = code;
    host.setAttribute('aria-label', msg);
    if (!host.isConnected) document.documentElement.appendChild(host);
    clearTimeout(hideTimer);
    if (autoHideMs) hideTimer = setTimeout(hide, autoHideMs);
  }

  function hide() {
    clearTimeout(hideTimer);
    if (host && host.isConnected) host.remove();
  }
})();
