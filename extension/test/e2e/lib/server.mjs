// HTTPS fixture server for the platform sites, at their real host names (the browser maps them to
// 127.0.0.1). It serves imitation composer pages for x.com and a Mastodon instance, and behaves
// like the platforms' own sign-in and sign-out:
//
//   X: x.com/i/flow/login is a multi-step page (user name, password, two-factor code) posting to
//   api.x.com/1.1/onboarding/task.json; success creates a server-side session and sets the
//   auth_token and ct0 cookies (Domain=x.com). Publishing needs that session (and ct0 in the
//   x-csrf-token header), else 401. POST api.x.com/1.1/account/logout.json ends the session on
//   the server: a replay of the old cookie then gets 401.
//   Mastodon: /auth/sign_in is a Rails form (authenticity_token, user[email], user[password],
//   then user[otp_attempt] on a second page); success rotates _mastodon_session to a signed-in
//   session and sets _session_id; /auth/sign_out with _method=delete ends it on the server.
//
// Changing the password (rotation): x.com/settings/password posts to
//   x.com/i/api/1.1/account/change_password.json (current_password, password,
//   password_confirmation, ct0 in x-csrf-token) and shows a toast; Mastodon's /auth/edit form
//   posts to /auth (_method=put, user[current_password], user[password],
//   user[password_confirmation]) and redirects back with a flash notice. A success really changes
//   the server's password: the old one then fails at sign-in. `failRotation[site]` makes a step
//   fail: 'current' (the current password is refused), 'server' (500 on submit), 'silent' (the
//   change is dropped and nothing is shown). Bluesky: see blueskyFixture (an e-mailed code).
//
// Attachments: X's page uploads a file in three steps to upload.x.com/i/media/upload.json
// (multipart INIT, APPEND with the bytes in `media`, FINALIZE; the answer names media_id_string),
// Mastodon's to /api/v2/media (multipart `file`; the answer names `id`). The server keeps each
// upload's bytes (`uploads`: media id -> {sha256, size}), and records in `received` the media ids,
// their bytes' sha256 and the answered, quoted or reposted post of every publishing request.
//
// Every request is logged (`log`: host, method, URL path with query, body), so tests can check
// where a password went. Publishing requests are also in `received`: if one is there, it got
// past the extension.

import https from 'node:https';
import { readFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { until } from './wait.mjs';
import { totpValid } from './totp.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, '..', 'fixtures');

const SITES = {
  'x.com': 'x',
  'api.x.com': 'x-api',
  'upload.x.com': 'x-upload',
  'twitter.com': 'x',
  'social.example': 'mastodon',
  'other.example': 'other',
  'bsky.app': 'bsky',
  'bsky.social': 'pds',
  'pds1.us-east.host.bsky.network': 'pds',
};

/** The fixture accounts: what the keyring holds for them in the tests, and their 2FA seeds. */
export const ACCOUNTS = {
  x: { username: 'ministry', password: 'correct horse', seed: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' },
  mastodon: { username: 'press@social.example', password: 'battery staple', seed: 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU' },
  // No seed: Bluesky's second factor is a code it e-mails (emailAuth turns it on in the fixture).
  bluesky: { username: 'press@example.org', password: 'purple monkey dishwasher', handle: 'ministry.bsky.social', did: 'did:plc:ministry' },
};

const PUBLISH = /\/(CreateTweet|CreateNoteTweet|CreateScheduledTweet|CreateRetweet)$|^\/api\/v1\/statuses(\/|$)|^\/(1\.1\/statuses\/update\.json|2\/tweets)$/;

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** multipart parses a multipart/form-data body: {fields: {name: string}, files: {name: Buffer}}. */
export function multipart(buf, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || '');
  const out = { fields: {}, files: {} };
  if (!m) return out;
  const sep = Buffer.from(`--${m[1] || m[2]}`);
  let at = buf.indexOf(sep);
  while (at >= 0) {
    const start = at + sep.length;
    if (buf.slice(start, start + 2).toString() === '--') break;
    const next = buf.indexOf(sep, start);
    if (next < 0) break;
    const part = buf.slice(start + 2, next - 2); // CRLF after the boundary, CRLF before the next
    const split = part.indexOf('\r\n\r\n');
    const head = part.slice(0, split).toString('utf8');
    const data = part.slice(split + 4);
    const name = /name="([^"]*)"/.exec(head)?.[1];
    if (name !== undefined) {
      if (/filename="/.test(head)) out.files[name] = data; else out.fields[name] = data.toString('utf8');
    }
    at = next;
  }
  return out;
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function cookiesOf(req) {
  const out = {};
  for (const part of String(req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

const rand = () => randomBytes(20).toString('hex');

/** blobCid is the CID a PDS gives a blob: CIDv1, raw codec, SHA-256 multihash, base32 (multibase b). */
function blobCid(bytes) {
  const buf = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), createHash('sha256').update(bytes).digest()]);
  const A = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = '';
  for (const b of buf) bits += b.toString(2).padStart(8, '0');
  let out = 'b';
  for (let i = 0; i < bits.length; i += 5) out += A[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * startServer listens on 127.0.0.1:port with the given certificate.
 */
export async function startServer({ port, key, cert }) {
  const received = [];
  const log = [];
  const uploads = new Map(); // media id -> {sha256, size} of the bytes the platform received
  const extraPages = new Map(); // "host/path" -> html, for pages a scenario makes up
  // Server-side sessions. X: auth_token -> {ct0, user, valid}; flows: flow_token -> state.
  const xSessions = new Map();
  const xFlows = new Map();
  // Mastodon: _mastodon_session -> {csrf, user (signed in) | pending (awaiting the code), valid}.
  const mSessions = new Map();
  const accounts = JSON.parse(JSON.stringify(ACCOUNTS));
  const failRotation = { x: null, mastodon: null, bluesky: null };
  const bsky = blueskyFixture({ accounts, received, json, failRotation, uploads });
  /** changePassword checks and applies a change; returns {status, error?} (error text shown). */
  function changePassword(site, current, next, confirm) {
    const acc = accounts[site];
    const mode = failRotation[site];
    if (mode === 'server') return { status: 500 };
    if (mode === 'current' || current !== acc.password) return { status: 403, error: 'The password you entered was incorrect.' };
    if (!next || next.length < 8 || next !== confirm) return { status: 400, error: 'The new passwords do not match or are too short.' };
    if (mode === 'silent') return { status: 200, silent: true };
    acc.password = next;
    return { status: 200 };
  }

  const xSession = (req) => {
    const c = cookiesOf(req);
    const s = c.auth_token && xSessions.get(c.auth_token);
    return s && s.valid ? s : null;
  };
  const mSession = (req) => {
    const c = cookiesOf(req);
    const s = c._mastodon_session && mSessions.get(c._mastodon_session);
    return s && s.valid ? { id: c._mastodon_session, ...s, ref: s } : null;
  };
  const newMSession = (fields) => { const id = rand(); mSessions.set(id, { csrf: rand(), valid: true, ...fields }); return id; };
  // Signed-in cookies outlive the browser, as the platforms' do (X's for years): a browser closed
  // mid-session still holds them at its next start.
  const mCookie = (id, keep) => `_mastodon_session=${id}; Path=/;${keep ? ' Max-Age=31536000;' : ''} Secure; HttpOnly; SameSite=Lax`;

  function html(res, body, headers = {}) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body);
  }
  function json(res, status, obj, headers = {}) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(obj));
  }
  function fixture(site, file) {
    try { return readFileSync(join(FIXTURES, site, `${file}.html`), 'utf8'); } catch { return null; }
  }

  // ---- X ----------------------------------------------------------------------------------
  const xCors = (req) => ({ 'access-control-allow-origin': 'https://x.com', 'access-control-allow-credentials': 'true', 'access-control-allow-headers': 'content-type, x-csrf-token', 'access-control-allow-methods': 'POST' });
  function xApi(req, res, url, body) {
    if (req.method === 'OPTIONS') { res.writeHead(204, xCors(req)); res.end(); return; }
    if (req.method === 'POST' && url.pathname === '/1.1/onboarding/task.json') {
      let m = {};
      try { m = JSON.parse(body); } catch { return json(res, 400, { error: 'bad json' }, xCors(req)); }
      const acc = accounts.x;
      const flow = m.flow_token ? xFlows.get(m.flow_token) : null;
      if (m.subtask === 'username') {
        if (m.username !== acc.username) return json(res, 400, { error: 'unknown user' }, xCors(req));
        const t = rand(); xFlows.set(t, { user: m.username, step: 'password' });
        return json(res, 200, { flow_token: t, next: 'password' }, xCors(req));
      }
      if (!flow) return json(res, 400, { error: 'no flow' }, xCors(req));
      if (m.subtask === 'password' && flow.step === 'password') {
        if (m.password !== acc.password) { xFlows.delete(m.flow_token); return json(res, 401, { error: 'wrong password' }, xCors(req)); }
        flow.step = acc.seed ? 'totp' : 'done';
      } else if (m.subtask === 'totp' && flow.step === 'totp') {
        if (!totpValid(acc.seed, String(m.code || ''))) { xFlows.delete(m.flow_token); return json(res, 401, { error: 'wrong code' }, xCors(req)); }
        flow.step = 'done';
      } else {
        return json(res, 400, { error: 'out of order' }, xCors(req));
      }
      if (flow.step !== 'done') return json(res, 200, { flow_token: m.flow_token, next: flow.step }, xCors(req));
      xFlows.delete(m.flow_token);
      const token = rand(); const ct0 = rand();
      xSessions.set(token, { ct0, user: flow.user, valid: true });
      return json(res, 200, { done: true }, { ...xCors(req), 'set-cookie': [
        `auth_token=${token}; Domain=x.com; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=None`,
        `ct0=${ct0}; Domain=x.com; Path=/; Max-Age=31536000; Secure; SameSite=Lax`,
      ] });
    }
    if (req.method === 'POST' && url.pathname === '/1.1/account/logout.json') {
      const s = xSession(req);
      if (!s || req.headers['x-csrf-token'] !== s.ct0) return json(res, 401, { errors: [{ message: 'Could not authenticate you' }] });
      s.valid = false; // the session dies on the server: the old cookie is worthless now
      return json(res, 200, { status: 'ok' }, { 'set-cookie': ['auth_token=; Domain=x.com; Path=/; Max-Age=0; Secure', 'ct0=; Domain=x.com; Path=/; Max-Age=0; Secure'] });
    }
    return publishOrOther(req, res, url, body, 'x');
  }

  // ---- Mastodon ---------------------------------------------------------------------------
  function mastodonForm(s, otp, error) {
    const fields = otp
      ? '<div class="fields-group"><label for="user_otp_attempt">Two-factor code</label><input id="user_otp_attempt" name="user[otp_attempt]" type="text" autocomplete="one-time-code" inputmode="numeric"></div>'
      : '<div class="fields-group"><label for="user_email">E-mail address</label><input id="user_email" name="user[email]" type="email" autocomplete="username"></div>' +
        '<div class="fields-group"><label for="user_password">Password</label><input id="user_password" name="user[password]" type="password" autocomplete="current-password"></div>';
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="csrf-token" content="${esc(s.csrf)}"><title>Log in - social.example</title></head><body>
<div class="container">${error ? `<p class="flash-message alert">${esc(error)}</p>` : ''}
<form class="simple_form new_user" id="new_user" novalidate action="/auth/sign_in" accept-charset="UTF-8" method="post">
<input type="hidden" name="authenticity_token" value="${esc(s.csrf)}" autocomplete="off">${fields}
<div class="actions"><button name="button" type="submit" class="btn">${otp ? 'Enter' : 'Log in'}</button></div></form></div></body></html>`;
  }

  function mastodonEdit(s, flash, error) {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="csrf-param" content="authenticity_token"><meta name="csrf-token" content="${esc(s.csrf)}"><title>Account - social.example</title></head><body>
<div class="container">${flash ? `<div class="flash-message notice"><strong>${esc(flash)}</strong></div>` : ''}<h1>Account settings</h1>
<form class="simple_form edit_user" id="edit_user" novalidate action="/auth" accept-charset="UTF-8" method="post">
<input type="hidden" name="_method" value="put" autocomplete="off"><input type="hidden" name="authenticity_token" value="${esc(s.csrf)}" autocomplete="off">
${error ? `<div class="flash-message alert">${esc(error)}</div>` : ''}
<div class="fields-group"><label for="user_current_password">Current password</label><input id="user_current_password" name="user[current_password]" type="password" autocomplete="current-password"></div>
<div class="fields-group"><label for="user_password">New password</label><input id="user_password" name="user[password]" type="password" autocomplete="new-password"></div>
<div class="fields-group"><label for="user_password_confirmation">Confirm new password</label><input id="user_password_confirmation" name="user[password_confirmation]" type="password" autocomplete="new-password"></div>
<div class="actions"><button name="button" type="submit" class="btn">Save changes</button></div></form></div></body></html>`;
  }

  function mastodon(req, res, url, body) {
    const s = mSession(req);
    if (url.pathname === '/auth/sign_in' && req.method === 'GET') {
      if (s && s.user) { res.writeHead(302, { location: '/home' }); res.end(); return; }
      const id = newMSession({});
      return html(res, mastodonForm(mSessions.get(id), false), { 'set-cookie': mCookie(id) });
    }
    if (url.pathname === '/auth/sign_in' && req.method === 'POST') {
      const f = new URLSearchParams(body);
      if (!s || f.get('authenticity_token') !== s.csrf) { res.writeHead(422); res.end('InvalidAuthenticityToken'); return; }
      const acc = accounts.mastodon;
      let user = null;
      if (f.has('user[otp_attempt]')) {
        if (!s.pending || !totpValid(acc.seed, f.get('user[otp_attempt]'))) return html(res, mastodonForm(s, !!s.pending, 'Invalid two-factor authentication code.'));
        user = s.pending;
      } else {
        if (f.get('user[email]') !== acc.username || f.get('user[password]') !== acc.password) return html(res, mastodonForm(s, false, 'Invalid E-mail address or password.'));
        if (acc.seed) { s.ref.pending = acc.username; return html(res, mastodonForm(s, true)); }
        user = acc.username;
      }
      s.ref.valid = false; // Rails rotates the session on sign-in
      const id = newMSession({ user });
      res.writeHead(302, { location: '/home', 'set-cookie': [mCookie(id, true), `_session_id=${rand()}; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax`] });
      res.end();
      return;
    }
    if (url.pathname === '/auth/edit' && req.method === 'GET') {
      if (!s || !s.user) { res.writeHead(302, { location: '/auth/sign_in' }); res.end(); return; }
      const flash = s.ref.flash; s.ref.flash = null;
      return html(res, mastodonEdit(s, flash));
    }
    if (url.pathname === '/auth' && req.method === 'POST') {
      const f = new URLSearchParams(body);
      if (!s || !s.user || f.get('_method') !== 'put' || f.get('authenticity_token') !== s.csrf) { res.writeHead(422); res.end('InvalidAuthenticityToken'); return; }
      const r = changePassword('mastodon', f.get('user[current_password]'), f.get('user[password]'), f.get('user[password_confirmation]'));
      if (r.status === 500) { res.writeHead(500, { 'content-type': 'text/html' }); res.end('<!doctype html><title>We are sorry, but something went wrong (500)</title><h1>We are sorry, but something went wrong.</h1>'); return; }
      if (r.error) return html(res, mastodonEdit(s, null, r.error));
      if (!r.silent) s.ref.flash = 'Your account has been updated successfully.';
      res.writeHead(302, { location: '/auth/edit' });
      res.end();
      return;
    }
    if (url.pathname === '/auth/sign_out' && req.method === 'POST') {
      const f = new URLSearchParams(body);
      if (!s || !s.user || f.get('_method') !== 'delete' || f.get('authenticity_token') !== s.csrf) { res.writeHead(422); res.end('InvalidAuthenticityToken'); return; }
      s.ref.valid = false;
      res.writeHead(302, { location: '/auth/sign_in', 'set-cookie': ['_mastodon_session=; Path=/; Max-Age=0; Secure', '_session_id=; Path=/; Max-Age=0; Secure'] });
      res.end();
      return;
    }
    return null;
  }

  function publishOrOther(req, res, url, body, site) {
    let text = null;
    let media = [];
    let target = null;
    try {
      const j = JSON.parse(body);
      text = j.status ?? j.variables?.tweet_text ?? null;
      media = (j.media_ids || (j.variables?.media?.media_entities || []).map((e) => e.media_id)).map(String);
      target = j.in_reply_to_id ?? j.quoted_status_id ?? j.variables?.reply?.in_reply_to_tweet_id ?? j.variables?.tweet_id ?? (j.variables?.attachment_url ? /\/status\/(\d+)/.exec(j.variables.attachment_url)?.[1] : null) ?? null;
    } catch {
      text = new URLSearchParams(body).get('status');
    }
    const reblog = /^\/api\/v1\/statuses\/(\d+)\/reblog$/.exec(url.pathname);
    if (reblog) target = reblog[1];
    let status = 200;
    const host = String(req.headers.host || '').replace(/:\d+$/, '');
    // A platform's publishing endpoint needs a signed-in session on the server.
    if (PUBLISH.test(url.pathname) && site === 'x') {
      const s = xSession(req);
      if (!s || req.headers['x-csrf-token'] !== s.ct0) status = 401;
    } else if (PUBLISH.test(url.pathname) && site === 'mastodon') {
      const s = mSession(req);
      if (!s || !s.user) status = 401;
    }
    // A test's replay of a copied cookie is not the browser's publishing: logged, not counted.
    if (!req.headers['x-fixture-replay']) received.push({ host, method: req.method, path: url.pathname, text, media, mediaSha: media.map((id) => uploads.get(id)?.sha256 || null), target: target === null ? null : String(target), status, at: Date.now() });
    res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify(status === 200 ? { ok: true, id: String(received.length) } : { error: 'not signed in' }));
  }

  // Which account the page is signed in to, where the platforms show it: X's account switcher
  // (@handle), Mastodon's initial state (meta.me and accounts[id].acct; acct is the local name).
  function signedInMarkup(site, req) {
    if (site === 'x') {
      const sx = xSession(req);
      return sx ? `<nav><div role="button" data-testid="SideNav_AccountSwitcher_Button"><span>${esc(sx.user)}</span><span>@${esc(sx.user)}</span></div></nav>` : '';
    }
    if (site === 'mastodon') {
      const sm = mSession(req);
      const state = sm && sm.user ? { meta: { me: '109', domain: 'social.example' }, accounts: { 109: { id: '109', acct: sm.user.split('@')[0] } } } : { meta: { domain: 'social.example' }, accounts: {} };
      return `<script id="initial-state" type="application/json">${JSON.stringify(state).replace(/</g, '\\u003c')}</script>`;
    }
    return '';
  }

  // ---- uploads -----------------------------------------------------------------------------
  let nextMedia = 9000;
  const pending = new Map(); // X media id -> [segments]
  function xUpload(req, res, url, raw) {
    const cors = { 'access-control-allow-origin': 'https://x.com', 'access-control-allow-credentials': 'true', 'access-control-allow-headers': 'content-type, x-csrf-token', 'access-control-allow-methods': 'POST' };
    if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
    if (req.method !== 'POST' || url.pathname !== '/i/media/upload.json') return json(res, 404, { error: 'not found' }, cors);
    const f = multipart(raw, req.headers['content-type']);
    const cmd = f.fields.command || url.searchParams.get('command');
    const id = f.fields.media_id || url.searchParams.get('media_id');
    if (cmd === 'INIT') { const nid = String(nextMedia++); pending.set(nid, []); return json(res, 202, { media_id: Number(nid), media_id_string: nid }, cors); }
    if (!pending.has(id)) return json(res, 400, { error: 'unknown media_id' }, cors);
    if (cmd === 'APPEND' && f.files.media) { pending.get(id)[Number(f.fields.segment_index || 0)] = f.files.media; res.writeHead(204, cors); res.end(); return; }
    if (cmd === 'FINALIZE') {
      const bytes = Buffer.concat(pending.get(id));
      pending.delete(id);
      uploads.set(id, { sha256: sha256(bytes), size: bytes.length });
      return json(res, 201, { media_id: Number(id), media_id_string: id, size: bytes.length }, cors);
    }
    return json(res, 400, { error: 'bad command' }, cors);
  }
  function mastodonUpload(req, res, raw) {
    const f = multipart(raw, req.headers['content-type']);
    if (!f.files.file) return json(res, 422, { error: 'file is missing' });
    const id = String(nextMedia++);
    uploads.set(id, { sha256: sha256(f.files.file), size: f.files.file.length });
    return json(res, 200, { id, type: 'image', description: f.fields.description || null });
  }

  const server = https.createServer({ key, cert }, async (req, res) => {
    const host = String(req.headers.host || '').replace(/:\d+$/, '');
    const url = new URL(req.url, `https://${host}`);
    const site = SITES[host];
    const raw = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
    const body = raw.toString('utf8');
    log.push({ host, method: req.method, url: req.url, body, at: Date.now() });
    if (site === 'x-upload') return xUpload(req, res, url, raw);
    if (site === 'mastodon' && req.method === 'POST' && /^\/api\/v[12]\/media$/.test(url.pathname)) return mastodonUpload(req, res, raw);
    if (site === 'x-api') return xApi(req, res, url, body);
    if (site === 'pds') return bsky.pds(req, res, url, body, host, raw);
    if (site === 'bsky') return bsky.app(req, res, url);
    if (site === 'x' && req.method === 'POST' && url.pathname === '/i/api/1.1/account/change_password.json') {
      const sx = xSession(req);
      if (!sx || req.headers['x-csrf-token'] !== sx.ct0) return json(res, 401, { errors: [{ message: 'Could not authenticate you' }] });
      const f = new URLSearchParams(body);
      const r = changePassword('x', f.get('current_password'), f.get('password'), f.get('password_confirmation'));
      if (r.status === 500) return json(res, 500, { errors: [{ message: 'Internal error' }] });
      if (r.error) return json(res, r.status, { errors: [{ message: r.error }] });
      return json(res, 200, r.silent ? {} : { status: 'ok' });
    }
    if (site === 'mastodon' && (url.pathname.startsWith('/auth/') || url.pathname === '/auth')) {
      if (mastodon(req, res, url, body) !== null) return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return publishOrOther(req, res, url, body, site);
    const extra = extraPages.get(`${host}${url.pathname}`);
    if (extra) return html(res, extra);
    if (!site) { res.writeHead(404); res.end('no such site'); return; }
    let file = url.pathname === '/' ? 'home' : url.pathname.slice(1).replace(/[^a-z0-9_-]/gi, '_');
    if (site === 'x' && /^\/[^/]+\/status\/\d+/.test(url.pathname)) file = 'home';
    if (site === 'x' && url.pathname === '/i/flow/login') file = 'login';
    if (site === 'mastodon' && url.pathname.startsWith('/@')) file = 'home';
    const page = fixture(site, file);
    if (page === null) { res.writeHead(404); res.end('not found'); return; }
    html(res, page.replace(/<!--signed-in:[^>]*-->/, () => signedInMarkup(site, req)));
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  const actualPort = server.address().port;

  /**
   * replay sends a request the way a copied cookie would be used elsewhere: straight to the
   * server with the given cookies (and headers), no browser. Resolves with the status code.
   */
  function replay(host, method, path, cookies, headers = {}, body = '') {
    return new Promise((resolve, reject) => {
      const cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ');
      const req = https.request({ host: '127.0.0.1', port: actualPort, servername: host, method, path, rejectUnauthorized: false,
        headers: { host, cookie, 'content-type': 'application/json', 'x-fixture-replay': '1', ...headers } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** request sends one HTTPS request to the fixture; resolves {status, headers, body}. */
  function request(host, method, path, headers = {}, body = '') {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: actualPort, servername: host, method, path, rejectUnauthorized: false, headers: { host, 'x-fixture-replay': '1', ...headers } }, (res) => {
        const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  async function signInWorks(site, password) {
    const acc = accounts[site];
    if (site === 'bluesky') {
      // A sign-in at the PDS, ended again at once so the count of live sessions stays.
      const r = await request('bsky.social', 'POST', '/xrpc/com.atproto.server.createSession', { 'content-type': 'application/json' }, JSON.stringify({ identifier: acc.username, password }));
      if (r.status !== 200) return false;
      await request('bsky.social', 'POST', '/xrpc/com.atproto.server.deleteSession', { authorization: `Bearer ${JSON.parse(r.body).refreshJwt}` });
      return true;
    }
    if (site === 'x') {
      const h = { 'content-type': 'application/json' };
      const a = await request('api.x.com', 'POST', '/1.1/onboarding/task.json', h, JSON.stringify({ subtask: 'username', username: acc.username }));
      const t = JSON.parse(a.body).flow_token;
      const b = await request('api.x.com', 'POST', '/1.1/onboarding/task.json', h, JSON.stringify({ subtask: 'password', flow_token: t, password }));
      return b.status === 200;
    }
    const page = await request('social.example', 'GET', '/auth/sign_in');
    const cookie = String(page.headers['set-cookie']).split(';')[0];
    const token = /name="authenticity_token" value="([^"]+)"/.exec(page.body)[1];
    const form = new URLSearchParams({ authenticity_token: token, 'user[email]': acc.username, 'user[password]': password }).toString();
    const r = await request('social.example', 'POST', '/auth/sign_in', { cookie, 'content-type': 'application/x-www-form-urlencoded' }, form);
    // With two-factor on, an accepted password leads to the code page.
    return r.status === 302 || r.body.includes('user_otp_attempt');
  }

  return {
    port: actualPort,
    received,
    log,
    uploads,
    extraPages,
    accounts,
    failRotation,
    /** restoreAccounts puts the fixture passwords back and clears the failure switches. */
    restoreAccounts() { for (const k of Object.keys(ACCOUNTS)) accounts[k].password = ACCOUNTS[k].password; failRotation.x = failRotation.mastodon = failRotation.bluesky = null; bsky.mailbox.length = 0; },
    /** signInWorks tries a password at the platform's own sign-in over HTTPS, as a browser would: true when accepted. */
    signInWorks,
    replay,
    /** request sends one HTTPS request to the fixture, as a program elsewhere would: {status, headers, body}. */
    request,
    /** bsky: the Bluesky fixture's own handles (refresh-token replay, sessions for other accounts). */
    bsky,
    /** liveSessions counts the signed-in sessions the server holds for a site. */
    liveSessions(site) {
      if (site === 'bluesky') return bsky.liveSessions();
      if (site === 'x') return [...xSessions.values()].filter((s) => s.valid).length;
      return [...mSessions.values()].filter((s) => s.valid && s.user).length;
    },
    /**
     * signInAs makes a signed-in session on the fixture platform for user, as if a person had
     * signed in by hand earlier, and returns its cookies for the browser (Playwright's form).
     */
    signInAs(site, user) {
      if (site === 'x') {
        const token = rand(); const ct0 = rand();
        xSessions.set(token, { ct0, user, valid: true });
        return [{ name: 'auth_token', value: token, domain: '.x.com', path: '/', secure: true, httpOnly: true, sameSite: 'None', expires: Math.floor(Date.now() / 1000) + 86400 },
          { name: 'ct0', value: ct0, domain: '.x.com', path: '/', secure: true, sameSite: 'Lax', expires: Math.floor(Date.now() / 1000) + 86400 }];
      }
      const id = newMSession({ user });
      return [{ name: '_mastodon_session', value: id, domain: 'social.example', path: '/', secure: true, httpOnly: true, sameSite: 'Lax', expires: Math.floor(Date.now() / 1000) + 86400 },
        { name: '_session_id', value: rand(), domain: 'social.example', path: '/', secure: true, httpOnly: true, sameSite: 'Lax', expires: Math.floor(Date.now() / 1000) + 86400 }];
    },
    /** sessionLive says whether the server still holds the session behind cookies signInAs gave. */
    sessionLive(site, cookies) {
      const c = Object.fromEntries(cookies.map((k) => [k.name, k.value]));
      const s = site === 'x' ? xSessions.get(c.auth_token) : mSessions.get(c._mastodon_session);
      return !!(s && s.valid);
    },
    reset() { received.length = 0; },
    /** waitFor returns once at least n publishing requests have reached the server. */
    waitFor(n, timeout = 15000) { return until(() => `${n} publishing request(s) at the server (got ${received.length})`, () => received.length >= n, { timeout }); },
    close() { return new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }); },
  };
}

// ---- Bluesky ----------------------------------------------------------------------------------
// bsky.app is a small single-page app that behaves like the real one where foureyes meets it:
// the signed-out start page has a "Sign in" button (data-testid=signInButton) leading to the form
// (loginUsernameInput, loginPasswordInput, loginNextButton; loginAuthFactorTokenInput when the
// account has e-mail sign-in codes on); the session lives in localStorage under BSKY_STORAGE
// ({session: {accounts: [{did, handle, service, pdsUrl, accessJwt, refreshJwt}], currentAccount:
// {did}}}), and no cookie; the composer (composerTextInput, composerPublishBtn) posts with
// com.atproto.repo.applyWrites on the account's PDS; like and repost buttons use
// com.atproto.repo.createRecord. Signing out in the app only drops the stored session.
// Images: the composer's file input (composerFileInput) shows each picked file as composerImage
// (an img with a blob: address); at Post the page uploads each (uploadBlob, the file's bytes as
// the body) and names the blobs by CID in the post's embed (images; recordWithMedia in a quote).
// __compose('reply'|'quote', rkey) answers or quotes the post 3kother or 3kanother: the reply's
// ComposerReplyTo and the quote's composerQuote show its author, text and a /profile/…/post/RKEY
// link; the request names it by its at:// address.
// The PDS (bsky.social, the entryway, and pds1.us-east.host.bsky.network, the account's host):
// uploadBlob stores the body's bytes (in `uploads`, and `blobs` lists them) and answers with their
// CID (CIDv1 raw, SHA-256); applyWrites refuses a post naming a blob it never took and records in
// `received` the CIDs, their stored bytes' SHA-256 and the answered or quoted post's address;
// createSession checks the password, refreshSession rotates the tokens, deleteSession kills the
// refresh token (an access JWT already issued stays valid until it expires, 2 hours, as on
// Bluesky), getSession, applyWrites and createRecord need a live access JWT as bearer.
// Changing the password: /settings/account shows "Password" (accountSettingsChangePasswordBtn),
// a dialog with "Request code" (requestCodeBtn: requestPasswordReset with the account's e-mail;
// the PDS puts the code, XXXXX-XXXXX, in `mailbox` for the test to read), then the code
// (resetCodeInput) and the new password (newPasswordInput), "Update" (setNewPasswordBtn:
// resetPassword {token, password}; the old password is then refused by createSession), and
// changePasswordDone or changePasswordError. failRotation.bluesky = 'server' makes resetPassword
// answer 500, 'request' requestPasswordReset (no code is sent).
function blueskyFixture({ accounts, received, json, failRotation, uploads }) {
  const PDS = 'https://pds1.us-east.host.bsky.network';
  const ACCESS_MS = 2 * 3600 * 1000;
  const access = new Map(); // accessJwt -> {did, handle, exp}
  const refresh = new Map(); // refreshJwt -> {did, handle, valid}
  let emailAuth = false;
  // Changing the password: requestPasswordReset mails a code (here: into mailbox), resetPassword
  // takes it with the new password. failRotation.bluesky: 'server' fails resetPassword, 'request'
  // requestPasswordReset.
  const mailbox = []; // {to, code, at}
  let resetCode = null; // {code, exp}
  const cors = { 'access-control-allow-origin': 'https://bsky.app', 'access-control-allow-headers': 'authorization, content-type, atproto-accept-labelers', 'access-control-allow-methods': 'GET, POST' };
  const bearer = (req) => /^Bearer (\S+)$/.exec(String(req.headers.authorization || ''))?.[1] || null;
  function issue(did, handle) {
    const a = `acc-${rand()}`; const r = `ref-${rand()}`;
    access.set(a, { did, handle, exp: Date.now() + ACCESS_MS });
    refresh.set(r, { did, handle, valid: true });
    return { accessJwt: a, refreshJwt: r, did, handle, didDoc: { id: did, service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: PDS }] } };
  }
  const blobs = []; // every uploadBlob the PDS took: {cid, sha256, size, mimeType}, oldest first
  const liveAccess = (req) => { const a = access.get(bearer(req)); return a && a.exp > Date.now() ? a : null; };
  function pds(req, res, url, body, host, raw) {
    const out = (status, obj) => json(res, status, obj, cors);
    if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
    const m = url.pathname.replace(/^\/xrpc\//, '');
    // uploadBlob: the body is the file's bytes; the blob's address is their CID (raw, SHA-256).
    if (m === 'com.atproto.repo.uploadBlob' && req.method === 'POST') {
      if (!liveAccess(req)) return out(401, { error: 'AuthenticationRequired' });
      const cid = blobCid(raw);
      const mimeType = String(req.headers['content-type'] || 'application/octet-stream');
      uploads.set(cid, { sha256: sha256(raw), size: raw.length, bytes: Buffer.from(raw) });
      blobs.push({ cid, sha256: sha256(raw), size: raw.length, mimeType });
      return out(200, { blob: { $type: 'blob', ref: { $link: cid }, mimeType, size: raw.length } });
    }
    let j = {};
    try { j = body ? JSON.parse(body) : {}; } catch { return out(400, { error: 'InvalidRequest' }); }
    const acc = accounts.bluesky;
    if (m === 'com.atproto.server.createSession' && req.method === 'POST') {
      if (![acc.username, acc.handle].includes(j.identifier) || j.password !== acc.password) return out(401, { error: 'AuthenticationRequired', message: 'Invalid identifier or password' });
      if (emailAuth && !j.authFactorToken) return out(401, { error: 'AuthFactorTokenRequired', message: 'A sign in code has been sent to your email address' });
      return out(200, { ...issue(acc.did, acc.handle), email: acc.username, emailConfirmed: true });
    }
    if (m === 'com.atproto.server.requestPasswordReset' && req.method === 'POST') {
      if (failRotation.bluesky === 'request') return out(500, { error: 'InternalServerError', message: 'Internal Server Error' });
      // The PDS answers the same for any address (no account discovery); only the account's gets mail.
      if (j.email === acc.username) {
        const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
        const code = [0, 1].map(() => Array.from(randomBytes(5), (b) => A[b % 32]).join('')).join('-');
        resetCode = { code, exp: Date.now() + 15 * 60 * 1000 };
        mailbox.push({ to: j.email, code, at: Date.now() });
      }
      res.writeHead(200, cors); res.end();
      return;
    }
    if (m === 'com.atproto.server.resetPassword' && req.method === 'POST') {
      if (failRotation.bluesky === 'server') return out(500, { error: 'InternalServerError', message: 'Internal Server Error' });
      const token = String(j.token || '').toUpperCase().replace(/^([A-Z2-7]{5})-?([A-Z2-7]{5})$/, '$1-$2');
      if (!resetCode || token !== resetCode.code || resetCode.exp < Date.now()) return out(400, { error: 'InvalidToken', message: 'Token is invalid' });
      if (typeof j.password !== 'string' || j.password.length < 8) return out(400, { error: 'InvalidRequest', message: 'Password is too short' });
      resetCode = null;
      acc.password = j.password;
      res.writeHead(200, cors); res.end();
      return;
    }
    if (m === 'com.atproto.server.refreshSession' && req.method === 'POST') {
      const r = refresh.get(bearer(req));
      if (!r || !r.valid) return out(401, { error: 'ExpiredToken', message: 'Token has been revoked' });
      r.valid = false;
      return out(200, issue(r.did, r.handle));
    }
    if (m === 'com.atproto.server.deleteSession' && req.method === 'POST') {
      const r = refresh.get(bearer(req));
      if (!r || !r.valid) return out(401, { error: 'ExpiredToken', message: 'Token has been revoked' });
      r.valid = false; // the refresh token dies; access JWTs already issued live until they expire
      res.writeHead(200, cors); res.end();
      return;
    }
    if (m === 'com.atproto.server.getSession' && req.method === 'GET') {
      const a = liveAccess(req);
      return a ? out(200, { did: a.did, handle: a.handle }) : out(401, { error: 'AuthenticationRequired' });
    }
    if ((m === 'com.atproto.repo.applyWrites' || m === 'com.atproto.repo.createRecord') && req.method === 'POST') {
      const a = liveAccess(req);
      const texts = (j.writes || []).map((w) => w && w.value && w.value.text).filter((t) => typeof t === 'string');
      const text = m === 'com.atproto.repo.applyWrites' ? (texts.length === 1 ? texts[0] : JSON.stringify(texts)) : j.collection;
      // The images by blob CID (with alt text), and the answered, quoted or reposted post.
      const values = m === 'com.atproto.repo.applyWrites' ? (j.writes || []).filter((w) => w && w.collection === 'app.bsky.feed.post').map((w) => w.value || {}) : [j.record || {}];
      const images = values.flatMap((v) => (v.embed && (v.embed.images || (v.embed.media && v.embed.media.images))) || []);
      const media = images.map((i) => String(i && i.image && i.image.ref && i.image.ref.$link));
      const alts = images.map((i) => (i && typeof i.alt === 'string' ? i.alt : null));
      const v0 = values[0] || {};
      const target = (v0.reply && v0.reply.parent && v0.reply.parent.uri) || (v0.embed && v0.embed.record && (v0.embed.record.uri || (v0.embed.record.record && v0.embed.record.record.uri))) || (v0.subject && v0.subject.uri) || null;
      // As the PDS: a post may only name blobs uploaded before.
      const known = media.every((cid) => uploads.has(cid));
      const status = a ? (known ? 200 : 400) : 401;
      if (!req.headers['x-fixture-replay']) received.push({ host, method: req.method, path: url.pathname, text, collection: j.collection || null, media, alts, mediaSha: media.map((cid) => uploads.get(cid)?.sha256 || null), target, status, at: Date.now() });
      if (a && !known) return out(400, { error: 'InvalidRequest', message: 'Could not find blob' });
      return a ? out(200, { uri: `at://${a.did}/app.bsky.feed.post/${rand().slice(0, 13)}`, cid: 'bafy' }) : out(401, { error: 'AuthenticationRequired' });
    }
    return out(404, { error: 'MethodNotImplemented' });
  }
  function app(req, res, url) {
    if (req.method !== 'GET') { res.writeHead(405); res.end(); return; }
    if (url.pathname === '/robots.txt') { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('User-agent: *\nAllow: /\n'); return; }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(BSKY_PAGE);
  }
  return {
    pds, app, PDS,
    /** blobs: what uploadBlob took, {cid, sha256, size, mimeType}, oldest first (bytes in the server's uploads). */
    blobs,
    /** mailbox: the mails the PDS sent (password reset codes), {to, code, at}, oldest first. */
    mailbox,
    /** emailAuth turns the account's e-mailed sign-in codes on or off. */
    setEmailAuth(on) { emailAuth = !!on; },
    /** liveSessions counts the refresh tokens still valid (each a signed-in session). */
    liveSessions() { return [...refresh.values()].filter((r) => r.valid).length; },
    /** refreshWorks replays a refresh token at the PDS, as a copy elsewhere would; the status. */
    accessWorks(token) { const a = access.get(token); return !!(a && a.exp > Date.now()); },
    refreshValid(token) { const r = refresh.get(token); return !!(r && r.valid); },
    /** storedFor is what bsky.app stores in localStorage for a session of handle, made here (a person's earlier sign-in). */
    storedFor(handle, did = `did:plc:${handle.split('.')[0]}`) {
      const s = issue(did, handle);
      return { session: { accounts: [{ service: 'https://bsky.social/', did, handle, accessJwt: s.accessJwt, refreshJwt: s.refreshJwt, pdsUrl: PDS, active: true }], currentAccount: { did } } };
    },
  };
}

const BSKY_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bluesky</title></head><body>
<div id="root"></div>
<script>
(() => {
  const KEY = 'BSKY_STORAGE';
  const load = () => { try { return JSON.parse(localStorage.getItem(KEY) || 'null'); } catch { return null; } };
  const current = () => { const d = load(); const id = d && d.session && d.session.currentAccount && d.session.currentAccount.did; return id ? d.session.accounts.find((a) => a.did === id) || null : null; };
  const root = document.getElementById('root');
  const results = window.__results = [];
  window.__attempts = 0;
  async function xrpc(method, body, counted) {
    const acc = current();
    if (!counted) window.__attempts++;
    if (window.__hold) await window.__hold;
    try {
      const r = await fetch((acc ? acc.pdsUrl : 'https://bsky.social') + '/xrpc/' + method, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + (acc ? acc.accessJwt : 'none') }, body: JSON.stringify(body) });
      results.push({ ok: r.ok, status: r.status });
    } catch (e) {
      results.push({ ok: false, error: String(e) });
    }
  }
  // The posts a reply or quote may refer to, by record key; the request names them by at:// address.
  const POSTS = {
    '3kother': { uri: 'at://did:plc:other/app.bsky.feed.post/3kother', cid: 'bafyother', handle: 'other.bsky.social', text: 'Someone else&#39;s post' },
    '3kanother': { uri: 'at://did:plc:another/app.bsky.feed.post/3kanother', cid: 'bafyanother', handle: 'another.bsky.social', text: 'A different post' },
  };
  let mode = 'post';
  let target = POSTS['3kother'];
  // Attached images: bsky.app uploads them (uploadBlob, the file's bytes as the body) when Post is
  // pressed, then names them by blob CID in the post's embed.
  const images = []; // {file, url, alt}
  async function uploadAll() {
    const acc = current();
    const out = [];
    for (const im of images) {
      const r = await fetch((acc ? acc.pdsUrl : 'https://bsky.social') + '/xrpc/com.atproto.repo.uploadBlob', { method: 'POST', headers: { 'content-type': im.file.type || 'application/octet-stream', authorization: 'Bearer ' + (acc ? acc.accessJwt : 'none') }, body: im.file });
      if (!r.ok) { results.push({ ok: false, status: r.status, upload: true }); return null; }
      out.push({ alt: im.alt, image: (await r.json()).blob, aspectRatio: { width: 1, height: 1 } });
    }
    return out;
  }
  const post = async (text) => {
    const acc = current();
    window.__attempts++; // counted from the press: the uploads come before applyWrites
    const ref = { uri: target.uri, cid: target.cid };
    const imgs = images.length ? await uploadAll() : [];
    if (imgs === null) return;
    const media = imgs.length ? { $type: 'app.bsky.embed.images', images: imgs } : null;
    const extra = mode === 'reply' ? { reply: { root: ref, parent: ref }, ...(media ? { embed: media } : {}) }
      : mode === 'quote' ? { embed: media ? { $type: 'app.bsky.embed.recordWithMedia', record: { $type: 'app.bsky.embed.record', record: ref }, media } : { $type: 'app.bsky.embed.record', record: ref } }
      : media ? { embed: media } : {};
    return xrpc('com.atproto.repo.applyWrites', { repo: acc ? acc.did : 'none', writes: [{ $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.post', rkey: '3l' + Date.now(), value: { $type: 'app.bsky.feed.post', text, langs: ['en'], ...extra, createdAt: new Date().toISOString() } }] }, true);
  };
  // __compose('reply'|'quote'|'post', record key) shows the reply or quote composer for that post.
  window.__compose = (m, rkey) => {
    mode = m;
    target = POSTS[rkey || '3kother'];
    const link = '<a href="/profile/' + target.handle + '/post/' + target.uri.split('/').pop() + '">2h</a>';
    root.querySelector('#replyTo').innerHTML = m === 'reply' ? '<div role="text" tabindex="0" aria-label="Expand or collapse the full post you are replying to"><b data-testid="postAuthor">@' + target.handle + '</b> ' + link + '<div data-testid="postText">' + target.text + '</div></div>' : '';
    root.querySelector('#quote').innerHTML = m === 'quote' ? '<div data-testid="composerQuote"><a href="/profile/' + target.handle + '" aria-label="View profile" data-testid="postAuthor">@' + target.handle + '</a> ' + link + '<div data-testid="postText">' + target.text + '</div></div>' : '';
  };
  function gallery() {
    const g = root.querySelector('#gallery');
    g.innerHTML = '';
    images.forEach((im, i) => {
      const d = document.createElement('div');
      d.setAttribute('data-testid', 'composerImage');
      const img = document.createElement('img');
      img.src = im.url; img.alt = im.alt; img.width = 40;
      const rm = document.createElement('button');
      rm.textContent = 'Remove'; rm.setAttribute('data-testid', 'removePhotoButton');
      rm.onclick = () => { images.splice(i, 1); gallery(); };
      d.append(img, rm);
      g.append(d);
    });
  }
  const record = (collection, subject) => { const acc = current(); return xrpc('com.atproto.repo.createRecord', { repo: acc ? acc.did : 'none', collection, record: { $type: collection, subject: subject ? { uri: subject.uri, cid: subject.cid } : { uri: 'at://did:plc:other/app.bsky.feed.post/1', cid: 'bafy' }, createdAt: new Date().toISOString() } }); };
  window.__publishDirect = (text) => post(text);
  window.__like = () => record('app.bsky.feed.like');
  window.__repost = () => record('app.bsky.feed.repost');
  // The composer and the feed show signed out too (as the X fixture's): posting then fails at the PDS.
  // The composer as bsky.app marks it (composePostView); __compose('reply'|'quote'|'post') shows
  // what its reply and quote composers add: the post being replied to (ComposerReplyTo, known by
  // its label) or the quoted post's embed (its PostMeta links to the post's address).
  root.innerHTML = '<nav id="account"></nav><main><div data-testid="composePostView"><div id="replyTo"></div>' +
    '<div data-testid="composerTextInput"><div contenteditable="true" role="textbox" aria-label="Rich-Text Editor"></div></div><div id="gallery"></div><div id="quote"></div>' +
    '<input type="file" data-testid="composerFileInput" accept="image/*" multiple>' +
    '<button data-testid="composerPublishBtn">Post</button></div>' +
    Object.entries(POSTS).map(([rkey, x]) => '<article data-testid="feedItem-by-' + x.handle + '" data-rkey="' + rkey + '"><span data-testid="postAuthor">@' + x.handle + '</span> ' +
      '<a href="/profile/' + x.handle + '/post/' + rkey + '">2h</a><p data-testid="postText">' + x.text + '</p><button data-testid="likeBtn">Like</button><button data-testid="repostBtn">Repost</button></article>').join('') + '</main>';
  root.querySelector('[data-testid=composerPublishBtn]').onclick = () => post(root.querySelector('[data-testid=composerTextInput] [contenteditable]').innerText.replace(/\\n$/, ''));
  root.querySelector('[data-testid=composerFileInput]').onchange = (ev) => {
    for (const file of ev.target.files) images.push({ file, url: URL.createObjectURL(file), alt: '' });
    ev.target.value = '';
    gallery();
  };
  for (const b of root.querySelectorAll('[data-testid=likeBtn]')) b.onclick = () => window.__like();
  // Repost opens a menu (in a layer of its own, outside the post, as bsky.app's dropdown):
  // "Repost" (repostDropdownRepostBtn) reposts that post with createRecord.
  for (const b of root.querySelectorAll('[data-testid=repostBtn]')) {
    b.onclick = () => {
      const rkey = b.closest('article').getAttribute('data-rkey');
      const old = document.getElementById('repostMenu');
      if (old) old.remove();
      const menu = document.createElement('div');
      menu.id = 'repostMenu'; menu.setAttribute('role', 'menu');
      menu.innerHTML = '<button role="menuitem" data-testid="repostDropdownRepostBtn">Repost</button><button role="menuitem" data-testid="repostDropdownQuoteBtn">Quote post</button>';
      menu.querySelector('[data-testid=repostDropdownRepostBtn]').onclick = () => { menu.remove(); record('app.bsky.feed.repost', POSTS[rkey]); };
      document.body.append(menu);
    };
  }
  const nav = root.querySelector('#account');
  function signedOut() {
    nav.innerHTML = '<button data-testid="signInButton">Sign in</button><button data-testid="createAccountButton">Create account</button>';
    nav.querySelector('[data-testid=signInButton]').onclick = form;
  }
  function form() {
    nav.innerHTML = '<form data-testid="loginForm" onsubmit="return false"><label>Username or email address <input data-testid="loginUsernameInput" autocomplete="username"></label>' +
      '<label>Password <input data-testid="loginPasswordInput" type="password" autocomplete="password"></label><div id="factor"></div><p id="err" role="alert"></p>' +
      '<button type="button" data-testid="loginNextButton">Next</button></form>';
    nav.querySelector('[data-testid=loginNextButton]').onclick = async () => {
      const f = nav.querySelector('#factor input');
      const body = { identifier: nav.querySelector('[data-testid=loginUsernameInput]').value, password: nav.querySelector('[data-testid=loginPasswordInput]').value, ...(f ? { authFactorToken: f.value } : {}) };
      const r = await fetch('https://bsky.social/xrpc/com.atproto.server.createSession', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const j = await r.json();
      if (!r.ok) {
        if (j.error === 'AuthFactorTokenRequired') nav.querySelector('#factor').innerHTML = '<label>Sign in code <input data-testid="loginAuthFactorTokenInput"></label>';
        nav.querySelector('#err').textContent = j.message || j.error;
        return;
      }
      const pds = j.didDoc.service[0].serviceEndpoint;
      localStorage.setItem(KEY, JSON.stringify({ colorMode: 'system', session: { accounts: [{ service: 'https://bsky.social/', did: j.did, handle: j.handle, email: j.email, emailConfirmed: j.emailConfirmed, accessJwt: j.accessJwt, refreshJwt: j.refreshJwt, pdsUrl: pds, active: true }], currentAccount: { did: j.did } } }));
      render();
    };
  }
  function render() {
    const acc = current();
    if (acc && acc.refreshJwt) nav.innerHTML = '<a data-testid="profileLink">@' + acc.handle + '</a>';
    else if (!nav.querySelector('[data-testid=loginForm]')) signedOut();
    settings();
  }
  // Settings -> Account (/settings/account), signed in: "Password" opens bsky.app's
  // ChangePasswordDialog: stage RequestCode ("Request code": requestPasswordReset with the
  // account's e-mail), stage ChangePassword (the e-mailed reset code and the new password,
  // "Update": resetPassword {token, password}), stage Done.
  function settings() {
    const acc = current();
    let box = root.querySelector('#settings');
    if (location.pathname !== '/settings/account' || !acc || !acc.refreshJwt) { if (box) box.remove(); return; }
    if (box) return;
    box = document.createElement('section');
    box.id = 'settings';
    box.innerHTML = '<h1>Account</h1><p>Email: ' + (acc.email || '') + '</p><button data-testid="accountSettingsChangePasswordBtn">Password</button><div id="dialog"></div>';
    root.prepend(box);
    const dlg = box.querySelector('#dialog');
    const call = async (method, body) => {
      const r = await fetch(acc.pdsUrl + '/xrpc/' + method, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + acc.accessJwt }, body: JSON.stringify(body) });
      if (r.ok) return null;
      let j = {};
      try { j = await r.json(); } catch { /* no body */ }
      return j.message || j.error || ('HTTP ' + r.status);
    };
    const fail = (msg) => { dlg.querySelector('#pwErr').innerHTML = '<div data-testid="changePasswordError" role="alert"></div>'; dlg.querySelector('[data-testid=changePasswordError]').textContent = msg; };
    box.querySelector('[data-testid=accountSettingsChangePasswordBtn]').onclick = () => {
      dlg.innerHTML = '<div role="dialog" aria-label="Change your password"><h2>Change your password</h2><p>If you want to change your password, we will send you a code to verify that this is your account.</p>' +
        '<div id="pwErr"></div><button data-testid="requestCodeBtn">Request code</button></div>';
      dlg.querySelector('[data-testid=requestCodeBtn]').onclick = async () => {
        const err = await call('com.atproto.server.requestPasswordReset', { email: acc.email });
        if (err) return fail(err);
        dlg.innerHTML = '<div role="dialog" aria-label="Enter code"><h2>Enter code</h2><p>Enter the code you received to change your password.</p>' +
          '<label>Reset code <input data-testid="resetCodeInput" autocomplete="off" placeholder="XXXXX-XXXXX"></label>' +
          '<label>New password <input data-testid="newPasswordInput" type="password" autocomplete="new-password"></label><div id="pwErr"></div>' +
          '<button data-testid="setNewPasswordBtn">Update</button></div>';
        dlg.querySelector('[data-testid=setNewPasswordBtn]').onclick = async () => {
          const token = dlg.querySelector('[data-testid=resetCodeInput]').value.trim();
          const password = dlg.querySelector('[data-testid=newPasswordInput]').value;
          if (!/^[A-Za-z2-7]{5}-?[A-Za-z2-7]{5}$/.test(token)) return fail('You have entered an invalid code. It should look like XXXXX-XXXXX.');
          const e2 = await call('com.atproto.server.resetPassword', { token, password });
          if (e2) return fail(e2);
          dlg.innerHTML = '<div role="dialog" aria-label="Password changed"><h2>Password changed</h2><p data-testid="changePasswordDone">Your password has been changed successfully!</p></div>';
        };
      };
    };
  }
  // Another tab signed in or out: follow it (the real app uses a BroadcastChannel).
  window.addEventListener('storage', (e) => { if (e.key === KEY || e.key === null) render(); });
  render();
})();
</script></body></html>`;
