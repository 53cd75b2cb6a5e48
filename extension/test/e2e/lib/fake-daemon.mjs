// A small stand-in for the foureyes daemon's WebSocket bridge, speaking protocol version 1, so
// the browser flow can be tested without the Go daemon. It checks Origin and the hello token,
// keeps one request/session table, signs grants with its Ed25519 key, and records what the
// extension reported. `squatter: true` makes it a program squatting the port: it answers
// everything with success but cannot sign with the real daemon key.

import { WebSocketServer } from 'ws';
import { webcrypto as crypto, randomBytes, createHash } from 'node:crypto';
import { writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { grantString, toBase64 } from '../../../unpacked/lib/grant.js';
import { digest } from '../../../unpacked/lib/digest.js';
import { manifestDigest } from '../../../unpacked/lib/manifest.js';
import { ACCOUNTS } from './server.mjs';
import { totp } from './totp.mjs';

// What the keyring holds per account, and the platform's own hosts (PROTOCOL.md §2.5: the
// credentials go only to a host of the session's platform; for Mastodon, the account's instance).
const KEYRING = { 'x:@ministry': ACCOUNTS.x, 'mastodon:@press@social.example': ACCOUNTS.mastodon };
const hostsOf = (account) => (account.startsWith('x:') ? ['x.com', 'twitter.com', 'mobile.x.com', 'mobile.twitter.com'] : [account.slice(account.lastIndexOf('@') + 1)]);

export const EXTENSION_ID = 'khjidfhbpkegedbcgmbanfcppfhpdnkp';
const HOST_SCRIPT = fileURLToPath(new URL('./native-host.mjs', import.meta.url));

/**
 * installNativeHost writes the native-messaging manifest for org.foureyes.host into
 * <userDataDir>/NativeMessagingHosts, pointing at the stand-in host. Returns the config path
 * the test writes port/token/key into.
 */
export function installNativeHost(userDataDir, workDir) {
  const hostDir = join(userDataDir, 'NativeMessagingHosts');
  mkdirSync(hostDir, { recursive: true });
  const cfg = join(workDir, 'host-config.json');
  const wrapper = join(workDir, 'foureyes-host.sh');
  writeFileSync(wrapper, `#!/bin/sh\nFOUREYES_FAKE_HOST_CONFIG='${cfg}' exec '${process.execPath}' '${HOST_SCRIPT}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  writeFileSync(join(hostDir, 'org.foureyes.host.json'), JSON.stringify({
    name: 'org.foureyes.host', description: 'foureyes (test stand-in)', path: wrapper, type: 'stdio',
    allowed_origins: [`chrome-extension://${EXTENSION_ID}/`],
  }));
  writeFileSync(cfg, JSON.stringify({ error: { code: 'daemon_unavailable', message: 'not started' } }));
  return cfg;
}

export async function startFakeDaemon({ port = 0, hostConfig, squatter = false, openManifest = null, code = '123456', approvers = [{ id: 'anna', name: 'Anna Press' }], accounts = [{ id: 'x:@ministry', platform: 'x', handle: '@ministry' }, { id: 'mastodon:@press@social.example', platform: 'mastodon', handle: '@press@social.example' }] } = {}) {
  const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const realKey = toBase64(new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey)));
  // A squatter does not hold the key the native host vouches for: it signs with its own.
  const signing = squatter ? await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']) : kp;

  const tokens = new Set();
  const log = { messages: [], published: [], blocked: [], unrecognised: [], conns: 0, refused: [], released: [], releaseRefused: [], signedOut: [] };
  const requests = new Map();
  const sessions = new Map();
  let seq = 0;
  const sockets = new Set();

  const wss = new WebSocketServer({
    host: '127.0.0.1', port, path: '/v1', maxPayload: 64 * 1024,
    verifyClient: (info, cb) => {
      const origin = info.origin || info.req.headers.origin;
      const hostOk = info.req.headers.host === `127.0.0.1:${wss.address().port}`;
      if (origin !== `chrome-extension://${EXTENSION_ID}` || !hostOk) { log.refused.push(origin || '(none)'); cb(false, 403); return; }
      cb(true);
    },
  });
  await new Promise((r) => wss.once('listening', r));
  const actualPort = wss.address().port;

  function issueToken() {
    const t = randomBytes(32).toString('base64url');
    tokens.add(t);
    if (hostConfig) writeFileSync(hostConfig, JSON.stringify({ port: actualPort, token: t, daemon_key: realKey }));
    return t;
  }
  // The real native host fetches a fresh token per hello; the stand-in host reads one file, so
  // keep a token ready and replace it whenever one is spent.
  issueToken();

  async function sign(s, nonce) {
    const g = { session_id: s.id, account: s.account, action: s.action, digest: s.digest, manifest_digest: s.manifest_digest, expires: Math.floor(s.expires / 1000), nonce };
    const sig = await crypto.subtle.sign({ name: 'Ed25519' }, signing.privateKey, new TextEncoder().encode(grantString(g)));
    return { ...g, sig: toBase64(new Uint8Array(sig)) };
  }

  wss.on('connection', (ws) => {
    log.conns++;
    sockets.add(ws);
    let nonce = null;
    const helloTimer = setTimeout(() => { if (!nonce) ws.close(4001, 'forbidden'); }, 5000);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', async (data) => {
      let m;
      try { m = JSON.parse(String(data)); } catch { ws.close(); return; }
      log.messages.push(m);
      const reply = (o) => ws.send(JSON.stringify({ v: 1, id: m.id, ...o }));
      const fail = (code, message) => reply({ type: 'error', error: { code, message: message || code } });
      if (!nonce) {
        if (m.type !== 'hello' || !tokens.has(m.token) || !m.nonce) { fail('forbidden'); ws.close(); return; }
        tokens.delete(m.token);
        issueToken();
        nonce = m.nonce;
        clearTimeout(helloTimer);
        reply({ type: 'hello', version: 'fake-1', policy: { platforms: [], mastodon_instances: ['social.example'], approval_actions: ['post', 'reply', 'quote', 'repost'] } });
        return;
      }
      switch (m.type) {
        case 'ping': return reply({ type: 'pong' });
        case 'status': return reply({ type: 'status', status: { version: 'fake-1', open_sessions: [...sessions.values()].filter((s) => s.state === 'active').length, pending_requests: [...requests.values()].filter((r) => r.state === 'pending').length } });
        case 'approvers': return reply({ type: 'approvers', approvers });
        case 'accounts': return reply({ type: 'accounts', accounts });
        case 'request': {
          const d = await digest(m.text);
          if (m.digest && m.digest !== d) return fail('bad_request', 'digest does not match text');
          // The whole post (PROTOCOL.md, the post manifest): checked like the text's digest.
          let md;
          try { md = await manifestDigest({ account: m.account, action: m.action, text: m.text, media: m.media, target: m.target }); } catch (e) { return fail('bad_request', e.message); }
          if (m.manifest_digest && m.manifest_digest !== md) return fail('digest_mismatch', 'manifest_digest does not match the post');
          const r = { id: `r${++seq}`, account: m.account, action: m.action, text: m.text, digest: d, manifest_digest: md, media: m.media || [], target: m.target || null, state: 'pending', approvals_needed: 1, approved_by: [], expires: new Date(Date.now() + 600000).toISOString() };
          requests.set(r.id, r);
          return reply({ type: 'request', request: r });
        }
        case 'approve': {
          const r = requests.get(m.request_id);
          if (!r) return fail('not_found');
          if (!squatter && m.code !== code) return fail('bad_code', 'wrong code');
          const s = { id: `s${++seq}`, request_id: r.id, account: r.account, action: r.action, digest: r.digest, manifest_digest: r.manifest_digest, expires: Date.now() + 600000, state: 'active', approved_by: [m.approver] };
          sessions.set(s.id, s);
          Object.assign(r, { state: 'approved', session_id: s.id, approved_by: [m.approver] });
          return reply({ type: 'approval', request: r, session: { ...s, expires: new Date(s.expires).toISOString() }, grant: await sign(s, nonce) });
        }
        case 'cancel': { const r = requests.get(m.request_id); if (r) r.state = 'cancelled'; return reply({ type: 'request', request: r || {} }); }
        case 'open': {
          const s = sessions.get(m.session_id);
          if (!s && !squatter) return fail('not_found');
          if (squatter) return reply({ type: 'grant', grant: await sign(s || { id: m.session_id, account: 'x:@ministry', action: 'post', digest: m.digest, manifest_digest: m.manifest_digest, expires: Date.now() + 600000 }, nonce) });
          if (s.state !== 'active') return fail(s.state === 'revoked' ? 'locked' : s.state === 'expired' ? 'expired' : 'already_used');
          if (s.account !== m.account || s.action !== m.action) return fail('scope_mismatch');
          if (s.digest !== m.digest) return fail('digest_mismatch');
          s.state = 'consumed';
          // openManifest: a daemon that signs, with its real key, a grant for another whole post.
          return reply({ type: 'grant', grant: await sign(openManifest ? { ...s, manifest_digest: openManifest } : s, nonce) });
        }
        case 'credentials': {
          // Once per session, active sessions only, the session's own account, a host of its platform.
          const s = sessions.get(m.session_id);
          if (!s) return fail('not_found');
          const refuse = (code, why) => { log.releaseRefused.push({ session_id: m.session_id, account: m.account, host: m.host, why }); return fail(code, why); };
          if (s.state !== 'active') return refuse(s.state === 'revoked' ? 'locked' : s.state === 'expired' ? 'expired' : 'already_used', `session ${s.state}`);
          if (m.account !== s.account) return refuse('scope_mismatch', 'another account');
          if (!hostsOf(s.account).includes(String(m.host).toLowerCase())) return refuse('scope_mismatch', 'another host');
          if (s.released) return refuse('already_used', 'released before');
          s.released = true;
          const k = KEYRING[s.account];
          log.released.push({ session_id: s.id, account: s.account, host: m.host });
          return reply({ type: 'credentials', username: k.username, password: k.password, ...(k.seed ? { code: totp(k.seed) } : {}) });
        }
        case 'signed_out': {
          const s = sessions.get(m.session_id);
          if (!s) return fail('not_found');
          if (m.account !== s.account) return fail('scope_mismatch');
          log.signedOut.push({ session_id: m.session_id, account: m.account, host: m.host, result: m.result, error: m.error });
          return reply({ type: 'ok' });
        }
        case 'published': {
          // As the daemon: a text or a whole post other than the session's is an alarm.
          const s = sessions.get(m.session_id);
          log.published.push({ ...m, alarm: !s || s.digest !== m.digest || (m.manifest_digest && s.manifest_digest !== m.manifest_digest) });
          return reply({ type: 'ok' });
        }
        case 'blocked': log.blocked.push(m); return reply({ type: 'ok' });
        case 'unrecognised': log.unrecognised.push(m); return reply({ type: 'ok' });
        default: return fail('unsupported');
      }
    });
  });

  function broadcast(event) {
    for (const ws of sockets) ws.send(JSON.stringify({ v: 1, type: 'event', event: { time: new Date().toISOString(), ...event } }));
  }

  return {
    port: actualPort, log, sessions, requests,
    /** lock revokes every session, as "Lock now" does. */
    lock() {
      for (const s of sessions.values()) if (s.state === 'active') s.state = 'revoked';
      broadcast({ kind: 'lock', message: 'locked by test' });
    },
    /** expire lets every session run out. */
    expireAll() {
      for (const s of sessions.values()) if (s.state === 'active') { s.state = 'expired'; broadcast({ kind: 'session', session: { id: s.id, state: 'expired' } }); }
    },
    connected() { return sockets.size; },
    async close() {
      for (const ws of sockets) ws.terminate();
      await new Promise((r) => wss.close(() => r()));
      if (hostConfig) writeFileSync(hostConfig, JSON.stringify({ error: { code: 'daemon_unavailable', message: 'daemon stopped' } }));
    },
    hash: (s) => createHash('sha256').update(s).digest('hex'),
  };
}
