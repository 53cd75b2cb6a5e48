// Daemon drivers for the flow scenarios. The same scenario runs against
//   - "fake": the protocol stand-in in fake-daemon.mjs (always available), and
//   - "real": the foureyes binary (FOUREYES_BIN), driven through its CLI as IT would.
// A driver prepares a browser profile (native-messaging host manifest), starts and stops the
// daemon, produces approver codes, and reads back what the daemon recorded.

import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { installNativeHost, startFakeDaemon, EXTENSION_ID } from './fake-daemon.mjs';
import { until } from './wait.mjs';
import { ACCOUNTS } from './server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function fakeDriver() {
  let cfg = null;
  let d = null;
  let port = 0;
  const history = { published: [], blocked: [], unrecognised: [] };
  return {
    name: 'fake',
    env: {},
    async setup(dirs) {
      cfg = installNativeHost(dirs.userDataDir, dirs.base);
      d = await startFakeDaemon({ hostConfig: cfg });
      port = d.port;
    },
    accountFor: (platform) => ({ x: 'x:@ministry', bluesky: 'bluesky:@ministry.bsky.social' }[platform] || 'mastodon:@press@social.example'),
    approver: 'anna',
    async code() { return '123456'; },
    async lock() { d.lock(); },
    async expire() { d.expireAll(); return true; },
    async stop() { history.published.push(...d.log.published); history.blocked.push(...d.log.blocked); history.unrecognised.push(...d.log.unrecognised); await d.close(); d = null; },
    async start() { d = await startFakeDaemon({ hostConfig: cfg, port }); },
    async connections() { return d ? d.connected() : 0; },
    async published() { return [...history.published, ...(d ? d.log.published : [])].map((m) => ({ digest: m.digest, session: m.session_id, manifestDigest: m.manifest_digest, alarm: !!m.alarm })); },
    async blocked() { return [...history.blocked, ...(d ? d.log.blocked : [])].map((m) => ({ reason: m.reason, digest: m.digest })); },
    async unrecognised() { return [...history.unrecognised, ...(d ? d.log.unrecognised : [])].map((m) => ({ platform: m.platform, host: m.host, method: m.method, path: m.path, severity: 'high' })); },
    // Custody: credentials released (and refused), and the extension's sign-out reports.
    async released() { return d ? d.log.released.map((r) => ({ session: r.session_id, account: r.account, host: r.host })) : []; },
    async releaseRefused() { return d ? d.log.releaseRefused.length : 0; },
    async signedOut() { return d ? d.log.signedOut.map((r) => ({ session: r.session_id, account: r.account, host: r.host, result: r.result, error: r.error })) : []; },
    wsPort: () => port,
    async teardown() { if (d) await d.close(); },
  };
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/**
 * realDriver drives the foureyes binary. Assumes the CLI described in the README of the daemon:
 * daemon --headless, approver enroll/confirm, account add, extension allow, lock, status --json,
 * audit export --format json; FOUREYES_HOME and FOUREYES_POLICY in the environment.
 * With firefoxId the host manifest is written for Firefox, under the browser's HOME
 * (dirs.home), instead of into a Chromium profile.
 */
export function realDriver(bin, { firefoxId = null } = {}) {
  let env = null;
  let proc = null;
  let secret = null;
  let lastStep = -1;
  let port = 0;
  const run = (args, input, extraEnv = {}) => execFileSync(bin, args, { env: { ...env, ...extraEnv }, input, encoding: 'utf8', timeout: 20000, stdio: ['pipe', 'pipe', 'pipe'] });
  const totp = () => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
  async function freshCode() {
    // A code is accepted once per approver: wait for the next time step when this one was used.
    for (;;) {
      const step = Math.floor(Date.now() / 30000);
      if (step !== lastStep) { lastStep = step; return totp(); }
      await sleep(30000 - (Date.now() % 30000) + 200);
    }
  }
  // `foureyes status --json`: exit 0 healthy, 1 running with problems (on a test machine, often
  // no system log to forward to), 3 not running. Both 0 and 1 answer with the status.
  const status = () => {
    try {
      return JSON.parse(run(['status', '--json']));
    } catch (err) {
      if (err.status === 1 && err.stdout) return JSON.parse(err.stdout);
      throw err;
    }
  };
  // The daemon is up when its admin socket answers.
  const waitUp = () => until('the foureyes daemon to answer `foureyes status`', () => status(), { timeout: 10000 });
  const driver = {
    name: 'real',
    env: {},
    sessionTtl: 600,
    // A scenario's policy keys on top of the base (custody, private_accounts; `accounts` entries
    // are merged), and further X accounts to take into custody (handle -> password).
    policy: {},
    extraAccounts: {},
    /** Everything the daemon wrote to stdout and stderr. */
    output: [],
    /** auditFile is the raw audit trail as the daemon keeps it (FOUREYES_HOME). */
    auditText() { return run(['audit', 'export', '--format', 'json']); },
    /** rotate asks for a password rotation of account from the CLI; returns the request id. */
    rotate(account) { return run(['account', 'rotate', account]).trim(); },
    /** approveCli approves a request from the CLI with a fresh code; returns the session id. */
    async approveCli(requestId) { return run(['approve', requestId, '--approver', 'anna'], `${await freshCode()}\n`).trim(); },
    async rotations() {
      return (await driver.audit()).filter((e) => ['password_rotated', 'rotation_failed', 'rotation_release'].includes(e.event))
        .map((e) => ({ event: e.event, session: e.fields.session_id, account: e.fields.account, error: e.fields.error }));
    },
    async setup(dirs) {
      const home = join(dirs.base, 'foureyes-home');
      mkdirSync(home, { recursive: true });
      port = await freePort();
      const policy = join(dirs.base, 'policy.json');
      const extra = Object.fromEntries(Object.keys(driver.extraAccounts).map((h) => [`x:${h}`, {}]));
      writeFileSync(policy, JSON.stringify({
        ...driver.policy,
        version: 1,
        accounts: { 'x:@ministry': {}, 'mastodon:@press@social.example': {}, 'bluesky:@ministry.bsky.social': {}, ...extra, ...(driver.policy.accounts || {}) },
        default_approvers: ['anna'],
        extension_ids: [EXTENSION_ID],
        bridge_port: port,
        mastodon_instances: ['social.example'],
        session_ttl_seconds: driver.sessionTtl,
      }, null, 2));
      env = { ...process.env, FOUREYES_HOME: home, FOUREYES_POLICY: policy };
      driver.env = { FOUREYES_HOME: home, FOUREYES_POLICY: policy };
      await driver.start();
      if (firefoxId) {
        // Firefox has no per-profile manifest folder: it reads the per-user one under its HOME.
        run(['extension', 'allow', '--firefox', firefoxId], undefined, { HOME: dirs.home });
        if (!existsSync(join(dirs.home, '.mozilla', 'native-messaging-hosts', 'org.foureyes.host.json'))) {
          throw new Error('foureyes extension allow --firefox did not write HOME/.mozilla/native-messaging-hosts/org.foureyes.host.json');
        }
      } else {
        // --dir is the browser's profile folder: the manifest goes to its NativeMessagingHosts.
        run(['extension', 'allow', EXTENSION_ID, '--dir', dirs.userDataDir]);
        if (!existsSync(join(dirs.userDataDir, 'NativeMessagingHosts', 'org.foureyes.host.json'))) {
          throw new Error('foureyes extension allow --dir did not write USER_DATA_DIR/NativeMessagingHosts/org.foureyes.host.json');
        }
      }
      const enr = JSON.parse(run(['approver', 'enroll', 'anna', '--name', 'Anna Press', '--json']));
      secret = enr.secret;
      run(['approver', 'confirm', 'anna', await freshCode()]);
      // The fixture platforms' accounts, with their own 2FA seeds: the daemon computes the code.
      run(['account', 'add', '--platform', 'x', '--handle', '@ministry', '--username', ACCOUNTS.x.username, '--password-stdin', '--totp-seed-stdin'], `${ACCOUNTS.x.password}\n${ACCOUNTS.x.seed}\n`);
      for (const [h, pw] of Object.entries(driver.extraAccounts)) run(['account', 'add', '--platform', 'x', '--handle', h, '--username', h.slice(1), '--password-stdin'], `${pw}\n`);
      // Bluesky: no two-factor seed (its second factor is an e-mailed code, which foureyes cannot use).
      run(['account', 'add', '--platform', 'bluesky', '--handle', '@ministry.bsky.social', '--username', ACCOUNTS.bluesky.username, '--password-stdin'], `${ACCOUNTS.bluesky.password}\n`);
      run(['account', 'add', '--platform', 'mastodon', '--handle', '@press@social.example', '--username', ACCOUNTS.mastodon.username, '--password-stdin', '--totp-seed-stdin'], `${ACCOUNTS.mastodon.password}\n${ACCOUNTS.mastodon.seed}\n`);
    },
    accountFor: (platform) => ({ x: 'x:@ministry', bluesky: 'bluesky:@ministry.bsky.social' }[platform] || 'mastodon:@press@social.example'),
    approver: 'anna',
    code: freshCode,
    async lock() { run(['lock']); },
    // The real clock cannot be advanced: with a short session TTL (the policy minimum, 30 s), wait
    // until the daemon lists no session as active any more, and at least one as expired.
    async expire() {
      if (driver.sessionTtl > 60) return false;
      await until('the daemon to expire the session', () => {
        const ss = JSON.parse(run(['sessions', '--json'])) || [];
        return !ss.some((x) => x.state === 'active') && ss.some((x) => x.state === 'expired');
      }, { timeout: (driver.sessionTtl + 30) * 1000, every: 250 });
      return true;
    },
    async start() {
      // Its output is kept (and passed on) so scenarios can check that no secret is in the log.
      proc = spawn(bin, ['daemon', '--headless'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout.on('data', (c) => { driver.output.push(c.toString('utf8')); process.stdout.write(c); });
      proc.stderr.on('data', (c) => { driver.output.push(c.toString('utf8')); process.stderr.write(c); });
      await waitUp();
    },
    async stop() {
      if (!proc) return;
      const p = proc; proc = null;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    },
    async connections() {
      try { return status().extensions_connected || 0; } catch { return 0; }
    },
    async audit() {
      const out = run(['audit', 'export', '--format', 'json']).trim();
      if (out.startsWith('[')) return JSON.parse(out);
      return out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    async published() {
      // Audit lines: {seq, time, user, event, severity, fields: {...}, prev, hash}.
      return (await driver.audit()).filter((e) => e.event === 'published' || e.event === 'publish_mismatch')
        .map((e) => ({ digest: e.fields.digest, session: e.fields.session_id, manifestDigest: e.fields.manifest_digest, alarm: e.event === 'publish_mismatch' }));
    },
    async blocked() {
      return (await driver.audit()).filter((e) => e.event === 'blocked').map((e) => ({ reason: e.fields.reason, digest: e.fields.digest }));
    },
    async unrecognised() {
      return (await driver.audit()).filter((e) => e.event === 'platform_unrecognised')
        .map((e) => ({ platform: e.fields.platform, host: e.fields.host, method: e.fields.method, path: e.fields.path, severity: e.severity }));
    },
    async released() {
      return (await driver.audit()).filter((e) => e.event === 'credential_release').map((e) => ({ session: e.fields.session_id, account: e.fields.account, host: e.fields.host }));
    },
    /** events returns the audit trail's lines of one event, with their fields. */
    async events(name) { return (await driver.audit()).filter((e) => e.event === name).map((e) => e.fields); },
    async releaseRefused() { return (await driver.audit()).filter((e) => e.event === 'credential_release_refused').length; },
    async signedOut() {
      return (await driver.audit()).filter((e) => e.event === 'signed_out' || e.event === 'sign_out_failed')
        .map((e) => ({ session: e.fields.session_id, account: e.fields.account, host: e.fields.host, result: e.event === 'signed_out' ? 'ok' : 'failed', error: e.fields.error }));
    },
    wsPort: () => port,
    async teardown() { await driver.stop(); },
  };
  return driver;
}

/**
 * realMissing says what the real-daemon scenarios lack, with how to get it, or null when they
 * can run: a built foureyes (FOUREYES_BIN, which extension/scripts/e2e.sh builds) and oathtool.
 */
export function realMissing(bin) {
  if (!bin) return 'the foureyes daemon: FOUREYES_BIN is not set (extension/scripts/e2e.sh builds it with go build ./daemon/cmd/foureyes; a build error is printed above)';
  if (!existsSync(bin)) return `the foureyes daemon: FOUREYES_BIN=${bin} does not exist`;
  try { execFileSync('which', ['oathtool'], { stdio: 'ignore' }); } catch { return 'oathtool, for approver codes (apt-get install oathtool)'; }
  return null;
}

