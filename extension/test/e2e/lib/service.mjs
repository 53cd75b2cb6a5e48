// The "service" driver: the flow scenarios against `foureyes service` (service mode), set up as
// on a laptop where IT turned it on, with the people as OS users of their own:
//   - the service's own system user (SERVICE_USER), which alone can read the state folder (0700),
//     the sealed secrets and the audit trail; the service reads the policy only from --policy;
//   - the browser's user (BROWSER_USER: a staff account when e2e.sh runs Chromium through
//     chromium-as.sh, else this process's user), whose extension reaches
//     the service through the native-messaging host (which finds the socket by FOUREYES_SOCKET)
//     and the shared bridge, so every request carries that user's name;
//   - the approvers' users: by default the one approver is mapped (`approver enroll --os-user`)
//     to APPROVER_USER, another person than the browser's, so the self-approval rule sees two.
// IT's steps (enrolling approvers, `account add` with the password on standard input, reading
// the trail) are done as root over the service's socket. No keyring is involved anywhere.

import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync, cpSync, chmodSync, chownSync, existsSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { EXTENSION_ID } from './fake-daemon.mjs';
import { until } from './wait.mjs';
import { ACCOUNTS } from './server.mjs';
import { EXT_DIR, CHROMIUM } from './browser.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** SERVICE_USER runs `foureyes service`, as the package's `foureyes` user does. */
export const SERVICE_USER = 'foureyes-e2e-svc';
/** APPROVER_USER is a press officer's own OS account (the same second user the Go tests use). */
export const APPROVER_USER = 'foureyes-test-other';
/** SECOND_APPROVER_USER is a second press officer's OS account. */
export const SECOND_APPROVER_USER = 'foureyes-e2e-second';
/**
 * BROWSER_USER is who runs the browser, and so who asks for approval: FOUREYES_BROWSER_USER when
 * Chromium runs as that user through lib/chromium-as.sh (extension/scripts/e2e.sh does so),
 * else this process's user.
 */
export const BROWSER_USER = process.env.FOUREYES_BROWSER_USER || userInfo().username;
const ownUser = userInfo().username;
const WRAPPER = fileURLToPath(new URL('./chromium-as.sh', import.meta.url));

const STEP = 30000; // TOTP time step

/**
 * serviceMissing says what the service scenarios lack, with how to get it, or null: a built
 * foureyes, root (to run the service and the approvers as other OS users), setpriv, useradd and
 * oathtool.
 */
export function serviceMissing(bin) {
  if (!bin) return 'the foureyes binary: FOUREYES_BIN is not set (extension/scripts/e2e.sh builds it with go build ./daemon/cmd/foureyes; a build error is printed above)';
  if (!existsSync(bin)) return `the foureyes binary: FOUREYES_BIN=${bin} does not exist`;
  if (process.getuid() !== 0) return 'root, to run the service and the approvers as OS users of their own (run as root, as CI does)';
  for (const [prog, pkg] of [['setpriv', 'util-linux'], ['useradd', 'passwd'], ['oathtool', 'oathtool']]) {
    try { execFileSync('which', [prog], { stdio: 'ignore' }); } catch { return `${prog} (apt-get install ${pkg})`; }
  }
  if (BROWSER_USER !== ownUser && CHROMIUM !== WRAPPER) {
    return `Chromium started as ${BROWSER_USER}: with FOUREYES_BROWSER_USER set, FOUREYES_CHROMIUM must be ${WRAPPER} (and FOUREYES_CHROMIUM_AS the browser), as extension/scripts/e2e.sh sets them`;
  }
  return null;
}

/** ensureUser makes a system user without home or login shell, unless it exists; returns uid and gid. */
export function ensureUser(name) {
  const look = () => {
    try { return execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return null; }
  };
  // Tests run in parallel may add the same user at the same moment: look again after a failure.
  for (let i = 0; !look() && i < 20; i++) {
    try { execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { stdio: 'ignore' }); } catch { execFileSync('sleep', ['0.1']); }
  }
  const uid = look();
  if (!uid) throw new Error(`could not create the OS user ${name} with useradd`);
  return { name, uid: Number(uid), gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()) };
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/**
 * serviceDriver drives `foureyes service`. Each setup starts a fresh service in a folder of its
 * own under /tmp. approvers lists the approvers IT enrols, the first without a voucher, the others
 * vouched for by the first; each {id, name, osUser}. The first one is the one the approval window
 * is filled in for (driver.approver).
 */
export function serviceDriver(bin, { approvers = [{ id: 'anna', name: 'Anna Press', osUser: APPROVER_USER }] } = {}) {
  let base = null;
  let proc = null;
  let port = 0;
  let svcUser = null;
  let exitHook = false; // ends a service still running when run.mjs exits (a browser that failed to start skips teardown)
  const secrets = new Map(); // approver id -> base32 seed
  const lastStep = new Map(); // approver id -> the last time step a code was made for
  const paths = {};
  const cliEnv = () => ({ PATH: '/usr/bin:/bin:/usr/sbin:/sbin', FOUREYES_SOCKET: paths.socket, HOME: '/nonexistent' });
  /** run runs a foureyes command as root (IT at the laptop, or the browser's user) over the socket. */
  const run = (args, input) => {
    try {
      return execFileSync(paths.bin, args, { env: cliEnv(), input, encoding: 'utf8', timeout: 20000, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      e.message = `foureyes ${args.join(' ')}: exit ${e.status}: ${e.stdout || ''}${e.stderr || ''}`;
      throw e;
    }
  };
  /**
   * asUser runs a foureyes command as another OS user, over the socket, with nothing of this
   * process's environment; returns {status, stdout, stderr}.
   */
  const asUser = (user, args, input = '', cmd = [paths.bin, ...args]) => {
    const u = ensureUser(user);
    try {
      const stdout = execFileSync('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--clear-groups', '--', ...cmd],
        { env: cliEnv(), cwd: '/', input, encoding: 'utf8', timeout: 20000, stdio: ['pipe', 'pipe', 'pipe'] });
      return { status: 0, stdout, stderr: '' };
    } catch (e) {
      if (typeof e.status !== 'number') throw e;
      return { status: e.status, stdout: e.stdout || '', stderr: e.stderr || '' };
    }
  };
  /**
   * code makes an approver's code with oathtool: each code for a later time step than the last
   * (the service accepts a step once per approver), within the skew window of one step each way
   * (the policy's default) even a few seconds from now; waits for the next step when none is left.
   */
  async function code(id = approvers[0].id) {
    for (;;) {
      const now = Date.now();
      const lo = Math.floor((now + 5000) / STEP) - 1;
      const hi = Math.floor(now / STEP) + 1;
      const step = Math.max(lo, (lastStep.get(id) ?? -Infinity) + 1);
      if (step <= hi) {
        lastStep.set(id, step);
        return execFileSync('oathtool', ['--totp', '-b', '--now', new Date(step * STEP + 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'), secrets.get(id)], { encoding: 'utf8' }).trim();
      }
      await sleep(hi * STEP - now + 200);
    }
  }
  // `foureyes status --json`: exit 0 healthy, 1 running with problems, 3 not running.
  const status = () => {
    try {
      return JSON.parse(run(['status', '--json']));
    } catch (err) {
      if (err.status === 1 && err.stdout) return JSON.parse(err.stdout);
      throw err;
    }
  };
  // Up when the socket answers and the bridge accepts connections.
  const waitUp = () => until('foureyes service to answer on its socket and open the bridge', async () => {
    const s = status();
    if (!JSON.stringify(s).includes(`127.0.0.1:${port}`)) return false;
    await new Promise((resolve, reject) => { const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(); }); c.on('error', reject); });
    return true;
  }, { timeout: 20000, every: 100 });

  /** prepare makes the folders and users, starts the service, and does IT's setup over its socket. */
  async function prepare(dirs) {
    driver.env = {};
    svcUser = ensureUser(SERVICE_USER);
    for (const a of approvers) if (a.osUser) ensureUser(a.osUser);
    if (BROWSER_USER !== ownUser) {
      // The staff member's browser: its HOME, its profile and the copy of the extension it
      // loads (chromium-as.sh) are theirs.
      const staff = ensureUser(BROWSER_USER);
      const ext = join(dirs.base, 'extension');
      cpSync(EXT_DIR, ext, { recursive: true, filter: (src) => !src.startsWith(join(EXT_DIR, '_metadata')) });
      execFileSync('chown', ['-R', `${staff.uid}:${staff.gid}`, dirs.base]);
      driver.env.FOUREYES_EXTENSION_COPY = ext;
    }
    // Like /usr/bin, /etc/foureyes and /var/lib + /run: a folder every user may enter, with the
    // binary and the policy readable by all, and the state and runtime folders the service's
    // own (systemd's StateDirectory=, 0700, and RuntimeDirectory=, 0755).
    base = mkdtempSync(join(tmpdir(), 'foureyes-svc-e2e-'));
    chmodSync(base, 0o755);
    Object.assign(paths, { bin: join(base, 'foureyes'), policy: join(base, 'policy.json'), state: join(base, 'state'), run: join(base, 'run') });
    paths.socket = join(paths.run, 'foureyes.sock');
    copyFileSync(bin, paths.bin);
    chmodSync(paths.bin, 0o755);
    mkdirSync(paths.state, { mode: 0o700 });
    mkdirSync(paths.run, { mode: 0o755 });
    for (const d of [paths.state, paths.run]) chownSync(d, svcUser.uid, svcUser.gid);
    port = await freePort();
    writeFileSync(paths.policy, JSON.stringify({
      ...driver.policy,
      version: 1,
      accounts: { 'x:@ministry': {}, 'mastodon:@press@social.example': {}, 'bluesky:@ministry.bsky.social': {}, ...(driver.policy.accounts || {}) },
      default_approvers: driver.policy.default_approvers || approvers.map((a) => a.id),
      extension_ids: [EXTENSION_ID],
      bridge_port: port,
      mastodon_instances: ['social.example'],
      session_ttl_seconds: driver.sessionTtl,
    }, null, 2), { mode: 0o644 });
    // The browser's native-messaging host finds the service's socket from its environment (on a
    // laptop: /run/foureyes/foureyes.sock, found by itself).
    driver.env.FOUREYES_SOCKET = paths.socket;
    await driver.start();
    // The staff member lets the browser start the native-messaging host (the package does it
    // for every user on a laptop).
    const allowed = asUser(BROWSER_USER, ['extension', 'allow', EXTENSION_ID, '--dir', dirs.userDataDir]);
    if (allowed.status !== 0) throw new Error(`foureyes extension allow as ${BROWSER_USER}: ${allowed.stdout}${allowed.stderr}`);
    if (!existsSync(join(dirs.userDataDir, 'NativeMessagingHosts', 'org.foureyes.host.json'))) {
      throw new Error('foureyes extension allow --dir did not write USER_DATA_DIR/NativeMessagingHosts/org.foureyes.host.json');
    }
    // IT enrols the approvers at the laptop; each later one is vouched for by the first.
    for (const [i, a] of approvers.entries()) {
      const args = ['approver', 'enroll', a.id, '--name', a.name, '--json', ...(a.osUser ? ['--os-user', a.osUser] : [])];
      const enr = JSON.parse(i === 0 ? run(args, '\n') : run([...args, '--by', approvers[0].id], `${await code(approvers[0].id)}\n`));
      secrets.set(a.id, enr.secret);
      run(['approver', 'confirm', a.id, await code(a.id)]);
    }
    // The accounts into custody: root over the socket, the password and seed on standard input.
    run(['account', 'add', '--platform', 'x', '--handle', '@ministry', '--username', ACCOUNTS.x.username, '--password-stdin', '--totp-seed-stdin'], `${ACCOUNTS.x.password}\n${ACCOUNTS.x.seed}\n`);
    run(['account', 'add', '--platform', 'bluesky', '--handle', '@ministry.bsky.social', '--username', ACCOUNTS.bluesky.username, '--password-stdin'], `${ACCOUNTS.bluesky.password}\n`);
    run(['account', 'add', '--platform', 'mastodon', '--handle', '@press@social.example', '--username', ACCOUNTS.mastodon.username, '--password-stdin', '--totp-seed-stdin'], `${ACCOUNTS.mastodon.password}\n${ACCOUNTS.mastodon.seed}\n`);
  }

  const driver = {
    name: 'service',
    env: {},
    sessionTtl: 600,
    /** Policy keys on top of the base, as the real driver's. */
    policy: {},
    output: [],
    approver: approvers[0].id,
    approvers,
    paths,
    code,
    /** seed is an approver's TOTP seed, as enrolment showed it. */
    seed: (id) => secrets.get(id),
    run,
    asUser,
    status,
    /** The trail, exported by IT as root from the state folder (only root and the service can read it). */
    auditText() { return run(['audit', 'export', '--format', 'json', '--file', join(paths.state, 'audit.jsonl')]); },
    async setup(dirs) {
      try {
        await prepare(dirs);
      } catch (e) {
        await driver.teardown(); // a half-made service is not left running
        throw e;
      }
    },
    accountFor: (platform) => ({ x: 'x:@ministry', bluesky: 'bluesky:@ministry.bsky.social' }[platform] || 'mastodon:@press@social.example'),
    async lock() { run(['lock']); },
    // The real clock: with the policy's shortest session (30 s), wait until the service lists no
    // session as active and one as expired.
    async expire() {
      if (driver.sessionTtl > 60) return false;
      await until('the service to expire the session', () => {
        const ss = JSON.parse(run(['sessions', '--json'])) || [];
        return !ss.some((x) => x.state === 'active') && ss.some((x) => x.state === 'expired');
      }, { timeout: (driver.sessionTtl + 30) * 1000, every: 250 });
      return true;
    },
    async start() {
      if (!exitHook) { exitHook = true; process.once('exit', () => { if (proc) proc.kill('SIGTERM'); }); }
      // As the unit starts it: its own user, no supplementary groups, a bare environment. A
      // FOUREYES_POLICY that would fail shows that only --policy counts.
      proc = spawn('setpriv', ['--reuid', String(svcUser.uid), '--regid', String(svcUser.gid), '--clear-groups', '--', paths.bin, 'service',
        '--state-dir', paths.state, '--socket', paths.socket, '--policy', paths.policy],
      { env: { PATH: '/usr/bin:/bin', FOUREYES_POLICY: join(base, 'missing.json') }, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise((r) => proc.once('exit', (c, s) => r(`foureyes service exited (${c ?? s}) before it was up: ${driver.output.join('').slice(-2000)}`)));
      proc.stdout.on('data', (c) => { driver.output.push(c.toString('utf8')); process.stdout.write(c); });
      proc.stderr.on('data', (c) => { driver.output.push(c.toString('utf8')); process.stderr.write(c); });
      const why = await Promise.race([waitUp().then(() => null), exited]);
      if (why) throw new Error(why);
    },
    async stop() {
      if (!proc) return;
      const p = proc; proc = null;
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    },
    async connections() {
      try { return status().extensions_connected || 0; } catch { return 0; }
    },
    async audit() {
      const out = driver.auditText().trim();
      if (out.startsWith('[')) return JSON.parse(out);
      return out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    async published() {
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
    async events(name) { return (await driver.audit()).filter((e) => e.event === name).map((e) => e.fields); },
    async releaseRefused() { return (await driver.audit()).filter((e) => e.event === 'credential_release_refused').length; },
    async signedOut() {
      return (await driver.audit()).filter((e) => e.event === 'signed_out' || e.event === 'sign_out_failed')
        .map((e) => ({ session: e.fields.session_id, account: e.fields.account, host: e.fields.host, result: e.event === 'signed_out' ? 'ok' : 'failed', error: e.fields.error }));
    },
    wsPort: () => port,
    async teardown() {
      await driver.stop();
      if (base) rmSync(base, { recursive: true, force: true });
      base = null;
    },
  };
  return driver;
}
