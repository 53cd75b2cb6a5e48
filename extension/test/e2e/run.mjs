// Browser end-to-end scenarios for the extension in Debian's Chromium (playwright-core).
//
//   node extension/test/e2e/run.mjs [--only substring] [--daemon fake|real|all|service]
//
// Gate scenarios need no daemon. Flow scenarios run against the protocol stand-in ("fake")
// always, and against the real daemon ("real") when FOUREYES_BIN names a built foureyes binary.
// --daemon service runs only the scenarios named in service-scenarios.mjs, against `foureyes
// service` with the browser's user, the service's and the approvers' as different OS users.
// Screenshots go to artifacts/. Prints "N passed, N failed" last; exits 1 on any failure.

import { mkdirSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { makeCert } from './lib/certs.mjs';
import { startServer, ACCOUNTS } from './lib/server.mjs';
import { launch, tempDirs, HOSTS, currentWorker, stopWorker, clickButton } from './lib/browser.mjs';
import { fakeDriver, realDriver, realMissing } from './lib/drivers.mjs';
import { serviceDriver, serviceMissing } from './lib/service.mjs';
import { SERVICE_SCENARIOS, serviceScenarios } from './service-scenarios.mjs';
import { withPolicy, whyNot as policyWhyNot } from './lib/policy.mjs';
import { CI, until } from './lib/wait.mjs';
import { postingHours } from './lib/hours.mjs';
import { digest } from '../../unpacked/lib/digest.js';
import { manifestDigest } from '../../unpacked/lib/manifest.js';
import { png, sha256hex } from './lib/images.mjs';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ARTIFACTS = process.env.ARTIFACTS || join(ROOT, 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const which = argv.includes('--daemon') ? argv[argv.indexOf('--daemon') + 1] : 'all';
const BIN = process.env.FOUREYES_BIN;

// ---- shared fixtures ------------------------------------------------------------------------
const certDir = tempDirs('foureyes-cert-').base;
const { key, cert } = makeCert(certDir, HOSTS);
const server = await startServer({ port: Number(process.env.E2E_PORT || 0), key, cert });

const URLS = { x: 'https://x.com/home', mastodon: 'https://social.example/home' };

async function openPlatform(context, platform) {
  const page = await context.newPage();
  await page.goto(URLS[platform]);
  await page.waitForSelector('html[data-foureyes=on]', { timeout: 10000 });
  return page;
}

async function typePost(page, platform, text) {
  if (platform === 'x') {
    await page.click('[data-testid=tweetTextarea_0]');
    await page.keyboard.type(text);
  } else {
    await page.fill('.compose-form textarea', text);
  }
}

async function clearPost(page, platform) {
  if (platform === 'x') await page.$eval('[data-testid=tweetTextarea_0]', (e) => { e.textContent = ''; });
  else await page.fill('.compose-form textarea', '');
}

async function pressPost(page, platform) {
  await page.click(platform === 'x' ? '[data-testid=tweetButtonInline]' : '.compose-form button[type=submit]');
}

async function noticeReason(page, timeout = 5000) {
  const n = page.locator('foureyes-notice');
  await n.waitFor({ state: 'visible', timeout });
  return n.getAttribute('data-reason');
}

/**
 * recordReasons keeps every reason the notice shows from now on in the page (window.__reasons):
 * a notice that the next one replaces quickly (published_mismatch, then signed_out after a
 * custody sign-out) is still seen.
 */
async function recordReasons(page) {
  await page.evaluate(() => {
    window.__reasons = [];
    const note = () => { const r = document.querySelector('foureyes-notice')?.dataset.reason; if (r && window.__reasons.at(-1) !== r) window.__reasons.push(r); };
    new MutationObserver(note).observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-reason'] });
  });
}

/** sawReason waits until the notice has shown want since recordReasons; returns every reason shown. */
const sawReason = (page, want, timeout = 10000) => until(`the notice to show ${want}`, async () => {
  const seen = await page.evaluate(() => window.__reasons || []);
  return seen.includes(want) && seen;
}, { timeout });

/** waitReason waits until the notice gives one of the wanted reasons; returns the last one seen. */
async function waitReason(page, want, timeout = 10000) {
  const wanted = Array.isArray(want) ? want : [want];
  const end = Date.now() + timeout;
  // A navigation of the tab ends the wait with an error at once: wait on in the new document.
  while (!page.isClosed() && Date.now() < end) {
    try {
      await page.waitForFunction((w) => w.includes(document.querySelector('foureyes-notice')?.dataset.reason), wanted, { timeout: Math.max(1, end - Date.now()) });
      break;
    } catch (err) {
      if (err && err.name === 'TimeoutError') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return page.locator('foureyes-notice').getAttribute('data-reason', { timeout: 1000 }).catch(() => null);
}

/** clickRequestApproval presses "Request approval" in the closed-shadow notice (a real click). */
async function clickRequestApproval(page) {
  await clickButton(page, 'foureyes-notice', 'Request approval');
}

async function approveInUi(context, page, driver, platform) {
  const popup = context.waitForEvent('page', { predicate: (p) => p.url().includes('/ui/approve.html'), timeout: 10000 });
  popup.catch(() => {}); // awaited below; a failed click must not leave it unhandled
  await clickRequestApproval(page);
  const ui = await popup;
  await ui.waitForSelector('#main:not([hidden])');
  await ui.waitForFunction(() => document.querySelectorAll('#approver option').length > 0 || document.getElementById('msg').textContent !== '', null, { timeout: 10000 });
  await ui.selectOption('#account', driver.accountFor(platform));
  await ui.selectOption('#approver', driver.approver);
  await ui.fill('#code', await driver.code());
  await ui.click('#approve');
  await ui.waitForSelector('#msg.ok', { timeout: 10000 });
  const msg = await ui.textContent('#msg');
  return { ui, msg };
}

/**
 * received says whether exactly `expected` publishing requests reached the server, once it is
 * settled: at least `expected` arrived, and every publish the page started (its own handler, a
 * replay by the extension, a direct fetch) has ended, sent or failed. A request the extension
 * wrongly let through is then already at the server: the server records it before answering.
 */
async function received(page, expected) {
  if (expected > 0) await server.waitFor(expected).catch(() => {});
  await page.waitForFunction(() => window.__results.length === window.__attempts, null, { timeout: 15000 });
  return server.received.length === expected;
}

/** connected waits until the extension holds a connection to the daemon. */
const connected = (driver, timeout = 20000) => until('the extension to connect to the daemon', async () => await driver.connections() >= 1, { timeout });

/** published waits for the daemon's record of n publish reports and returns them all. */
const published = (driver, n = 1) => until(`${n} publish report(s) at the daemon`, async () => { const p = await driver.published(); return p.length >= n && p; });

async function setInstances(worker, list) {
  await worker.evaluate(async (l) => { await chrome.storage.local.set({ mastodon_instances: l }); }, list);
  await until('the content script for social.example to be registered', () => worker.evaluate(async () =>
    (await chrome.scripting.getRegisteredContentScripts()).some((s) => s.matches.includes('https://social.example/*'))), { timeout: 5000 });
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

// ---- the runner -----------------------------------------------------------------------------
const results = [];
const scenarios = [];
const scenario = (name, fn) => scenarios.push({ name, fn, flow: false });
const flow = (name, fn) => scenarios.push({ name, fn, flow: true });
// Against the real daemon only: what the protocol stand-in does not implement (the policy's custody
// modes and private accounts, rotation).
const realFlow = (name, fn) => scenarios.push({ name, fn, flow: true, realOnly: true });

async function withBrowser(driver, fn) {
  const dirs = tempDirs();
  if (driver) await driver.setup(dirs);
  const b = await launch({ ...dirs, serverPort: server.port, extraEnv: driver ? driver.env : {} });
  // E2E_DEBUG=1 prints the worker's console (never a secret: the extension logs none).
  if (process.env.E2E_DEBUG && b.worker) b.worker.on('console', (m) => console.log(`     worker: ${m.text()}`));
  try {
    return await fn({ ...b, dirs });
  } finally {
    await b.context.close().catch(() => {});
    if (driver) await driver.teardown().catch(() => {});
    rmSync(dirs.base, { recursive: true, force: true });
  }
}

// ---- gate scenarios: no daemon at all ------------------------------------------------------
for (const platform of ['x', 'mastodon']) {
  scenario(`${platform}: without approval nothing is published (click, Ctrl+Enter, form submit, direct fetch)`, () => withBrowser(null, async ({ context, worker }) => {
    if (platform === 'mastodon') await setInstances(worker, ['social.example']);
    const page = await openPlatform(context, platform);
    server.reset();
    await typePost(page, platform, 'Guten Morgen! Unapproved post.');
    await pressPost(page, platform);
    assert.equal(await noticeReason(page), 'daemon_unavailable');
    await page.keyboard.press('Control+Enter');
    if (platform === 'mastodon') await page.evaluate(() => document.querySelector('.compose-form').requestSubmit());
    await page.evaluate(() => window.__publishDirect('sent straight from the page script'));
    assert.ok(await received(page, 0), `server received ${JSON.stringify(server.received)}`);
    if (platform === 'x') {
      const results = await page.evaluate(() => window.__results);
      assert.deepEqual(results, ['failed'], 'only the direct fetch reached the network layer, and it failed');
    }
    // The network gate alone: a form posted the old way, no event to intercept. The browser
    // reports the navigation's request as blocked by the extension.
    if (platform === 'mastodon') {
      const blocked = page.waitForEvent('requestfailed', { predicate: (r) => r.method() === 'POST' && r.url().endsWith('/api/v1/statuses'), timeout: 10000 });
      await page.evaluate(() => { const f = document.createElement('form'); f.method = 'POST'; f.action = '/api/v1/statuses'; const i = document.createElement('input'); i.name = 'status'; i.value = 'form post'; f.append(i); document.body.append(f); HTMLFormElement.prototype.submit.call(f); });
      assert.match((await blocked).failure()?.errorText || '', /BLOCKED_BY_CLIENT/);
      assert.equal(server.received.length, 0, `server received ${JSON.stringify(server.received)}`);
    }
  }));
}

scenario('x: daemon not reachable -> notice says so (screenshot)', () => withBrowser(null, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await typePost(page, 'x', 'Hello from the press office');
  await pressPost(page, 'x');
  assert.equal(await noticeReason(page), 'daemon_unavailable');
  const label = await page.locator('foureyes-notice').getAttribute('aria-label');
  assert.match(label, /foureyes daemon is not running: start it with `foureyes daemon`\./);
  await shot(page, 'x-daemon-not-running');
}));

scenario('x: the page gate holds a button the page re-rendered', () => withBrowser(null, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await typePost(page, 'x', 'after re-render');
  await page.evaluate(() => window.__rerender());
  server.reset();
  await pressPost(page, 'x');
  assert.equal(await noticeReason(page), 'daemon_unavailable');
  assert.ok(await received(page, 0));
  assert.deepEqual(await page.evaluate(() => [window.__attempts, window.__results]), [0, []], 'the page handler never ran');
}));

/** configKnown waits until the worker has read IT's configuration and lifted the fail-closed ruleset. */
const configKnown = (context) => until('the extension to know its configuration', async () => {
  const w = await currentWorker(context);
  return w.evaluate(async () => (await chrome.storage.session.get('config_state')).config_state === 'known' &&
    !(await chrome.declarativeNetRequest.getEnabledRulesets()).includes('pending'));
}, { timeout: 30000, every: 200 });

scenario('other sites are left alone (once the configuration is known)', () => withBrowser(null, async ({ context }) => {
  await configKnown(context);
  server.extraPages.set('other.example/', '<!doctype html><p>hi</p><script>fetch("/api/v1/statuses",{method:"POST",body:"{}"}).then(()=>document.title="sent")</script>');
  const page = await context.newPage();
  await page.goto('https://other.example/');
  await page.waitForFunction(() => document.title === 'sent');
  assert.equal(await page.getAttribute('html', 'data-foureyes'), null);
}));

// ---- flow scenarios: need a daemon ----------------------------------------------------------
for (const platform of ['x', 'mastodon']) {
  flow(`${platform}: approve with a code -> exactly one request with the approved text; a second post is blocked`, (driver) => withBrowser(driver, async ({ context }) => {
    const page = await openPlatform(context, platform);
    await connected(driver);
    server.reset();
    const text = `Approved post from the ministry ${platform} 🇩🇪`;
    await typePost(page, platform, text);
    await pressPost(page, platform);
    assert.equal(await noticeReason(page), 'approval_needed');
    await shot(page, `${platform}-approval-needed`);
    const { ui, msg } = await approveInUi(context, page, driver, platform);
    assert.match(msg, /Approved by/);
    await shot(ui, `${platform}-approval-page-approved`);
    await ui.close();
    // Approved, and in custody signed in to the account right after (either notice may show).
    assert.ok(['approved', 'signed_in'].includes(await waitReason(page, ['approved', 'signed_in'])));
    await pressPost(page, platform);
    assert.ok(await received(page, 1), `want one request, got ${JSON.stringify(server.received)}; notice ${await page.locator('foureyes-notice').getAttribute('data-reason').catch(() => '-')}; page ${JSON.stringify(await page.evaluate(() => window.__results))}`);
    assert.equal(server.received[0].text, text);
    const pub = await published(driver);
    assert.equal(pub.length, 1, 'published reported once');
    assert.equal(pub[0].digest, await digest(text));
    // The same text again: the session is spent.
    await pressPost(page, platform);
    assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
    assert.ok(await received(page, 1), 'second post blocked');
    await page.evaluate(() => window.__publishDirect('sneaky second'));
    assert.ok(await received(page, 1), 'direct fetch after the publish blocked');
  }));
}

flow('x: text edited after approval -> blocked, reported as digest_mismatch', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  server.reset();
  await typePost(page, 'x', 'The approved wording');
  await pressPost(page, 'x');
  await noticeReason(page);
  const { ui } = await approveInUi(context, page, driver, 'x');
  await ui.close();
  await typePost(page, 'x', ' plus an unapproved addition');
  await pressPost(page, 'x');
  assert.equal(await waitReason(page, 'digest_mismatch'), 'digest_mismatch');
  await shot(page, 'x-digest-mismatch');
  assert.ok(await received(page, 0));
  const blocked = await until('the daemon to record the digest_mismatch block', async () => { const b = await driver.blocked(); return b.some((x) => x.reason === 'digest_mismatch') && b; }).catch(async () => driver.blocked());
  assert.ok(blocked.some((b) => b.reason === 'digest_mismatch'), JSON.stringify(blocked));
  // Back to the approved text: still good for one post.
  await clearPost(page, 'x');
  await typePost(page, 'x', 'The approved wording');
  await pressPost(page, 'x');
  assert.ok(await received(page, 1), JSON.stringify(server.received));
}));

flow('x: page swaps the text after the check -> the publish is reported with the digest of what was sent', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  server.reset();
  await typePost(page, 'x', 'What the press officer read');
  await pressPost(page, 'x');
  await noticeReason(page);
  const { ui } = await approveInUi(context, page, driver, 'x');
  await ui.close();
  await page.evaluate(() => { window.__swap = 'What the page sent instead'; });
  await recordReasons(page);
  await pressPost(page, 'x');
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.equal(server.received[0].text, 'What the page sent instead');
  assert.ok((await sawReason(page, 'published_mismatch')).includes('published_mismatch'));
  const pub = await published(driver);
  assert.equal(pub.length, 1, JSON.stringify(pub));
  assert.equal(pub[0].digest, await digest('What the page sent instead'));
  if (driver.name === 'real') assert.equal(pub[0].alarm, true, 'the audit trail records a publish_mismatch alarm');
}));

flow('x: "Lock now" after approval -> blocked', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  server.reset();
  await typePost(page, 'x', 'To be locked');
  await pressPost(page, 'x');
  await noticeReason(page);
  const { ui } = await approveInUi(context, page, driver, 'x');
  await ui.close();
  await driver.lock(); // returns once the daemon has revoked every session
  await pressPost(page, 'x');
  const r = await waitReason(page, ['approval_needed', 'locked']);
  assert.ok(['approval_needed', 'locked'].includes(r), r);
  assert.ok(await received(page, 0));
}));

flow('x: session expired -> blocked', async (driver) => {
  driver.sessionTtl = 30;
  return withBrowser(driver, async ({ context }) => {
    const page = await openPlatform(context, 'x');
    server.reset();
    await typePost(page, 'x', 'Runs out of time');
    await pressPost(page, 'x');
    await noticeReason(page);
    const { ui } = await approveInUi(context, page, driver, 'x');
    await ui.close();
    if (!(await driver.expire())) return 'skip: cannot advance the daemon clock';
    await pressPost(page, 'x');
    const r = await waitReason(page, ['approval_needed', 'expired']);
    assert.ok(['approval_needed', 'expired'].includes(r), r);
    assert.ok(await received(page, 0));
  });
});

flow('daemon stopped then restarted -> the extension reconnects and the flow works', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await connected(driver);
  await driver.stop();
  await typePost(page, 'x', 'While the daemon is down');
  await pressPost(page, 'x');
  assert.equal(await waitReason(page, 'daemon_unavailable'), 'daemon_unavailable');
  await driver.start();
  // Back-off is at most a few seconds after one failure; the next Post also reconnects.
  await connected(driver);
  server.reset();
  await pressPost(page, 'x');
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  const { ui } = await approveInUi(context, page, driver, 'x');
  await ui.close();
  await pressPost(page, 'x');
  assert.ok(await received(page, 1), JSON.stringify(server.received));
}));

flow('service worker stopped mid-flow -> approval survives, nothing left open', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  server.reset();
  await typePost(page, 'x', 'Survives a worker restart');
  await pressPost(page, 'x');
  await noticeReason(page);
  const { ui } = await approveInUi(context, page, driver, 'x');
  await ui.close();
  await stopWorker(context);
  // Nothing gets through while the worker is down or starting.
  await page.evaluate(() => window.__publishDirect('while the worker is stopped'));
  assert.ok(await received(page, 0));
  await pressPost(page, 'x'); // wakes the worker; it reconnects and uses the stored approval
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.equal(server.received[0].text, 'Survives a worker restart');
  // Stop it again as soon as the extension has seen the request (its report reached the
  // daemon): no allow rule may outlive the worker.
  await published(driver, 1);
  await stopWorker(context);
  await page.evaluate(() => window.__publishDirect('after the second stop'));
  assert.ok(await received(page, 1));
  const w = await currentWorker(context).catch(() => null);
  if (w) {
    const rules = await w.evaluate(() => chrome.declarativeNetRequest.getSessionRules());
    assert.deepEqual(rules.filter((r) => r.action.type === 'allow'), []);
  }
}));

flow('a web page cannot open the daemon WebSocket', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await context.newPage();
  await page.goto('https://other.example/');
  const port = driver.wsPort();
  const outcome = await page.evaluate((p) => new Promise((res) => {
    const ws = new WebSocket(`ws://127.0.0.1:${p}/v1`);
    ws.onopen = () => res('open');
    ws.onerror = () => res('refused');
    setTimeout(() => res('timeout'), 5000);
  }), port);
  assert.equal(outcome, 'refused');
}));

scenario('a program squatting the daemon port cannot open the gate', async () => {
  const { startFakeDaemon, installNativeHost } = await import('./lib/fake-daemon.mjs');
  const squat = {
    name: 'squatter', env: {}, approver: 'anna', accountFor: (p) => (p === 'x' ? 'x:@ministry' : 'mastodon:@press@social.example'),
    d: null,
    async setup(dirs) { const cfg = installNativeHost(dirs.userDataDir, dirs.base); this.d = await startFakeDaemon({ hostConfig: cfg, squatter: true }); },
    async code() { return '000000'; },
    async teardown() { await this.d.close(); },
  };
  return withBrowser(squat, async ({ context }) => {
    const page = await openPlatform(context, 'x');
    server.reset();
    await typePost(page, 'x', 'Squatter says yes');
    await pressPost(page, 'x');
    await noticeReason(page);
    const { ui } = await approveInUi(context, page, squat, 'x');
    await ui.close();
    await pressPost(page, 'x');
    assert.equal(await waitReason(page, 'grant_invalid'), 'grant_invalid');
    assert.ok(await received(page, 0));
    await shot(page, 'x-squatter-refused');
  });
});

// ---- the network gate stops what the page gate missed: never silent ------------------------
// A publish button the platform table does not describe: inside a shadow root, where the page
// gate's capture listener sees only the shadow host.
const SHADOW_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>X, new composer</title></head><body>
<div data-testid="tweetTextarea_0" contenteditable="true">shadow composer text</div>
<new-composer id="nc"></new-composer>
<script>
  window.__results = []; window.__attempts = 0;
  const host = document.getElementById('nc');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = '<button id="send">Send now</button>';
  root.getElementById('send').addEventListener('click', async () => {
    window.__attempts++;
    try {
      const r = await fetch('/i/api/graphql/NeWqUeRy/CreateTweet', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ variables: { tweet_text: 'from a button the table does not know' } }) });
      window.__results.push(r.ok ? 'sent' : 'http ' + r.status);
    } catch { window.__results.push('failed'); }
  });
</script></body></html>`;

flow('x: a publish button the table does not describe (in a shadow root) -> stopped, notice on the tab, platform_unrecognised in the trail', (driver) => withBrowser(driver, async ({ context }) => {
  server.extraPages.set('x.com/new-composer', SHADOW_PAGE);
  const page = await context.newPage();
  await page.goto('https://x.com/new-composer');
  await page.waitForSelector('html[data-foureyes=on]', { timeout: 10000 });
  await connected(driver);
  server.reset();
  await page.click('#send'); // pierces the open shadow root, as a person's click does
  assert.ok(await received(page, 0), `server received ${JSON.stringify(server.received)}`);
  assert.equal(await waitReason(page, 'platform_unrecognised'), 'platform_unrecognised');
  await shot(page, 'x-platform-unrecognised');
  const recs = await until('the daemon to record platform_unrecognised', async () => { const u = await driver.unrecognised(); return u.length >= 1 && u; });
  assert.equal(recs.length, 1, JSON.stringify(recs));
  assert.deepEqual({ ...recs[0], path: undefined }, { platform: 'x', host: 'x.com', method: 'POST', path: undefined, severity: 'high' });
  assert.match(recs[0].path, /\/CreateTweet$/);
  // A page repeating it cannot flood the trail; every attempt is still stopped and told.
  for (let i = 0; i < 3; i++) await page.click('#send');
  assert.ok(await received(page, 0));
  assert.equal(await waitReason(page, 'platform_unrecognised'), 'platform_unrecognised');
  await page.evaluate(() => fetch('/i/api/graphql/q/CreateTweet', { method: 'POST', body: '{}' }).catch(() => {}));
  if (driver.name === 'real') { // the daemon's own limit, as well as the extension's
    assert.equal((await driver.unrecognised()).length, 1, 'one line per tab, platform and host a minute');
  } else {
    assert.equal((await driver.unrecognised()).length, 1, 'one report per tab and platform a minute');
  }
}));

// ---- IT's configuration never opens the gate late -------------------------------------------
// Fresh profiles whose only Mastodon instance comes from Chromium's managed policy: from the
// first request, a publishing request to that instance never reaches the server, before and
// after managed storage answers.
const MANAGED_RUNS = Number(process.env.E2E_MANAGED_RUNS || 20);
scenario(`mastodon: instance set only by managed policy is governed from the first request (${MANAGED_RUNS} fresh profiles)`, async () => {
  const why = policyWhyNot();
  if (why) return `skip: ${why}`;
  const policy = { '3rdparty': { extensions: { khjidfhbpkegedbcgmbanfcppfhpdnkp: { mastodon_instances: ['social.example'] } } } };
  return withPolicy('foureyes-e2e-managed', policy, async () => {
    const figures = [];
    let governed = 0;
    for (let run = 1; run <= MANAGED_RUNS; run++) {
      const dirs = tempDirs('foureyes-managed-');
      const t0 = Date.now();
      const b = await launch({ ...dirs, serverPort: server.port });
      try {
        server.reset();
        const page = await b.context.newPage();
        await page.goto('https://social.example/home');
        const first = await page.evaluate(async () => { try { await fetch('/api/v1/statuses', { method: 'POST', body: '{"status":"first"}' }); return 'sent'; } catch { return 'failed'; } });
        const tFirst = Date.now() - t0;
        // Never silent: the tab says nothing was published (settings not read yet, or, if they
        // arrived meanwhile, a request the page gate did not hold).
        const notice = await waitReason(page, ['config_pending', 'platform_unrecognised']);
        const told = ['config_pending', 'platform_unrecognised'].includes(notice) ? notice : null;
        // Then until the worker has built the governed set from managed storage, and after.
        await configKnown(b.context);
        const tKnown = Date.now() - t0;
        const rules = await (await currentWorker(b.context)).evaluate(() => chrome.declarativeNetRequest.getDynamicRules());
        const instanceRule = rules.some((r) => r.action.type === 'block' && r.condition.regexFilter.includes('social\\.example'));
        // Known from managed storage itself, not from the grace period running out first.
        const by = await (await currentWorker(b.context)).evaluate(async () => (await chrome.storage.session.get('config_known')).config_known);
        const after = await page.evaluate(async () => { try { await fetch('/api/v1/statuses', { method: 'POST', body: '{"status":"after"}' }); return 'sent'; } catch { return 'failed'; } });
        const ok = first === 'failed' && after === 'failed' && instanceRule && by === 'managed' && server.received.length === 0;
        if (ok) governed++;
        figures.push({ run, first, after, instanceRule, by, told, tFirst, tKnown, received: server.received.length });
      } finally {
        await b.context.close().catch(() => {});
        rmSync(dirs.base, { recursive: true, force: true });
      }
    }
    const ms = (k) => figures.map((f) => f[k]).sort((a, b) => a - b);
    console.log(`     managed policy: ${governed}/${MANAGED_RUNS} runs governed from the first request; ` +
      `first request blocked ${ms('tFirst')[0]}-${ms('tFirst').at(-1)} ms after launch; configuration known ${ms('tKnown')[0]}-${ms('tKnown').at(-1)} ms after launch; ` +
      `notice on the tab within 10 s in ${figures.filter((f) => f.told).length}/${MANAGED_RUNS}`);
    assert.equal(governed, MANAGED_RUNS, JSON.stringify(figures.filter((f) => !(f.first === 'failed' && f.after === 'failed' && f.instanceRule && f.by === 'managed' && !f.received))));
    // The notice path for a block before the configuration is known works (the count is a
    // figure: on a loaded machine a notice can come after the 10 s this waits).
    assert.ok(figures.some((f) => f.told), 'no run showed a notice for the blocked request');
  });
});

// ---- the service worker stopped at every step of the flow -----------------------------------
/** allowRules lists the allow rules in force (session and dynamic), from a running worker. */
async function allowRulesNow(context) {
  return until('a running service worker to list the rules', async () => {
    const w = await currentWorker(context);
    return w.evaluate(async () => [...await chrome.declarativeNetRequest.getSessionRules(), ...await chrome.declarativeNetRequest.getDynamicRules()]
      .filter((r) => r.action.type === 'allow').map((r) => r.id));
  }, { timeout: 15000, every: 200 });
}

flow('service worker stopped at every step of approve-and-publish -> gate closed, no allow rule left, one publish', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await connected(driver);
  server.reset();
  const text = 'Survives the worker being stopped at every step';
  let sent = 0; // publishing requests that legitimately reached the server
  /** closed: the worker is stopped; a direct publish from the page is blocked; no allow rule. */
  const closed = async (step) => {
    await stopWorker(context);
    await page.evaluate((s) => window.__publishDirect(`direct fetch ${s}`), step);
    assert.ok(await received(page, sent), `${step}: server received ${JSON.stringify(server.received)}`);
    assert.deepEqual(await allowRulesNow(context), [], `${step}: an allow rule is left`);
  };

  await typePost(page, 'x', text);
  await closed('before the request');
  await pressPost(page, 'x');
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');

  // The request reaches the daemon (a wrong code leaves it pending), then the worker stops.
  const popup = context.waitForEvent('page', { predicate: (p) => p.url().includes('/ui/approve.html'), timeout: 10000 });
  await clickRequestApproval(page);
  const ui = await popup;
  await ui.waitForSelector('#main:not([hidden])');
  await ui.waitForFunction(() => document.querySelectorAll('#approver option').length > 0, null, { timeout: 10000 });
  await ui.selectOption('#account', driver.accountFor('x'));
  await ui.selectOption('#approver', driver.approver);
  await ui.fill('#code', '000000');
  await ui.click('#approve');
  await ui.waitForSelector('#msg.err', { timeout: 10000 });
  await closed('after the request was sent');

  await ui.fill('#code', await driver.code());
  await ui.click('#approve');
  await ui.waitForSelector('#msg.ok', { timeout: 10000 });
  await ui.close();
  // In custody the sign-in follows the approval at once: either notice may be the one showing.
  assert.ok(['approved', 'signed_in'].includes(await waitReason(page, ['approved', 'signed_in'])));
  await closed('after the approval was received');

  // Post: the gate opens for one request; the page holds its request until the worker is gone.
  await page.evaluate(() => { window.__hold = new Promise((r) => { window.__release = r; }); });
  await pressPost(page, 'x');
  await until('the allow rule to be installed', async () => (await allowRulesNow(context)).length > 0);
  await stopWorker(context);
  await page.evaluate(() => { window.__hold = null; window.__release(); });
  await page.waitForFunction(() => window.__results.length === window.__attempts, null, { timeout: 15000 });
  sent = server.received.length;
  assert.ok(sent <= 1, `the one opened request went out ${sent} times`);
  console.log(`     the request held past the worker's stop: ${sent ? 'went out once, reported by the worker it woke' : 'blocked (the gate had closed)'}`);
  // Legitimately one (the allow was in place), or none when the stopped worker's alarm closed
  // the gate first. What went out is reported once, by the worker that woke for it.
  if (sent === 1) {
    assert.equal(server.received[0].text, text);
    const pub = await published(driver);
    assert.equal(pub.length, 1, JSON.stringify(pub));
    assert.equal(pub[0].digest, await digest(text));
  }

  await closed('after the publish');
  await pressPost(page, 'x');
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  assert.ok(await received(page, sent), 'the spent approval publishes nothing more');
  assert.equal((await driver.published()).length, sent, 'nothing was published twice');
}));


// ---- custody of the sign-in: signed in from the keyring inside the session only -------------
const SITE = {
  x: { host: 'x.com', origins: ['https://x.com', 'https://api.x.com'], signIn: (e) => e.method === 'POST' && e.host === 'api.x.com' && e.url === '/1.1/onboarding/task.json',
    session: ['auth_token', 'ct0'], replay: (c) => server.replay('x.com', 'POST', '/i/api/graphql/SoMeQuErYiD_1/CreateTweet', c, { 'x-csrf-token': c.ct0 }, '{"variables":{"tweet_text":"replayed"}}') },
  mastodon: { host: 'social.example', origins: ['https://social.example'], signIn: (e) => e.method === 'POST' && e.host === 'social.example' && e.url === '/auth/sign_in',
    session: ['_mastodon_session'], replay: (c) => server.replay('social.example', 'POST', '/api/v1/statuses', c, {}, '{"status":"replayed"}') },
};

/** siteCookies lists the browser's cookies for a platform's origins. */
const siteCookies = (context, platform) => context.cookies(SITE[platform].origins);

/** signInSeen reads what the fixture platform received in its sign-in requests since `from`. */
function signInSeen(platform, from) {
  const got = { username: [], password: [], code: [] };
  for (const e of server.log.slice(from).filter(SITE[platform].signIn)) {
    if (platform === 'x') {
      const m = JSON.parse(e.body);
      for (const k of ['username', 'password', 'code']) if (k in m) got[k].push(m[k]);
    } else {
      const f = new URLSearchParams(e.body);
      if (f.has('user[email]')) got.username.push(f.get('user[email]'));
      if (f.has('user[password]')) got.password.push(f.get('user[password]'));
      if (f.has('user[otp_attempt]')) got.code.push(f.get('user[otp_attempt]'));
    }
  }
  return got;
}

/** noSecretLeft checks the server's log and every storage area for the password and 2FA codes. */
async function noSecretLeft(context, platform, from, codes) {
  const pw = ACCOUNTS[platform].password;
  const forms = [pw, encodeURIComponent(pw), new URLSearchParams({ p: pw }).toString().slice(2)];
  for (const e of server.log.slice(from)) {
    for (const f of [...forms, ...codes]) assert.ok(!e.url.includes(f), `a secret in the URL ${e.host}${e.url}`);
    if (forms.some((f) => e.body.includes(f))) assert.ok(SITE[platform].signIn(e), `the password went to ${e.method} ${e.host}${e.url}`);
  }
  const w = await currentWorker(context);
  const dump = await w.evaluate(async () => JSON.stringify(await Promise.all([chrome.storage.local.get(null), chrome.storage.session.get(null), chrome.storage.sync.get(null)])));
  for (const f of [...forms, ...codes]) assert.ok(!dump.includes(f), 'a secret in chrome.storage');
}

/** signInCustody approves a post and waits until the browser is signed in from the keyring. */
async function approveAndSignIn(context, page, driver, platform, text) {
  const from = server.log.length;
  // Sessions other scenarios' browsers left on the fixture (closed while signed in) stay: count from here.
  const base = server.liveSessions(platform);
  const relFrom = (await driver.released()).length;
  await typePost(page, platform, text);
  await pressPost(page, platform);
  assert.equal(await noticeReason(page), 'approval_needed');
  // Before approval: not signed in, and nothing reaches the platform.
  assert.equal(server.liveSessions(platform), base, 'signed in before any approval');
  assert.deepEqual((await siteCookies(context, platform)).filter((c) => SITE[platform].session.includes(c.name)), []);
  await page.evaluate(() => window.__publishDirect('straight from the page before approval'));
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  // The blocked direct publish puts up its own notice; wait for it, or it can land after the
  // press below and hide the approval notice.
  assert.equal(await waitReason(page, 'platform_unrecognised'), 'platform_unrecognised');
  await pressPost(page, platform); // the notice with "Request approval" again
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  const { ui } = await approveInUi(context, page, driver, platform);
  await ui.close();
  if (process.env.E2E_DEBUG) setTimeout(async () => console.log('     custody:', JSON.stringify(await (await currentWorker(context)).evaluate(() => chrome.storage.local.get(null))), JSON.stringify(await driver.released()), await Promise.all(context.pages().map((p) => p.evaluate(() => [location.href, document.querySelector('#step')?.innerHTML, document.querySelector('input')?.value]).catch((e) => String(e))))), 5000);
  await until(() => `the ${platform} fixture to hold a signed-in session (it saw: ${server.log.slice(from).map((e) => `${e.method} ${e.host}${e.url}`).join(', ')}; tabs: ${context.pages().map((p) => p.url()).join(', ')})`, () => server.liveSessions(platform) === base + 1, { timeout: 20000 });
  const seen = signInSeen(platform, from);
  // The server's password: after a rotation, the new one.
  const acc = server.accounts[platform];
  assert.deepEqual(seen.username, [acc.username], JSON.stringify(seen));
  assert.deepEqual(seen.password, [acc.password]);
  assert.equal(seen.code.length, 1);
  assert.match(seen.code[0], /^[0-9]{6}$/);
  const rel = await until('the daemon to record one credential release', async () => { const r = (await driver.released()).slice(relFrom); return r.length >= 1 && r; });
  assert.deepEqual(rel.map((r) => r.host), [SITE[platform].host]);
  const jar = Object.fromEntries((await siteCookies(context, platform)).filter((c) => SITE[platform].session.includes(c.name)).map((c) => [c.name, c.value]));
  assert.deepEqual(Object.keys(jar).sort(), [...SITE[platform].session].sort(), 'the platform\'s session cookies are in the browser');
  // The sign-in tab the extension opened is gone once signed in.
  await until('the sign-in tab to close', () => !context.pages().some((p) => /\/(i\/flow\/login|auth\/sign_in)/.test(p.url())));
  return { from, jar, codes: seen.code, base };
}

/** signedOutEverywhere waits for the sign-out report and checks server, cookies and replay. */
async function signedOutEverywhere(context, driver, platform, jar, base) {
  const so = await until('the extension to report signed_out', async () => { const r = await driver.signedOut(); return r.length >= 1 && r; }, { timeout: 20000 });
  assert.equal(so.length, 1, JSON.stringify(so));
  assert.equal(so[0].result, 'ok', JSON.stringify(so));
  assert.equal(so[0].host, SITE[platform].host);
  assert.equal(server.liveSessions(platform), base, 'the session still lives on the server');
  assert.equal(await SITE[platform].replay(jar), 401, 'a copied cookie still publishes');
  assert.deepEqual(await siteCookies(context, platform), [], 'cookies left in the browser');
}

for (const platform of ['x', 'mastodon']) {
  flow(`${platform}: custody: signed in from the keyring inside the session only, one post, then signed out on the server`, (driver) => withBrowser(driver, async ({ context }) => {
    const watch = driver.name === 'real' ? cmdlineWatch() : null;
    const page = await openPlatform(context, platform);
    await connected(driver);
    server.reset();
    const text = `Custody post on ${platform}`;
    const { from, jar, codes, base } = await approveAndSignIn(context, page, driver, platform, text);
    // The copied cookie works while signed in: the replay check below can fail.
    assert.equal(await SITE[platform].replay(jar), 200);
    server.reset();
    await pressPost(page, platform);
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'one publish, signed in, with the approved text');
    await published(driver);
    await signedOutEverywhere(context, driver, platform, jar, base);
    assert.ok(await received(page, 1));
    await noSecretLeft(context, platform, from, codes);
    assert.equal(await driver.releaseRefused(), 0);
    // The real daemon: its files, its output and every command line too.
    if (watch) await passwordsNowhere(context, driver, [ACCOUNTS[platform].password], from, watch.stop());
    await shot(page, `${platform}-custody-signed-out`);
  }));
}

flow('x: custody: "Lock now" while signed in -> signed out on the server, nothing published', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await connected(driver);
  server.reset();
  const { from, jar, codes, base } = await approveAndSignIn(context, page, driver, 'x', 'Locked before posting');
  await driver.lock();
  await signedOutEverywhere(context, driver, 'x', jar, base);
  await pressPost(page, 'x');
  const r = await waitReason(page, ['approval_needed', 'locked']);
  assert.ok(['approval_needed', 'locked'].includes(r), r);
  assert.ok(await received(page, 0));
  await noSecretLeft(context, 'x', from, codes);
}));

flow('mastodon: custody: session expired while signed in -> signed out on the server, nothing published', async (driver) => {
  driver.sessionTtl = 30;
  return withBrowser(driver, async ({ context }) => {
    const page = await openPlatform(context, 'mastodon');
    await connected(driver);
    server.reset();
    const { from, jar, codes, base } = await approveAndSignIn(context, page, driver, 'mastodon', 'Runs out of time signed in');
    if (!(await driver.expire())) return 'skip: cannot advance the daemon clock';
    await signedOutEverywhere(context, driver, 'mastodon', jar, base);
    await pressPost(page, 'mastodon');
    assert.ok(await received(page, 0));
    await noSecretLeft(context, 'mastodon', from, codes);
  });
});

flow('x: custody: browser closed while signed in -> signed out on the server at the next start', async (driver) => {
  const dirs = tempDirs();
  await driver.setup(dirs);
  try {
    let jar, base;
    let b = await launch({ ...dirs, serverPort: server.port, extraEnv: driver.env });
    try {
      const page = await openPlatform(b.context, 'x');
      await connected(driver);
      server.reset();
      ({ jar, base } = await approveAndSignIn(b.context, page, driver, 'x', 'Never posted: the browser closes'));
    } finally {
      await b.context.close();
    }
    assert.equal(server.liveSessions('x'), base + 1, 'closing the browser alone leaves the session alive on the server');
    b = await launch({ ...dirs, serverPort: server.port, extraEnv: driver.env });
    try {
      await signedOutEverywhere(b.context, driver, 'x', jar, base);
    } finally {
      await b.context.close();
    }
  } finally {
    await driver.teardown().catch(() => {});
    rmSync(dirs.base, { recursive: true, force: true });
  }
});

// ---- custody modes and private accounts (policy keys custody, private_accounts) -------------
const LOGOUT = (e) => (e.host === 'api.x.com' && e.url === '/1.1/account/logout.json') || (e.host === 'social.example' && e.url === '/auth/sign_out');
/** custodyEntries reads the sessions the extension would sign out (none: nothing will be). */
const custodyEntries = async (context) => (await (await currentWorker(context)).evaluate(() => chrome.storage.local.get('custody'))).custody || {};

realFlow('x: gated custody: the approved post goes out once from the account left signed in, which stays signed in', async (driver) => {
  driver.policy = { accounts: { 'x:@ministry': { custody: 'gated' } } };
  return withBrowser(driver, async ({ context }) => {
    const jar = server.signInAs('x', 'ministry'); // signed in by a person earlier, as gated custody expects
    await context.addCookies(jar);
    const page = await openPlatform(context, 'x');
    await connected(driver);
    server.reset();
    const from = server.log.length;
    const text = 'Gated custody: posted from the account left signed in';
    await typePost(page, 'x', text);
    await pressPost(page, 'x');
    assert.equal(await noticeReason(page), 'approval_needed', 'gated: the gates still hold the post');
    assert.ok(await received(page, 0));
    const { ui } = await approveInUi(context, page, driver, 'x');
    await ui.close();
    assert.equal(await waitReason(page, 'approved'), 'approved');
    await pressPost(page, 'x');
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]]);
    await published(driver);
    await pressPost(page, 'x');
    assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed', 'the session is spent');
    assert.ok(await received(page, 1));
    // Still signed in: the fixture's session alive, the cookie in the browser, no sign-in or
    // sign-out request, nothing released or signed out at the daemon, nothing left to sign out.
    assert.ok(server.sessionLive('x', jar), 'the session on the server ended');
    assert.ok((await siteCookies(context, 'x')).some((c) => c.name === 'auth_token' && c.value === jar[0].value), 'the browser lost its sign-in');
    assert.deepEqual(server.log.slice(from).filter((e) => LOGOUT(e) || SITE.x.signIn(e)).map((e) => e.url), []);
    assert.deepEqual(await driver.released(), []);
    assert.deepEqual(await driver.signedOut(), []);
    assert.deepEqual(await custodyEntries(context), {});
  });
});

realFlow('x: a tab signed in to another official account than the session\'s -> wrong_account, nothing published', async (driver) => {
  driver.extraAccounts = { '@spokesperson': 'another password' };
  return withBrowser(driver, async ({ context }) => {
    await context.addCookies(server.signInAs('x', 'spokesperson'));
    const page = await openPlatform(context, 'x');
    await connected(driver);
    server.reset();
    await typePost(page, 'x', 'Approved for @ministry, sent from @spokesperson');
    await pressPost(page, 'x');
    assert.equal(await noticeReason(page), 'approval_needed', 'another official account needs approval too');
    const { ui } = await approveInUi(context, page, driver, 'x'); // for x:@ministry
    await ui.close();
    await waitReason(page, ['approved', 'signed_in']);
    await pressPost(page, 'x');
    assert.equal(await waitReason(page, 'wrong_account'), 'wrong_account');
    await shot(page, 'x-wrong-account');
    await page.evaluate(() => window.__publishDirect('straight from the page, wrong account'));
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    assert.deepEqual(await driver.published(), []);
    const blocked = await until('the daemon to record the wrong_account block', async () => { const b = await driver.blocked(); return b.some((x) => x.reason === 'wrong_account') && b; });
    assert.ok(blocked.some((b) => b.reason === 'wrong_account'));
  });
});

realFlow('x: private account under private_accounts block -> held with the private_account notice, nothing published', async (driver) => {
  driver.policy = { private_accounts: 'block' };
  return withBrowser(driver, async ({ context }) => {
    await context.addCookies(server.signInAs('x', 'jemand'));
    const page = await openPlatform(context, 'x');
    await connected(driver);
    server.reset();
    await typePost(page, 'x', 'A private opinion');
    await pressPost(page, 'x');
    assert.equal(await noticeReason(page), 'private_account');
    await shot(page, 'x-private-account-blocked');
    await page.evaluate(() => window.__publishDirect('straight from the page, private account'));
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    const ev = await until('the daemon to record private_post_blocked', async () => { const e = await driver.events('private_post_blocked'); return e.length >= 1 && e; });
    assert.deepEqual(ev.map((e) => [e.platform, e.handle]), [['x', '@jemand']]);
    assert.deepEqual(await driver.events('private_post_allowed'), []);
  });
});

realFlow('mastodon: private account under private_accounts allow -> one post goes out without approval', async (driver) => {
  driver.policy = { private_accounts: 'allow' };
  return withBrowser(driver, async ({ context }) => {
    await context.addCookies(server.signInAs('mastodon', 'bob@social.example'));
    const page = await openPlatform(context, 'mastodon');
    await connected(driver);
    server.reset();
    const text = 'Bob, privately, on his own account';
    await typePost(page, 'mastodon', text);
    await pressPost(page, 'mastodon');
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]]);
    assert.equal(await waitReason(page, 'published_private'), 'published_private');
    // The allow was for that one request: a direct publish from the page after it is blocked.
    await page.evaluate(() => window.__publishDirect('straight from the page afterwards'));
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    const ev = await until('the daemon to record private_post_allowed', async () => { const e = await driver.events('private_post_allowed'); return e.length >= 1 && e; });
    assert.deepEqual(ev.map((e) => [e.platform, e.handle]), [['mastodon', '@bob@social.example']]);
    assert.deepEqual(await driver.published(), [], 'no posting session was used');
    assert.deepEqual(await driver.released(), []);
  });
});

// private_accounts allow_outside_hours against the real clock: posting hours chosen so that now is
// hours inside them, or hours outside them (lib/hours.mjs), never a faked daemon clock.
realFlow('x: private account under private_accounts allow_outside_hours, now inside posting hours -> held with the private_account notice, nothing published', async (driver) => {
  driver.policy = { private_accounts: 'allow_outside_hours', posting_hours: postingHours(true) };
  return withBrowser(driver, async ({ context }) => {
    await context.addCookies(server.signInAs('x', 'jemand'));
    const page = await openPlatform(context, 'x');
    await connected(driver);
    server.reset();
    await typePost(page, 'x', 'A private opinion in office hours');
    await pressPost(page, 'x');
    assert.equal(await noticeReason(page), 'private_account');
    await shot(page, 'x-private-account-inside-hours');
    await page.evaluate(() => window.__publishDirect('straight from the page, private account, in office hours'));
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    const ev = await until('the daemon to record private_post_blocked', async () => { const e = await driver.events('private_post_blocked'); return e.length >= 1 && e; });
    assert.deepEqual(ev.map((e) => [e.platform, e.handle, e.private_accounts]), [['x', '@jemand', 'allow_outside_hours']]);
    assert.deepEqual(await driver.events('private_post_allowed'), []);
  });
});

realFlow('mastodon: private account under private_accounts allow_outside_hours, now outside posting hours -> one post goes out without approval, the trail says private_post_allowed', async (driver) => {
  driver.policy = { private_accounts: 'allow_outside_hours', posting_hours: postingHours(false) };
  return withBrowser(driver, async ({ context }) => {
    await context.addCookies(server.signInAs('mastodon', 'bob@social.example'));
    const page = await openPlatform(context, 'mastodon');
    await connected(driver);
    server.reset();
    const text = 'Bob, privately, after hours';
    await typePost(page, 'mastodon', text);
    await pressPost(page, 'mastodon');
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]]);
    assert.equal(await waitReason(page, 'published_private'), 'published_private');
    await page.evaluate(() => window.__publishDirect('straight from the page afterwards'));
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    const ev = await until('the daemon to record private_post_allowed', async () => { const e = await driver.events('private_post_allowed'); return e.length >= 1 && e; });
    assert.deepEqual(ev.map((e) => [e.platform, e.handle, e.private_accounts]), [['mastodon', '@bob@social.example', 'allow_outside_hours']]);
    assert.deepEqual(await driver.events('private_post_blocked'), []);
    assert.deepEqual(await driver.published(), [], 'no posting session was used');
    assert.deepEqual(await driver.released(), []);
  });
});

// ---- rotation: the daemon's generated password replaces the current one on the platform -----
const CHANGE = {
  x: (e) => e.method === 'POST' && e.host === 'x.com' && e.url === '/i/api/1.1/account/change_password.json',
  mastodon: (e) => e.method === 'POST' && e.host === 'social.example' && e.url === '/auth',
};

/** changeSeen reads the change-password requests the fixture received since from: [{current, next, confirm}]. */
function changeSeen(platform, from) {
  return server.log.slice(from).filter(CHANGE[platform]).map((e) => {
    const f = new URLSearchParams(e.body);
    return platform === 'x'
      ? { current: f.get('current_password'), next: f.get('password'), confirm: f.get('password_confirmation') }
      : { current: f.get('user[current_password]'), next: f.get('user[password]'), confirm: f.get('user[password_confirmation]') };
  });
}

const watches = [];
/** cmdlineWatch samples every process's command line (/proc/PID/cmdline) until stop(). */
function cmdlineWatch() {
  const seen = new Set();
  const tick = () => {
    for (const pid of readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
      try { seen.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')); } catch { /* gone meanwhile */ }
    }
  };
  tick();
  const t = setInterval(tick, 100);
  const w = { stop() { clearInterval(t); tick(); return [...seen]; } };
  watches.push(w); // stopped when the scenario ends, also when it failed first
  return w;
}

function filesUnder(dir) {
  const out = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/**
 * passwordsNowhere checks that none of the passwords is in the daemon's files (audit trail and
 * state, FOUREYES_HOME), its stdout/stderr, the extension's storage, a URL the fixture saw since
 * from, or a command line seen while the scenario ran.
 */
async function passwordsNowhere(context, driver, passwords, from, cmdlines) {
  const forms = passwords.flatMap((p) => [p, encodeURIComponent(p), new URLSearchParams({ p }).toString().slice(2)]);
  const hit = (text) => forms.find((f) => text.includes(f));
  for (const e of server.log.slice(from)) assert.ok(!hit(e.url), `a password in the URL ${e.host}${e.url.slice(0, 40)}…`);
  const home = driver.env.FOUREYES_HOME;
  const files = filesUnder(home);
  assert.ok(files.some((f) => /audit/i.test(f)), `no audit file under FOUREYES_HOME (${files.map((f) => f.slice(home.length)).join(', ')})`);
  for (const f of files) assert.ok(!hit(readFileSync(f, 'latin1')), `a password in ${f.slice(home.length)}`);
  assert.ok(!hit(driver.auditText()), 'a password in the exported audit trail');
  assert.ok(driver.output.length > 0, 'the daemon\'s output was captured');
  assert.ok(!hit(driver.output.join('')), 'a password in the daemon\'s stdout/stderr');
  const w = await currentWorker(context);
  const dump = await w.evaluate(async () => JSON.stringify(await Promise.all([chrome.storage.local.get(null), chrome.storage.session.get(null), chrome.storage.sync.get(null)])));
  assert.ok(!hit(dump), 'a password in chrome.storage');
  assert.ok(cmdlines.length > 10, 'command lines were sampled');
  for (const c of cmdlines) assert.ok(!hit(c), `a password on a command line: ${c.slice(0, 60)}…`);
}

/**
 * rotateOnce runs `foureyes account rotate` and `foureyes approve`, and waits for the report;
 * during (if given) runs after the approval, as a person at the browser would (Bluesky's code).
 */
async function rotateOnce(driver, platform, during) {
  const rid = driver.rotate(driver.accountFor(platform));
  assert.match(rid, /^r/, `account rotate printed ${rid}`);
  const sid = await driver.approveCli(rid);
  if (during) await during();
  const rot = await until('the daemon to record the rotation\'s outcome', async () => {
    const r = (await driver.rotations()).filter((x) => x.session === sid && x.event !== 'rotation_release');
    return r.length && r;
  }, { timeout: 90000 });
  const so = await until('the extension to report signed_out after the rotation', async () => (await driver.signedOut()).find((x) => x.session === sid), { timeout: 20000 });
  return { sid, rot, so };
}

/** postAfter checks that the next approved post session signs in (with the server's current password) and publishes. */
async function postAfter(context, page, driver, platform, text) {
  await approveAndSignIn(context, page, driver, platform, text);
  server.reset();
  await pressPost(page, platform);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'published signed in');
}

for (const platform of ['x', 'mastodon']) {
  realFlow(`${platform}: rotation: the daemon's new password replaces the old one on the platform; the old one is refused, the next sign-in uses the new one; no password in audit, log, storage, URL or command line`, (driver) => withBrowser(driver, async ({ context }) => {
    const watch = cmdlineWatch();
    try {
      const page = await openPlatform(context, platform);
      await connected(driver);
      server.reset();
      const from = server.log.length;
      const old = server.accounts[platform].password;
      const base = server.liveSessions(platform);
      const { sid, rot, so } = await rotateOnce(driver, platform);
      assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
      const change = changeSeen(platform, from);
      assert.equal(change.length, 1, 'one change-password request');
      assert.equal(change[0].current, old);
      assert.equal(change[0].confirm, change[0].next);
      const next = server.accounts[platform].password;
      assert.equal(next, change[0].next, 'the server\'s password is the one the form sent');
      assert.notEqual(next, old);
      assert.ok(next.length >= 20, 'a generated password');
      assert.equal(await server.signInWorks(platform, old), false, 'the old password still signs in');
      assert.equal(await server.signInWorks(platform, next), true, 'the new password does not sign in');
      assert.equal(so.result, 'ok', JSON.stringify(so));
      assert.equal(server.liveSessions(platform), base, 'signed in on the server after the rotation');
      assert.deepEqual(await siteCookies(context, platform), [], 'cookies left after the rotation');
      assert.ok(!context.pages().some((p) => /settings\/password|auth\/edit/.test(p.url())), 'the change-password tab is still open');
      await postAfter(context, page, driver, platform, `First post after the rotation on ${platform}`);
      await passwordsNowhere(context, driver, [old, next], from, watch.stop());
      assert.equal(await driver.releaseRefused(), 0);
      void sid;
    } finally {
      watch.stop();
      server.restoreAccounts();
    }
  }));
}

const FAILURES = [
  ['x', 'current', /refused the change: The password you entered was incorrect/],
  ['mastodon', 'server', /confirms nothing/],
  ['x', 'silent', /no confirmation/],
  ['mastodon', 'current', /refused the change: The password you entered was incorrect/],
];
for (const [platform, step, why] of FAILURES) {
  realFlow(`${platform}: rotation: the platform fails the change (${step}) -> rotation_failed, the old password stays and still signs in; no password in audit, log, storage, URL or command line`, (driver) => withBrowser(driver, async ({ context }) => {
    const watch = cmdlineWatch();
    try {
      const page = await openPlatform(context, platform);
      await connected(driver);
      server.reset();
      const from = server.log.length;
      const old = server.accounts[platform].password;
      server.failRotation[platform] = step;
      const { rot, so } = await rotateOnce(driver, platform);
      assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
      assert.match(String(rot[0].error), why);
      const change = changeSeen(platform, from);
      assert.equal(change.length, 1, 'one change-password request');
      assert.equal(server.accounts[platform].password, old, 'the server\'s password changed');
      assert.equal(await server.signInWorks(platform, old), true, 'the old password no longer signs in');
      assert.equal(so.result, 'ok', JSON.stringify(so));
      server.failRotation[platform] = null;
      await postAfter(context, page, driver, platform, `Still posting after a failed rotation on ${platform}`);
      await passwordsNowhere(context, driver, [old, change[0].next], from, watch.stop());
    } finally {
      watch.stop();
      server.restoreAccounts();
    }
  }));
}

// ---- custody one_time: a new password after every posting session --------------------------
/** afterSession waits for the daemon's record of the password change after session sid. */
async function afterSession(driver, sid) {
  const rot = await until(`the daemon to record the password change after session ${sid}`, async () => {
    const r = (await driver.rotations()).filter((x) => x.session === sid && x.event !== 'rotation_release');
    return r.length && r;
  }, { timeout: 60000 });
  const rel = (await driver.events('rotation_release')).filter((f) => f.session_id === sid);
  assert.deepEqual(rel.map((f) => [f.reason, f.host]), [['after_session', SITE[rot[0].account.startsWith('x:') ? 'x' : 'mastodon'].host]], 'one release, after the session, for the platform\'s host');
  return rot;
}

// X sets one_time for its account, Mastodon at the top level (Bluesky, in the policy too, is
// then held at strict, and the policy_loaded line says so).
const ONE_TIME_POLICY = {
  x: { accounts: { 'x:@ministry': { custody: 'one_time' } } },
  mastodon: { custody: 'one_time' },
};

for (const platform of ['x', 'mastodon']) {
  realFlow(`${platform}: custody one_time: approve, sign in, post once; then the password changes on the platform to the daemon's new one (the old one is refused, the keyring has the new one), the session is dead on the server and no cookie is left; the next session changes it again`, async (driver) => {
    driver.policy = ONE_TIME_POLICY[platform];
    return withBrowser(driver, async ({ context }) => {
      const watch = cmdlineWatch();
      try {
        const page = await openPlatform(context, platform);
        await connected(driver);
        server.reset();
        const old = server.accounts[platform].password;
        const text = `One-time custody post on ${platform}`;
        const { from, jar, base } = await approveAndSignIn(context, page, driver, platform, text);
        assert.equal(await SITE[platform].replay(jar), 200, 'the copied cookie works while signed in');
        server.reset();
        await pressPost(page, platform);
        assert.ok(await received(page, 1), JSON.stringify(server.received));
        assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'one publish, signed in, with the approved text');
        const [pub] = await published(driver);
        const rot = await afterSession(driver, pub.session);
        assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
        const change = changeSeen(platform, from);
        assert.equal(change.length, 1, 'one change-password request');
        assert.equal(change[0].current, old);
        assert.equal(change[0].confirm, change[0].next);
        const next = server.accounts[platform].password;
        assert.equal(next, change[0].next, 'the server\'s password is the one the form sent');
        assert.notEqual(next, old);
        assert.ok(next.length >= 20, 'a generated password');
        assert.equal(await server.signInWorks(platform, old), false, 'the old password still signs in');
        assert.equal(await server.signInWorks(platform, next), true, 'the new password does not sign in');
        // Then signed out as strict custody does: dead on the server, the copied cookie refused.
        await signedOutEverywhere(context, driver, platform, jar, base);
        assert.ok(!context.pages().some((p) => /settings\/password|auth\/edit/.test(p.url())), 'the change-password tab is still open');
        assert.deepEqual(await driver.events('rotation_skipped'), []);
        if (platform === 'mastodon') {
          const loaded = await driver.events('policy_loaded');
          assert.match(JSON.stringify(loaded.at(-1).custody_held_strict), /custody one_time does not apply on Bluesky.*bluesky:@ministry\.bsky\.social/, JSON.stringify(loaded));
        }
        // The keyring holds the new password: the next session signs in with it (postAfter
        // checks the sign-in sent the server's current password), and changes it again.
        const n = (await driver.published()).length;
        server.reset();
        await page.close();
        await postAfter(context, await openPlatform(context, platform), driver, platform, `Second one-time custody post on ${platform}`);
        const [, pub2] = await published(driver, n + 1);
        const rot2 = await afterSession(driver, pub2.session);
        assert.deepEqual(rot2.map((r) => r.event), ['password_rotated'], JSON.stringify(rot2));
        const third = server.accounts[platform].password;
        assert.ok(third !== next && third !== old, 'the second session did not change the password');
        await until('the second sign-out', async () => (await driver.signedOut()).length === 2, { timeout: 20000 });
        assert.deepEqual(await siteCookies(context, platform), [], 'cookies left after the second session');
        await passwordsNowhere(context, driver, [old, next, third], from, watch.stop());
        assert.equal(await driver.releaseRefused(), 0);
      } finally {
        watch.stop();
        server.restoreAccounts();
      }
    });
  });
}

for (const [platform, step, why] of [['x', 'current', /refused the change: The password you entered was incorrect/], ['mastodon', 'server', /confirms nothing/]]) {
  realFlow(`${platform}: custody one_time: the platform fails the change after the session (${step}) -> rotation_failed (high), the old password stays and still signs in, and the browser is still signed out`, async (driver) => {
    driver.policy = ONE_TIME_POLICY[platform];
    return withBrowser(driver, async ({ context }) => {
      try {
        const page = await openPlatform(context, platform);
        await connected(driver);
        server.reset();
        const old = server.accounts[platform].password;
        const text = `One-time custody post on ${platform}, change refused`;
        const { from, jar, base } = await approveAndSignIn(context, page, driver, platform, text);
        server.failRotation[platform] = step;
        server.reset();
        await pressPost(page, platform);
        assert.ok(await received(page, 1), JSON.stringify(server.received));
        const [pub] = await published(driver);
        const rot = await afterSession(driver, pub.session);
        assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
        assert.match(String(rot[0].error), why);
        const failedLine = (await driver.audit()).find((e) => e.event === 'rotation_failed');
        assert.equal(failedLine.severity, 'high');
        assert.equal(failedLine.fields.reason, 'after_session');
        assert.equal(changeSeen(platform, from).length, 1, 'one change-password request');
        assert.equal(server.accounts[platform].password, old, 'the server\'s password changed');
        assert.equal(await server.signInWorks(platform, old), true, 'the old password no longer signs in');
        await signedOutEverywhere(context, driver, platform, jar, base);
        assert.deepEqual(await driver.events('rotation_skipped'), [], 'a failed change is rotation_failed, not skipped');
      } finally {
        server.restoreAccounts();
      }
    });
  });
}

// ---- Bluesky custody: a session kept in localStorage, ended with deleteSession --------------
const BSKY = 'https://bsky.app/';
const bskyStored = (page) => page.evaluate(() => localStorage.getItem('BSKY_STORAGE'));
const CREATE_SESSION = (e) => e.method === 'POST' && e.url === '/xrpc/com.atproto.server.createSession';
const DELETE_SESSION = (e) => e.method === 'POST' && e.url === '/xrpc/com.atproto.server.deleteSession';

async function openBsky(context) {
  const page = await context.newPage();
  await page.goto(BSKY);
  await page.waitForSelector('html[data-foureyes=on]', { timeout: 10000 });
  return page;
}

async function typeBsky(page, text) {
  await page.click('[data-testid=composerTextInput] [contenteditable]');
  await page.keyboard.type(text);
}
const pressBsky = (page) => page.click('[data-testid=composerPublishBtn]');

/**
 * bskySignIn approves text for the official account and waits for the keyring's sign-in.
 * opts.before(page) runs after the text is typed (attach an image); opts.press() replaces
 * typing and pressing Post (a repost: text is then null); opts.ui(ui) reads the approval window
 * once the post is approved.
 */
async function bskySignIn(context, page, driver, text, opts = {}) {
  const from = server.log.length;
  const base = server.liveSessions('bluesky');
  const relFrom = (await driver.released()).length;
  const press = opts.press || (() => pressBsky(page));
  if (!opts.press) await typeBsky(page, text);
  if (opts.before) await opts.before(page);
  await press();
  assert.equal(await noticeReason(page), 'approval_needed');
  // Before approval: not signed in, nothing reaches the PDS, a like is held with its notice.
  assert.equal(await bskyStored(page), null, 'a session stored before any approval');
  await page.evaluate(() => window.__publishDirect('straight from the page before approval'));
  await page.evaluate(() => window.__like());
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  assert.equal(await waitReason(page, 'interaction_blocked'), 'interaction_blocked');
  await press();
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  const { ui } = await approveInUi(context, page, driver, 'bluesky');
  if (opts.ui) await opts.ui(ui);
  await ui.close();
  await until(() => `the Bluesky PDS to hold a signed-in session (it saw: ${server.log.slice(from).map((e) => `${e.method} ${e.host}${e.url}`).join(', ')})`, () => server.liveSessions('bluesky') === base + 1, { timeout: 20000 });
  const sent = server.log.slice(from).filter(CREATE_SESSION).map((e) => JSON.parse(e.body));
  assert.deepEqual(sent.map((b) => [b.identifier, b.password]), [[server.accounts.bluesky.username, server.accounts.bluesky.password]], 'one sign-in, with the keyring\'s password');
  const rel = await until('the daemon to record one credential release', async () => { const r = (await driver.released()).slice(relFrom); return r.length >= 1 && r; });
  assert.deepEqual(rel.map((r) => r.host), ['bsky.app']);
  // The staff member's tab follows the sign-in made in the background tab.
  const raw = await until('the session to be stored in the browser', () => bskyStored(page));
  const acc = JSON.parse(raw).session.accounts[0];
  assert.equal(acc.handle, 'ministry.bsky.social');
  await until('the sign-in tab to close', () => context.pages().filter((p) => p.url().startsWith(BSKY)).length === 1);
  return { from, base, tokens: { access: acc.accessJwt, refresh: acc.refreshJwt } };
}

/** bskySignedOut waits for the sign-out report and checks the PDS, the replay and the browser. */
async function bskySignedOut(context, driver, { from, base, tokens }) {
  const so = await until('the extension to report signed_out', async () => { const r = await driver.signedOut(); return r.length >= 1 && r; }, { timeout: 20000 });
  assert.deepEqual(so.map((r) => [r.result, r.host]), [['ok', 'bsky.app']], JSON.stringify(so));
  const del = server.log.slice(from).filter(DELETE_SESSION);
  assert.equal(del.length, 1, 'one deleteSession');
  assert.equal(del[0].host, 'pds1.us-east.host.bsky.network', 'sent to the session\'s own PDS');
  assert.equal(server.liveSessions('bluesky'), base, 'the session still lives on the PDS');
  const replay = await server.request('bsky.social', 'POST', '/xrpc/com.atproto.server.refreshSession', { authorization: `Bearer ${tokens.refresh}` });
  assert.equal(replay.status, 401, 'a copied refresh token still works');
  // Not stopped (installer/threat-model.md): an access JWT already issued lives until it expires.
  assert.equal(server.bsky.accessWorks(tokens.access), true);
  const fresh = await context.newPage();
  await fresh.goto(BSKY);
  assert.equal(await bskyStored(fresh), null, 'a session is still stored in the browser');
  await fresh.close();
  for (const p of context.pages().filter((x) => x.url().startsWith(BSKY))) assert.equal(await bskyStored(p), null, `a session is still stored in ${p.url()}`);
  for (const e of server.log.slice(from)) {
    for (const t of [server.accounts.bluesky.password, tokens.refresh]) assert.ok(!e.url.includes(t) && !e.url.includes(encodeURIComponent(t)), `a secret in the URL ${e.host}${e.url.slice(0, 40)}`);
  }
  const w = await currentWorker(context);
  const dump = await w.evaluate(async () => JSON.stringify(await Promise.all([chrome.storage.local.get(null), chrome.storage.session.get(null), chrome.storage.sync.get(null)])));
  assert.ok(!dump.includes(tokens.refresh) && !dump.includes(tokens.access), 'a Bluesky token in chrome.storage');
}

realFlow('bluesky: custody: signed in from the keyring inside the session only, one applyWrites with the approved text, then deleteSession on the PDS; refresh token dead, no stored session; no password in audit, log, storage, URL or command line', (driver) => withBrowser(driver, async ({ context }) => {
  const watch = cmdlineWatch();
  const page = await openBsky(context);
  await connected(driver);
  server.reset();
  const text = 'Custody post on Bluesky';
  const s = await bskySignIn(context, page, driver, text);
  server.reset();
  await pressBsky(page);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.path, r.text, r.status]), [['/xrpc/com.atproto.repo.applyWrites', text, 200]], 'one applyWrites, signed in, with the approved text');
  const pub = await published(driver);
  assert.equal(pub[0].digest, await digest(text));
  await bskySignedOut(context, driver, s);
  await passwordsNowhere(context, driver, [ACCOUNTS.bluesky.password], s.from, watch.stop());
  assert.equal(await driver.releaseRefused(), 0);
  await shot(page, 'bluesky-custody-signed-out');
}));

realFlow('bluesky: custody: "Lock now" while signed in -> deleteSession, no stored session, nothing published', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openBsky(context);
  await connected(driver);
  server.reset();
  const s = await bskySignIn(context, page, driver, 'Locked before posting on Bluesky');
  await driver.lock();
  await bskySignedOut(context, driver, s);
  await pressBsky(page);
  const r = await waitReason(page, ['approval_needed', 'locked']);
  assert.ok(['approval_needed', 'locked'].includes(r), r);
  assert.ok(await received(page, 0), JSON.stringify(server.received));
}));

realFlow('bluesky: custody: browser closed while signed in -> deleteSession and no stored session at the next start', async (driver) => {
  const dirs = tempDirs();
  await driver.setup(dirs);
  try {
    let s;
    let b = await launch({ ...dirs, serverPort: server.port, extraEnv: driver.env });
    try {
      const page = await openBsky(b.context);
      await connected(driver);
      server.reset();
      s = await bskySignIn(b.context, page, driver, 'Never posted: the browser closes');
    } finally {
      await b.context.close();
    }
    assert.equal(server.liveSessions('bluesky'), s.base + 1, 'closing the browser alone leaves the session alive on the PDS');
    b = await launch({ ...dirs, serverPort: server.port, extraEnv: driver.env });
    try {
      await bskySignedOut(b.context, driver, s);
    } finally {
      await b.context.close();
    }
  } finally {
    await driver.teardown().catch(() => {});
    rmSync(dirs.base, { recursive: true, force: true });
  }
});

// ---- Bluesky rotation: an administrator types the code the PDS e-mails ----------------------
const RESET_PASSWORD = (e) => e.method === 'POST' && e.url === '/xrpc/com.atproto.server.resetPassword';
const BSKY_SETTINGS = 'https://bsky.app/settings/account';

/**
 * typeEmailedCode is the administrator at the browser: the change-password tab comes to the
 * front with the notice that asks for the code, the code arrives by mail, and they type it
 * (trusted keyboard input into the focused field). wrong types another well-formed code instead.
 */
async function typeEmailedCode(context, { wrong = false } = {}) {
  const page = await until('the change-password tab to ask for the e-mailed code', async () => {
    for (const p of context.pages()) {
      if (p.url().startsWith(BSKY_SETTINGS) && await p.locator('[data-testid=resetCodeInput]').isVisible().catch(() => false)) return p;
    }
    return null;
  }, { timeout: 60000 });
  assert.equal(await waitReason(page, 'rotate_email_code'), 'rotate_email_code', 'the tab says what to do');
  assert.equal(await page.evaluate(() => document.visibilityState), 'visible', 'the tab is in front');
  const mail = await until('the PDS to e-mail the reset code', () => server.bsky.mailbox.at(-1));
  assert.equal(mail.to, server.accounts.bluesky.username);
  // The field the person types into is the code's, and the new password is not filled yet.
  assert.equal(await page.inputValue('[data-testid=newPasswordInput]'), '');
  const code = wrong ? (mail.code.startsWith('AAAAA') ? 'BBBBB-BBBBB' : 'AAAAA-AAAAA') : mail.code;
  await page.focus('[data-testid=resetCodeInput]');
  await page.keyboard.type(code, { delay: 15 });
  return { code, mailed: mail.code };
}

/** bskyPostAfter: the next approved post signs in with the server's (and so the keyring's) password and publishes. */
async function bskyPostAfter(context, page, driver, text) {
  await bskySignIn(context, page, driver, text);
  server.reset();
  await pressBsky(page);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'published signed in');
}

realFlow('bluesky: rotation: an administrator types the e-mailed code, the daemon\'s new password replaces the old one on the PDS and in the keyring; the old one is refused, the next sign-in uses the new one; no password in audit, log, storage, URL or command line', (driver) => withBrowser(driver, async ({ context }) => {
  const watch = cmdlineWatch();
  try {
    const page = await openBsky(context);
    await connected(driver);
    server.reset();
    const from = server.log.length;
    const old = server.accounts.bluesky.password;
    const base = server.liveSessions('bluesky');
    let typed;
    const { rot, so } = await rotateOnce(driver, 'bluesky', async () => { typed = await typeEmailedCode(context); });
    assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
    const reset = server.log.slice(from).filter(RESET_PASSWORD).map((e) => JSON.parse(e.body));
    assert.equal(reset.length, 1, 'one resetPassword');
    assert.equal(reset[0].token, typed.mailed, 'the code the person typed');
    const next = server.accounts.bluesky.password;
    assert.equal(next, reset[0].password, 'the PDS\'s password is the one the form sent');
    assert.notEqual(next, old);
    assert.ok(next.length >= 20, 'a generated password');
    assert.equal(await server.signInWorks('bluesky', old), false, 'the old password still signs in');
    assert.equal(await server.signInWorks('bluesky', next), true, 'the new password does not sign in');
    assert.equal(so.result, 'ok', JSON.stringify(so));
    assert.equal(server.liveSessions('bluesky'), base, 'signed in on the PDS after the rotation');
    assert.ok(!context.pages().some((p) => p.url().startsWith(BSKY_SETTINGS)), 'the change-password tab is still open');
    // The keyring holds the new password: the next sign-in sends it (bskySignIn checks createSession).
    await bskyPostAfter(context, page, driver, 'First post after the rotation on Bluesky');
    await passwordsNowhere(context, driver, [old, next], from, watch.stop());
    assert.equal(await driver.releaseRefused(), 0);
  } finally {
    watch.stop();
    server.restoreAccounts();
  }
}));

for (const [step, why] of [['server', /refused the change: Internal Server Error/], ['wrong code', /refused the change: Token is invalid/]]) {
  realFlow(`bluesky: rotation: ${step === 'server' ? 'the PDS fails the change' : 'a wrong code is typed'} -> rotation_failed, the old password stays on the PDS and in the keyring and still signs in; no password in audit, log, storage, URL or command line`, (driver) => withBrowser(driver, async ({ context }) => {
    const watch = cmdlineWatch();
    try {
      const page = await openBsky(context);
      await connected(driver);
      server.reset();
      const from = server.log.length;
      const old = server.accounts.bluesky.password;
      if (step === 'server') server.failRotation.bluesky = 'server';
      const { rot, so } = await rotateOnce(driver, 'bluesky', () => typeEmailedCode(context, { wrong: step === 'wrong code' }));
      assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
      assert.match(String(rot[0].error), why);
      const reset = server.log.slice(from).filter(RESET_PASSWORD).map((e) => JSON.parse(e.body));
      assert.equal(reset.length, 1, 'one resetPassword');
      assert.equal(server.accounts.bluesky.password, old, 'the PDS\'s password changed');
      assert.equal(await server.signInWorks('bluesky', old), true, 'the old password no longer signs in');
      assert.equal(so.result, 'ok', JSON.stringify(so));
      server.failRotation.bluesky = null;
      // The keyring still holds the old password: the next sign-in sends it and works.
      await bskyPostAfter(context, page, driver, 'Still posting after a failed rotation on Bluesky');
      await passwordsNowhere(context, driver, [old, reset[0].password], from, watch.stop());
    } finally {
      watch.stop();
      server.restoreAccounts();
    }
  }));
}

realFlow('bluesky: rotation: the PDS fails to send the code -> rotation_failed at once with the PDS\'s words, no code mailed, the old password stays on the PDS and in the keyring and still signs in', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openBsky(context);
  await connected(driver);
  server.reset();
  const from = server.log.length;
  const old = server.accounts.bluesky.password;
  server.failRotation.bluesky = 'request';
  try {
    const t0 = Date.now();
    const { rot, so } = await rotateOnce(driver, 'bluesky');
    assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
    assert.match(String(rot[0].error), /refused the change: Internal Server Error/);
    assert.ok(Date.now() - t0 < 45000, `the failure took ${Date.now() - t0} ms: it waited for a person instead of reading the error`);
    assert.deepEqual(server.bsky.mailbox, [], 'a code was mailed');
    assert.deepEqual(server.log.slice(from).filter(RESET_PASSWORD), [], 'a resetPassword was sent');
    assert.equal(server.accounts.bluesky.password, old, 'the PDS\'s password changed');
    assert.equal(so.result, 'ok', JSON.stringify(so));
    server.failRotation.bluesky = null;
    await bskyPostAfter(context, page, driver, 'Still posting after Bluesky sent no code');
  } finally {
    server.restoreAccounts();
  }
}));

// Nobody types the code: the wait ends before the rotate session does (a 60 s session here, so
// the scenario does not wait the table's 10 minutes; the same limit, lib/rotation.js personWait),
// and the rotation fails safe, reported inside its session.
realFlow('bluesky: rotation: nobody types the e-mailed code -> rotation_failed before the session ends, nothing sent to resetPassword, the old password stays on the PDS and in the keyring and still signs in', async (driver) => {
  driver.sessionTtl = 60;
  return withBrowser(driver, async ({ context }) => {
    const page = await openBsky(context);
    await connected(driver);
    server.reset();
    const from = server.log.length;
    const old = server.accounts.bluesky.password;
    const { rot, so } = await rotateOnce(driver, 'bluesky', async () => {
      const tab = await until('the change-password tab to ask for the e-mailed code', async () => {
        for (const p of context.pages()) if (p.url().startsWith(BSKY_SETTINGS) && await p.locator('[data-testid=resetCodeInput]').isVisible().catch(() => false)) return p;
        return null;
      }, { timeout: 60000 });
      assert.equal(await waitReason(tab, 'rotate_email_code'), 'rotate_email_code');
      await until('the PDS to e-mail the reset code', () => server.bsky.mailbox.at(-1));
    });
    assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
    assert.match(String(rot[0].error), /nobody typed the code the platform e-mailed within [0-9]+ s; the old password stays/);
    assert.deepEqual(server.log.slice(from).filter(RESET_PASSWORD), [], 'a resetPassword was sent');
    assert.equal(server.accounts.bluesky.password, old, 'the PDS\'s password changed');
    assert.equal(await server.signInWorks('bluesky', old), true, 'the old password no longer signs in');
    assert.equal(so.result, 'ok', JSON.stringify(so));
    assert.ok(!context.pages().some((p) => p.url().startsWith(BSKY_SETTINGS)), 'the change-password tab is still open');
    assert.equal(await driver.events('session_expired').then((e) => e.length), 0, 'the session ran out before the report');
    await bskyPostAfter(context, page, driver, 'Still posting after an unfinished rotation on Bluesky');
  });
});

realFlow('bluesky: the account has e-mailed sign-in codes on -> the sign-in stops with the notice that says what to do, nothing published', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openBsky(context);
  await connected(driver);
  server.reset();
  server.bsky.setEmailAuth(true);
  try {
    await typeBsky(page, 'Needs an e-mailed code');
    await pressBsky(page);
    assert.equal(await noticeReason(page), 'approval_needed');
    const { ui } = await approveInUi(context, page, driver, 'bluesky');
    await ui.close();
    assert.equal(await waitReason(page, 'sign_in_email_code', 20000), 'sign_in_email_code');
    await shot(page, 'bluesky-email-code');
    assert.equal(await bskyStored(page), null);
    // Post again while signed out: held, the session not spent on a request the PDS refuses.
    await pressBsky(page);
    assert.equal(await waitReason(page, 'sign_in_failed'), 'sign_in_failed');
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    const blocked = await until('the daemon to record the held post', async () => { const b = await driver.events('blocked'); return b.some((e) => e.reason === 'sign_in_failed') && b; });
    assert.ok(blocked.some((e) => e.reason === 'sign_in_failed' && e.account === 'bluesky:@ministry.bsky.social'), JSON.stringify(blocked));
    assert.deepEqual(await driver.events('published'), []);
  } finally {
    server.bsky.setEmailAuth(false);
  }
}));

realFlow('bluesky: private account under private_accounts block -> held with the private_account notice, nothing published', async (driver) => {
  driver.policy = { private_accounts: 'block' };
  return withBrowser(driver, async ({ context }) => {
    const page = await openBsky(context);
    await page.evaluate((v) => localStorage.setItem('BSKY_STORAGE', JSON.stringify(v)), server.bsky.storedFor('jemand.bsky.social'));
    await page.reload();
    await page.waitForSelector('html[data-foureyes=on]', { timeout: 10000 });
    await connected(driver);
    server.reset();
    await typeBsky(page, 'A private opinion on Bluesky');
    await pressBsky(page);
    assert.equal(await noticeReason(page), 'private_account');
    await page.evaluate(() => window.__publishDirect('straight from the page, private account'));
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    const ev = await until('the daemon to record private_post_blocked', async () => { const e = await driver.events('private_post_blocked'); return e.length >= 1 && e; });
    assert.deepEqual(ev.map((e) => [e.platform, e.handle]), [['bluesky', '@jemand.bsky.social']]);
  });
});
// ---- the whole post: attachments, reply, quote and repost targets ---------------------------
const DOCS_IMG = join(ROOT, 'extension', 'docs', 'img');

const PREVIEW = { x: '[data-testid=attachmentPreview]', mastodon: '.compose-form__upload' };
/**
 * attach attaches a file in the composer the way a person does: the file picker, drag and drop,
 * or paste (scope: the composer's dialog, when it is one). Waits for the page's preview.
 */
async function attach(page, platform, bytes, name, how = 'picker', scope = null) {
  const root = scope ? `${scope} ` : (platform === 'x' ? '[data-testid=primaryColumn] ' : '');
  const before = await page.locator(root + PREVIEW[platform]).count();
  if (how === 'picker') {
    await page.setInputFiles(root + (platform === 'x' ? '[data-testid=fileInput]' : '.compose-form__file'), { name, mimeType: 'image/png', buffer: bytes });
  } else {
    const sel = root + (platform === 'x' ? '[data-testid=tweetTextarea_0]' : '.compose-form textarea');
    await page.evaluate(({ sel, data, name, how }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], name, { type: 'image/png' }));
      const el = document.querySelector(sel);
      if (how === 'drop') el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      else el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, { sel, data: [...bytes], name, how });
  }
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length > n, [root + PREVIEW[platform], before], { timeout: 10000 });
}

/** openApproval presses "Request approval" and returns the approval window, filled in. */
async function openApproval(context, page) {
  const popup = context.waitForEvent('page', { predicate: (p) => p.url().includes('/ui/approve.html'), timeout: 10000 });
  popup.catch(() => {});
  await clickRequestApproval(page);
  const ui = await popup;
  await ui.waitForSelector('#main:not([hidden])');
  await ui.waitForFunction(() => document.querySelectorAll('#approver option').length > 0 || document.getElementById('msg').textContent !== '', null, { timeout: 10000 });
  return ui;
}

async function approveOpen(ui, driver, platform) {
  await ui.selectOption('#account', driver.accountFor(platform));
  await ui.selectOption('#approver', driver.approver);
  await ui.fill('#code', await driver.code());
  await ui.click('#approve');
  await ui.waitForSelector('#msg.ok', { timeout: 10000 });
}

/** noPublishAtServer: no publishing request in the server's full request log either. */
function noPublishAtServer(platform) {
  const re = platform === 'x' ? /\/(CreateTweet|CreateRetweet)/ : /^\/api\/v1\/statuses/;
  const hits = server.log.filter((l) => l.method !== 'GET' && re.test(l.url.split('?')[0]));
  assert.deepEqual(hits, [], 'a publishing request reached the server');
}

const blockedWith = (driver, reason) => until(`the daemon to record a ${reason} block`, async () => (await driver.blocked()).some((b) => b.reason === reason));

flow('x: an image attached after approval -> blocked with the notice, nothing reaches the server', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await connected(driver);
  server.reset(); server.log.length = 0;
  await typePost(page, 'x', 'Our statement on the school year');
  await pressPost(page, 'x');
  assert.equal(await noticeReason(page), 'approval_needed');
  const { ui } = await approveInUi(context, page, driver, 'x');
  await ui.close();
  await waitReason(page, ['approved', 'signed_in']);
  await attach(page, 'x', png(1), 'meme.png', 'picker');
  await pressPost(page, 'x');
  assert.equal(await waitReason(page, 'media_added'), 'media_added');
  assert.match(await page.locator('foureyes-notice').getAttribute('aria-label'), /image or video was added after approval/);
  await shot(page, 'x-media-added');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishAtServer('x');
  await blockedWith(driver, 'manifest_mismatch');
}));

scenario('x: a grant signed for another whole post than the composer holds -> grant_invalid, nothing reaches the server', async () => {
  // The daemon key is the real one and the text is the approved one; only the grant's manifest
  // digest names another post (another image). The extension must not open the gate on it.
  const { startFakeDaemon, installNativeHost } = await import('./lib/fake-daemon.mjs');
  const other = await manifestDigest({ account: 'x:@ministry', action: 'post', text: 'Our poster for the open day', media: [{ sha256: sha256hex(png(9)), size: 1, type: 'image/png', alt: '' }] });
  const drv = {
    name: 'other-manifest', env: {}, approver: 'anna', accountFor: () => 'x:@ministry',
    d: null,
    async setup(dirs) { const cfg = installNativeHost(dirs.userDataDir, dirs.base); this.d = await startFakeDaemon({ hostConfig: cfg, openManifest: other }); },
    async code() { return '123456'; },
    async teardown() { await this.d.close(); },
  };
  return withBrowser(drv, async ({ context }) => {
    const page = await openPlatform(context, 'x');
    await until('the extension to connect to the daemon', () => drv.d.connected() >= 1, { timeout: 20000 });
    server.reset(); server.log.length = 0;
    await typePost(page, 'x', 'Our poster for the open day');
    await attach(page, 'x', png(3), 'poster.png', 'picker');
    await pressPost(page, 'x');
    assert.equal(await noticeReason(page), 'approval_needed');
    const ui = await openApproval(context, page);
    await approveOpen(ui, drv, 'x');
    await ui.close();
    await waitReason(page, ['approved', 'signed_in']);
    await pressPost(page, 'x');
    assert.equal(await waitReason(page, 'grant_invalid'), 'grant_invalid');
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    noPublishAtServer('x');
    await until('the daemon to record a grant_invalid block', () => drv.d.log.blocked.some((b) => b.reason === 'grant_invalid'));
  });
});

for (const platform of ['x', 'mastodon']) {
  flow(`${platform}: the approved image goes out once, and the server saw exactly its bytes`, (driver) => withBrowser(driver, async ({ context }) => {
    const page = await openPlatform(context, platform);
    await connected(driver);
    server.reset();
    const img = png(2);
    const text = `Our new poster for the open day (${platform})`;
    await typePost(page, platform, text);
    await attach(page, platform, img, 'poster.png', platform === 'x' ? 'drop' : 'picker');
    await pressPost(page, platform);
    assert.equal(await noticeReason(page), 'approval_needed');
    const ui = await openApproval(context, page);
    // The approver sees the file: its picture, name and size.
    assert.equal(await ui.locator('#media li img').count(), 1);
    assert.match(await ui.textContent('#media'), /poster\.png[\s\S]*bytes|poster\.png[\s\S]*kB/);
    await approveOpen(ui, driver, platform);
    await ui.close();
    await waitReason(page, ['approved', 'signed_in']);
    await pressPost(page, platform);
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual(server.received[0].mediaSha, [sha256hex(img)], 'the server stored the approved bytes');
    const pub = await published(driver);
    const want = await manifestDigest({ account: driver.accountFor(platform), action: 'post', text, media: [{ sha256: sha256hex(img), size: img.length, type: 'image/png', alt: '' }] });
    assert.equal(pub[0].manifestDigest, want, 'published reports the approved manifest');
    assert.equal(pub[0].alarm, false);
    await pressPost(page, platform);
    assert.ok(await received(page, 1), 'once only');
  }));
}

// keep_media: the daemon keeps a copy of each approved file, handed over by the extension and
// checked against the manifest before the approval issues a session.
realFlow('x: keep_media: the approved image goes out once; the daemon keeps a copy with exactly the bytes the server received, the approval line says so, and `foureyes audit media` gives it back', async (driver) => {
  driver.policy = { keep_media: true };
  return withBrowser(driver, async ({ context, dirs }) => {
    const page = await openPlatform(context, 'x');
    await connected(driver);
    server.reset();
    const img = png(4);
    const sha = sha256hex(img);
    await typePost(page, 'x', 'Our poster for the open day, kept on file');
    await attach(page, 'x', img, 'poster.png', 'picker');
    await pressPost(page, 'x');
    assert.equal(await noticeReason(page), 'approval_needed');
    const ui = await openApproval(context, page);
    await approveOpen(ui, driver, 'x');
    await ui.close();
    await waitReason(page, ['approved', 'signed_in']);
    await pressPost(page, 'x');
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual(server.received[0].mediaSha, [sha], 'the server stored the approved bytes');
    const store = join(driver.env.FOUREYES_HOME, 'media');
    const kept = readFileSync(join(store, sha));
    assert.equal(sha256hex(kept), server.received[0].mediaSha[0], 'the copy has the bytes the server received');
    assert.ok(kept.equals(img), 'the copy is the attached file');
    assert.equal(statSync(store).mode & 0o777, 0o700);
    assert.equal(statSync(join(store, sha)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(store), [sha], 'nothing else (no partial file) in the store');
    const approvals = await driver.events('approval');
    assert.equal(approvals.at(-1).media_kept, sha, 'the approval line records the copy');
    const { execFileSync } = await import('node:child_process');
    const out = join(dirs.base, 'posted.png');
    execFileSync(BIN, ['audit', 'media', sha, '--out', out], { env: { ...process.env, ...driver.env }, stdio: 'pipe' });
    assert.ok(readFileSync(out).equals(img), '`foureyes audit media` writes the copy out');
  });
});

flow('x: an approved reply sent as a reply to another post -> blocked; the approval window shows the post, the file and the links (screenshot)', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await connected(driver);
  server.reset(); server.log.length = 0;
  const text = 'School starts on 4 August. Details: https://www.bund.de/schule and xn--80ak6aa92e.com/info';
  await page.click('article[data-id="1111111111"] [data-testid=reply]');
  await page.click('[role=dialog] [data-testid=tweetTextarea_0]');
  await page.keyboard.type(text);
  await attach(page, 'x', png(3), 'calendar.png', 'paste', '[role=dialog]');
  await page.fill('[role=dialog] [data-testid=altText]', 'School calendar 2027');
  await page.click('[role=dialog] [data-testid=tweetButton]');
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApproval(context, page);
  assert.equal(await ui.textContent('#target-h'), 'In reply to');
  assert.match(await ui.textContent('#target'), /@citizen_anna[\s\S]*school year[\s\S]*https:\/\/x\.com\/i\/status\/1111111111/);
  assert.match(await ui.textContent('#media'), /calendar\.png[\s\S]*Alt text: School calendar 2027/);
  assert.equal(await ui.locator('#links li').count(), 2);
  assert.equal(await ui.locator('#links li.warn').count(), 1, 'only the punycode link is flagged');
  assert.match(await ui.textContent('#links li.warn'), /аррӏе\.com[\s\S]*xn--80ak6aa92e\.com[\s\S]*punycode/);
  assert.match(await ui.textContent('#whole'), /approves exactly what is on this screen/);
  await ui.setViewportSize({ width: 480, height: 1000 });
  await shot(ui, 'x-approval-whole-post');
  // The README's picture of the approval window: refreshed on request, so runs leave the docs alone.
  if (process.env.UPDATE_DOCS_IMG === '1') { mkdirSync(DOCS_IMG, { recursive: true }); await ui.screenshot({ path: join(DOCS_IMG, 'approval-whole-post.png') }); }
  await approveOpen(ui, driver, 'x');
  await ui.close();
  await waitReason(page, ['approved', 'signed_in']);
  // Same text and image, as a reply to another post.
  await page.click('[role=dialog] [data-testid=closeDialog]');
  await page.click('article[data-id="2222222222"] [data-testid=reply]');
  await page.click('[role=dialog] [data-testid=tweetTextarea_0]');
  await page.keyboard.type(text);
  await attach(page, 'x', png(3), 'calendar.png', 'paste', '[role=dialog]');
  await page.fill('[role=dialog] [data-testid=altText]', 'School calendar 2027');
  await page.click('[role=dialog] [data-testid=tweetButton]');
  assert.equal(await waitReason(page, 'reply_target_changed'), 'reply_target_changed');
  assert.match(await page.locator('foureyes-notice').getAttribute('aria-label'), /reply answers a different post/);
  await shot(page, 'x-reply-target-changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishAtServer('x');
  await blockedWith(driver, 'manifest_mismatch');
}));

flow('x: an approved quote quoting another post -> blocked', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await connected(driver);
  server.reset(); server.log.length = 0;
  const quote = async (id) => {
    await page.click(`article[data-id="${id}"] [data-testid=quote]`);
    await page.click('[role=dialog] [data-testid=tweetTextarea_0]');
    await page.keyboard.type('Worth reading.');
    await page.click('[role=dialog] [data-testid=tweetButton]');
  };
  await quote('1111111111');
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApproval(context, page);
  assert.equal(await ui.textContent('#action'), 'Quote post');
  assert.equal(await ui.textContent('#target-h'), 'Quoting');
  assert.match(await ui.textContent('#target-url'), /^https:\/\/x\.com\/i\/status\/1111111111$/);
  await approveOpen(ui, driver, 'x');
  await ui.close();
  await waitReason(page, ['approved', 'signed_in']);
  await page.click('[role=dialog] [data-testid=closeDialog]');
  await quote('2222222222');
  assert.equal(await waitReason(page, 'quote_target_changed'), 'quote_target_changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishAtServer('x');
}));

for (const platform of ['x', 'mastodon']) {
  flow(`${platform}: a repost of another post than the approved one -> blocked; the approved one goes out once`, (driver) => withBrowser(driver, async ({ context }) => {
    const page = await openPlatform(context, platform);
    await connected(driver);
    server.reset(); server.log.length = 0;
    const ids = platform === 'x' ? ['1111111111', '2222222222'] : ['1101', '1102'];
    const repost = async (id) => {
      if (platform === 'x') {
        await page.click(`article[data-id="${id}"] [data-testid=retweet]`);
        await page.click('[data-testid=retweetConfirm]');
      } else {
        await page.click(`.status[data-id="${id}"] .reblog-icon`);
      }
    };
    await repost(ids[0]);
    assert.equal(await noticeReason(page), 'approval_needed');
    const ui = await openApproval(context, page);
    assert.equal(await ui.textContent('#action'), 'Repost');
    const addr = platform === 'x' ? `https://x.com/i/status/${ids[0]}` : `https://social.example/statuses/${ids[0]}`;
    assert.equal(await ui.textContent('#target-url'), addr);
    await approveOpen(ui, driver, platform);
    await ui.close();
    await waitReason(page, ['approved', 'signed_in']);
    await repost(ids[1]);
    assert.equal(await waitReason(page, 'repost_target_changed'), 'repost_target_changed');
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    noPublishAtServer(platform);
    await repost(ids[0]);
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.equal(server.received[0].target, ids[0]);
    const pub = await published(driver);
    assert.equal(pub[0].alarm, false, JSON.stringify(pub));
  }));
}

flow('mastodon: an approved reply sent as a reply to another status -> blocked', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'mastodon');
  await connected(driver);
  server.reset(); server.log.length = 0;
  await page.click('.status[data-id="1101"] .reply-btn');
  await typePost(page, 'mastodon', '@citizen Yes, from 11 to 5.');
  await pressPost(page, 'mastodon');
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApproval(context, page);
  assert.match(await ui.textContent('#target'), /@citizen@social\.example[\s\S]*library[\s\S]*https:\/\/social\.example\/statuses\/1101/);
  await approveOpen(ui, driver, 'mastodon');
  await ui.close();
  await waitReason(page, ['approved', 'signed_in']);
  await page.click('.status[data-id="1102"] .reply-btn');
  await pressPost(page, 'mastodon');
  assert.equal(await waitReason(page, 'reply_target_changed'), 'reply_target_changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishAtServer('mastodon');
}));

flow('x: the page swaps the answered post after the check -> the publish is reported as another post', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openPlatform(context, 'x');
  await connected(driver);
  server.reset();
  await page.click('article[data-id="1111111111"] [data-testid=reply]');
  await page.click('[role=dialog] [data-testid=tweetTextarea_0]');
  await page.keyboard.type('Thank you for asking.');
  await page.click('[role=dialog] [data-testid=tweetButton]');
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApproval(context, page);
  await approveOpen(ui, driver, 'x');
  await ui.close();
  await waitReason(page, ['approved', 'signed_in']);
  await page.evaluate(() => { window.__swapTarget = '2222222222'; });
  await recordReasons(page);
  await page.click('[role=dialog] [data-testid=tweetButton]');
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.equal(server.received[0].target, '2222222222');
  assert.ok((await sawReason(page, 'published_mismatch')).includes('published_mismatch'));
  const pub = await published(driver);
  assert.notEqual(pub[0].manifestDigest, await manifestDigest({ account: 'x:@ministry', action: 'reply', text: 'Thank you for asking.', target: { url: 'https://x.com/i/status/1111111111' } }));
  assert.equal(pub[0].manifestDigest, await manifestDigest({ account: 'x:@ministry', action: 'reply', text: 'Thank you for asking.', target: { url: 'https://x.com/i/status/2222222222' } }));
  assert.equal(pub[0].alarm, true, 'the daemon raises publish_mismatch');
}));

/**
 * requestedAs opens bsky.app's composer in mode (post, reply, quote) in a fresh tab, presses Post
 * and returns what the approval window says the request is. A fresh tab each time: a tab keeps
 * its first request until it is decided.
 */
async function requestedAs(context, mode, text) {
  const page = await openBsky(context);
  await page.evaluate((m) => window.__compose(m), mode);
  await typeBsky(page, text);
  await pressBsky(page);
  assert.equal(await noticeReason(page), 'approval_needed');
  const popup = context.waitForEvent('page', { predicate: (p) => p.url().includes('/ui/approve.html'), timeout: 10000 });
  popup.catch(() => {});
  await clickRequestApproval(page);
  const ui = await popup;
  await ui.waitForSelector('#main:not([hidden])');
  // Typing into a contenteditable may leave no-break spaces between words: the same text.
  const r = { action: await ui.textContent('#action'), text: (await ui.textContent('#text')).replace(/\u00a0/g, ' ') };
  await ui.close();
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  await page.close();
  return r;
}

flow('bluesky: the composer\'s reply to a post is requested as a reply, a quote post as a quote, a new post as a post; nothing reaches the PDS', (driver) => withBrowser(driver, async ({ context }) => {
  await connected(driver);
  server.reset();
  const got = [];
  for (const [mode, text] of [['reply', 'Thanks, we are looking into it'], ['quote', 'Worth reading'], ['post', 'A new post']]) got.push([mode, ...Object.values(await requestedAs(context, mode, text))]);
  assert.deepEqual(got, [['reply', 'Reply', 'Thanks, we are looking into it'], ['quote', 'Quote post', 'Worth reading'], ['post', 'New post', 'A new post']]);
  assert.deepEqual(server.received, []);
}));

// ---- Bluesky: the whole post (images by blob CID, the answered or quoted post) ---------------

/** attachBsky picks an image in bsky.app's composer and waits for its preview. */
async function attachBsky(page, bytes, name) {
  const before = await page.locator('[data-testid=composerImage]').count();
  await page.setInputFiles('[data-testid=composerFileInput]', { name, mimeType: 'image/png', buffer: bytes });
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=composerImage]').length > n, before, { timeout: 10000 });
}

/** noRepoWrite: since log index from, no write of any kind (not even an image) reached the PDS. */
function noRepoWrite(from) {
  const hits = server.log.slice(from).filter((e) => e.method === 'POST' && /^\/xrpc\/com\.atproto\.repo\./.test(e.url));
  assert.deepEqual(hits.map((e) => `${e.host}${e.url}`), [], 'a write reached the PDS');
}

realFlow('bluesky: an image attached after approval -> blocked with the notice, nothing reaches the PDS (not even the image)', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openBsky(context);
  await connected(driver);
  server.reset();
  await bskySignIn(context, page, driver, 'Our statement on the school year');
  server.reset();
  const from = server.log.length;
  await attachBsky(page, png(1), 'meme.png');
  await pressBsky(page);
  assert.equal(await waitReason(page, 'media_added'), 'media_added');
  assert.match(await page.locator('foureyes-notice').getAttribute('aria-label'), /image or video was added after approval/);
  await shot(page, 'bluesky-media-added');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noRepoWrite(from);
  await blockedWith(driver, 'manifest_mismatch');
}));

realFlow('bluesky: the approved image goes out once: uploadBlob gets exactly its bytes, applyWrites names it by that CID, and the daemon hears of the approved post', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openBsky(context);
  await connected(driver);
  server.reset();
  const img = png(2);
  const text = 'Our new poster for the open day (bluesky)';
  let shown = null;
  await bskySignIn(context, page, driver, text, {
    before: () => attachBsky(page, img, 'poster.png'),
    ui: async (ui) => { shown = [await ui.locator('#media li img').count(), await ui.textContent('#media')]; },
  });
  // The approver saw the file: its picture and name.
  assert.equal(shown[0], 1);
  assert.match(shown[1], /poster\.png/);
  server.reset();
  const blobsFrom = server.bsky.blobs.length;
  await pressBsky(page);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  const r = server.received[0];
  assert.equal(r.status, 200, JSON.stringify(r));
  const blobs = server.bsky.blobs.slice(blobsFrom);
  assert.deepEqual(blobs.map((b) => [b.sha256, b.size, b.mimeType]), [[sha256hex(img), img.length, 'image/png']], 'one upload, of exactly the approved bytes');
  assert.deepEqual(r.media, [blobs[0].cid], 'the post names the uploaded blob');
  assert.deepEqual(r.mediaSha, [sha256hex(img)], 'the PDS holds the approved bytes under that CID');
  const pub = await published(driver);
  const want = await manifestDigest({ account: driver.accountFor('bluesky'), action: 'post', text, media: [{ sha256: sha256hex(img), size: img.length, type: 'image/png', alt: '' }] });
  assert.equal(pub[0].manifestDigest, want, 'published reports the approved manifest');
  assert.equal(pub[0].alarm, false);
  await pressBsky(page);
  assert.ok(await received(page, 1), 'once only');
}));

for (const mode of ['reply', 'quote']) {
  // The quote carries an image too: bsky.app then sends a recordWithMedia embed.
  realFlow(`bluesky: an approved ${mode} ${mode === 'reply' ? 'sent as a reply to' : 'with an image quoting'} another post -> blocked, nothing reaches the PDS; the approved one goes out once, naming the approved post${mode === 'quote' ? ' and image' : ''}`, (driver) => withBrowser(driver, async ({ context }) => {
    const page = await openBsky(context);
    await connected(driver);
    server.reset();
    await page.evaluate((m) => window.__compose(m, '3kother'), mode);
    const text = mode === 'reply' ? 'Thanks, we are looking into it' : 'Worth reading';
    let shown = null;
    const img = png(5);
    await bskySignIn(context, page, driver, text, {
      before: mode === 'quote' ? () => attachBsky(page, img, 'chart.png') : undefined,
      ui: async (ui) => { shown = { action: await ui.textContent('#action'), h: await ui.textContent('#target-h'), t: await ui.textContent('#target'), url: await ui.textContent('#target-url') }; },
    });
    assert.equal(shown.action, mode === 'reply' ? 'Reply' : 'Quote post');
    assert.equal(shown.h, mode === 'reply' ? 'In reply to' : 'Quoting');
    assert.match(shown.t, /@other\.bsky\.social[\s\S]*Someone else's post/);
    assert.equal(shown.url, 'https://bsky.app/post/3kother');
    server.reset();
    const from = server.log.length;
    await page.evaluate((m) => window.__compose(m, '3kanother'), mode);
    await pressBsky(page);
    assert.equal(await waitReason(page, `${mode}_target_changed`), `${mode}_target_changed`);
    assert.match(await page.locator('foureyes-notice').getAttribute('aria-label'), mode === 'reply' ? /reply answers a different post/ : /quotes a different post/);
    await shot(page, `bluesky-${mode}-target-changed`);
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    noRepoWrite(from);
    await blockedWith(driver, 'manifest_mismatch');
    // The approved post again: it goes out, and the request names it by its at:// address.
    await page.evaluate((m) => window.__compose(m, '3kother'), mode);
    await pressBsky(page);
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual([server.received[0].status, server.received[0].target], [200, 'at://did:plc:other/app.bsky.feed.post/3kother']);
    assert.deepEqual(server.received[0].mediaSha, mode === 'quote' ? [sha256hex(img)] : [], 'the PDS holds the approved image under the CID the post names');
    const pub = await published(driver);
    assert.equal(pub[0].alarm, false, JSON.stringify(pub));
  }));
}

realFlow('bluesky: a repost of another post than the approved one -> blocked, nothing reaches the PDS; the approved one goes out once, naming the approved post', (driver) => withBrowser(driver, async ({ context }) => {
  const page = await openBsky(context);
  await connected(driver);
  server.reset();
  // bsky.app's Repost button opens a menu; its "Repost" item reposts.
  const repost = async (rkey) => {
    await page.click(`[data-rkey="${rkey}"] [data-testid=repostBtn]`);
    await page.click('[data-testid=repostDropdownRepostBtn]');
  };
  let shown = null;
  await bskySignIn(context, page, driver, null, {
    press: () => repost('3kother'),
    ui: async (ui) => { shown = { action: await ui.textContent('#action'), t: await ui.textContent('#target'), url: await ui.textContent('#target-url') }; },
  });
  assert.equal(shown.action, 'Repost');
  assert.match(shown.t, /@other\.bsky\.social[\s\S]*Someone else's post/);
  assert.equal(shown.url, 'https://bsky.app/post/3kother');
  server.reset();
  const from = server.log.length;
  await repost('3kanother');
  assert.equal(await waitReason(page, 'repost_target_changed'), 'repost_target_changed');
  assert.match(await page.locator('foureyes-notice').getAttribute('aria-label'), /repost of a different post/);
  await shot(page, 'bluesky-repost-target-changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noRepoWrite(from);
  await blockedWith(driver, 'manifest_mismatch');
  await repost('3kother');
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  const r = server.received[0];
  assert.deepEqual([r.path, r.collection, r.target, r.status], ['/xrpc/com.atproto.repo.createRecord', 'app.bsky.feed.repost', 'at://did:plc:other/app.bsky.feed.post/3kother', 200]);
  const pub = await published(driver);
  assert.equal(pub[0].alarm, false, JSON.stringify(pub));
  // Signed out after the one publish (the tab reloads): the same repost again is held.
  await until('the extension to report signed_out', async () => (await driver.signedOut()).length >= 1, { timeout: 20000 });
  await until('the tab to hold no session', () => bskyStored(page).then((v) => v === null, () => false));
  await page.waitForSelector('html[data-foureyes=on]', { timeout: 10000 });
  await repost('3kother');
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  assert.ok(await received(page, 1), 'once only');
}));

serviceScenarios({ serviceFlow: (name, service, fn) => scenarios.push({ name, fn, flow: true, serviceOnly: true, service }), server, withBrowser, openPlatform, typePost, pressPost, noticeReason, waitReason, clickRequestApproval, received, connected, published, shot });

// ---- run ------------------------------------------------------------------------------------
const drivers = [];
if (which === 'fake' || which === 'all') drivers.push(fakeDriver);
// Service mode: its own set of scenarios (the gate scenarios, which need no daemon, are not repeated).
const serviceWhyNot = which === 'service' ? serviceMissing(BIN) : null;
if (which === 'service' && !serviceWhyNot) drivers.push((s) => serviceDriver(BIN, s.service));
const forService = (s) => SERVICE_SCENARIOS.includes(s.name) || s.serviceOnly;
// Why the real daemon cannot run, if it cannot: then its scenarios are skipped (failed under CI).
const realWhyNot = (which === 'real' || which === 'all') ? realMissing(BIN) : null;
if ((which === 'real' || which === 'all') && !realWhyNot) drivers.push(() => realDriver(BIN));

let passed = 0, failed = 0, skipped = 0;
/** Skip: something a scenario needs is missing (the message says what and how to get it). */
class Skip extends Error {}
async function runOne(name, fn) {
  if (only && !name.includes(only)) return;
  const t0 = Date.now();
  try {
    const r = await fn();
    if (typeof r === 'string' && r.startsWith('skip')) throw new Skip(r.slice(5).trim());
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    if (e instanceof Skip && !CI) { skipped++; console.log(`SKIP ${name} (${e.message})`); return; }
    failed++;
    const why = e instanceof Skip ? `${e.message}; with CI=true a missing prerequisite fails the run` : String(e && e.stack || e).split('\n').slice(0, 6).join('\n     ');
    console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${why}`);
  } finally {
    for (const w of watches.splice(0)) w.stop();
  }
  results.push(name);
}

for (const s of scenarios) {
  if (which === 'service') {
    if (!forService(s)) continue;
    if (serviceWhyNot) await runOne(`[service] ${s.name}`, () => { throw new Skip(serviceWhyNot); });
    else await runOne(`[service] ${s.name}`, () => s.fn(drivers[0](s)));
    continue;
  }
  if (s.serviceOnly) continue;
  if (!s.flow) { await runOne(s.name, s.fn); continue; }
  for (const mk of drivers) {
    const driver = mk();
    if (s.realOnly && driver.name !== 'real') continue;
    await runOne(`[${driver.name}] ${s.name}`, () => s.fn(driver));
  }
  if (realWhyNot) await runOne(`[real] ${s.name}`, () => { throw new Skip(realWhyNot); });
}
// A renamed scenario must not drop out of the service run unnoticed.
if (which === 'service') {
  for (const name of SERVICE_SCENARIOS.filter((n) => !scenarios.some((s) => s.name === n))) {
    await runOne(`[service] ${name}`, () => { throw new Error('no scenario of this name in run.mjs: update SERVICE_SCENARIOS in service-scenarios.mjs'); });
  }
}

await server.close();
rmSync(certDir, { recursive: true, force: true });
console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
