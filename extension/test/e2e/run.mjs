// Browser end-to-end scenarios for the extension in Debian's Chromium (playwright-core).
//
//   node extension/test/e2e/run.mjs [--only substring] [--daemon fake|real|all]
//
// Gate scenarios need no daemon. Flow scenarios run against the protocol stand-in ("fake")
// always, and against the real daemon ("real") when FOUREYES_BIN names a built foureyes binary.
// Screenshots go to artifacts/. Prints "N passed, N failed" last; exits 1 on any failure.

import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { makeCert } from './lib/certs.mjs';
import { startServer } from './lib/server.mjs';
import { launch, tempDirs, HOSTS, currentWorker, stopWorker, clickButton } from './lib/browser.mjs';
import { fakeDriver, realDriver, realMissing } from './lib/drivers.mjs';
import { CI, until } from './lib/wait.mjs';
import { digest } from '../../unpacked/lib/digest.js';

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

/** waitReason waits until the notice gives one of the wanted reasons; returns the last one seen. */
async function waitReason(page, want, timeout = 10000) {
  const wanted = Array.isArray(want) ? want : [want];
  await page.waitForFunction((w) => w.includes(document.querySelector('foureyes-notice')?.dataset.reason), wanted, { timeout }).catch(() => {});
  return page.locator('foureyes-notice').getAttribute('data-reason', { timeout: 1000 }).catch(() => null);
}

/** clickRequestApproval presses "Request approval" in the closed-shadow notice (a real click). */
async function clickRequestApproval(page) {
  await clickButton(page, 'foureyes-notice', 'Request approval');
}

async function approveInUi(context, page, driver, platform) {
  const popup = context.waitForEvent('page', { predicate: (p) => p.url().includes('/ui/approve.html'), timeout: 10000 });
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

async function withBrowser(driver, fn) {
  const dirs = tempDirs();
  if (driver) await driver.setup(dirs);
  const b = await launch({ ...dirs, serverPort: server.port, extraEnv: driver ? driver.env : {} });
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

scenario('other sites are left alone', () => withBrowser(null, async ({ context }) => {
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
    assert.equal(await waitReason(page, 'approved'), 'approved');
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
  await pressPost(page, 'x');
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.equal(server.received[0].text, 'What the page sent instead');
  assert.equal(await waitReason(page, 'published_mismatch'), 'published_mismatch');
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
  // Stop it again right after: no allow rule may outlive the worker.
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

// ---- run ------------------------------------------------------------------------------------
const drivers = [];
if (which === 'fake' || which === 'all') drivers.push(fakeDriver);
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
  }
  results.push(name);
}

for (const s of scenarios) {
  if (!s.flow) { await runOne(s.name, s.fn); continue; }
  for (const mk of drivers) {
    const driver = mk();
    await runOne(`[${driver.name}] ${s.name}`, () => s.fn(driver));
  }
  if (realWhyNot) await runOne(`[real] ${s.name}`, () => { throw new Skip(realWhyNot); });
}

await server.close();
rmSync(certDir, { recursive: true, force: true });
console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
