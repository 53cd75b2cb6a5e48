// The extension in Firefox ESR: puppeteer-core drives /usr/bin/firefox-esr over WebDriver BiDi and
// installs the extension. Scenarios on the x.com fixture:
//   - without approval nothing is published;
//   - [real] custody: signed in from the keyring, one post, signed out on the server;
//   - [real] the whole post: an image added after approval is held, the approved one goes out;
//   - [real] Bluesky custody: the session kept in bsky.app's localStorage, signed in from the
//     keyring, one applyWrites, ended with deleteSession on the PDS and removed from the browser;
//   - [real] the whole post, each with its own daemon and Firefox: a reply (X, Mastodon), a quote
//     (X) or a repost (X, Mastodon) of another post than the approved one is held, the approved
//     repost then goes out once; on Mastodon the approved image goes out once with its bytes;
//   - [real] approve once: against the foureyes daemon (FOUREYES_BIN), which Firefox reaches through
//     the native-messaging host manifest under its HOME; skipped when FOUREYES_BIN is not built
//     or oathtool is missing, and then failed instead under CI=true;
//   - [real] rotation (success, and X refusing the current password; on Bluesky with the e-mailed
//     code typed as an administrator would; on Mastodon success and the instance refusing the
//     current password) and private accounts under
//     block, allow and allow_outside_hours (now outside and inside posting hours): each with its
//     own daemon, policy and Firefox, the keyring read back with secret-tool;
//   - [real] custody on Mastodon (the instance from the policy), and an X session ended by Lock
//     now, by expiry (a 30 s session TTL) and by Firefox closed mid-session (signed out at the next
//     start on the same profile): each signed out on the server (a replayed cookie gets 401) with
//     no cookie left in Firefox;
//   - [real] custody one_time on X and Mastodon (each with its own daemon and Firefox): after the
//     approved post the password changes on the platform's form (the keyring holds the new one,
//     the old one is refused, the next session signs in with it and changes it again), then
//     signed out as above; the platform failing the change keeps the old password, still signed
//     out; *Lock now* (X) or expiry (Mastodon, a 30 s session TTL) before Post: nothing
//     published, the password still changes.
// FOUREYES_FIREFOX names Firefox when it is not at /usr/bin/firefox-esr.
// Firefox resolves every name to 127.0.0.1 here, so the fixture server listens on port 443.
//
//   node extension/test/e2e/firefox.mjs                                              (block scenario only)
//   FOUREYES_BIN=/path/to/foureyes bash .ci/with-keyring.sh node extension/test/e2e/firefox.mjs
//   ... firefox.mjs --only rotation                                                  (the scenarios whose name has it)
//
// Prints "N passed, N failed" last; exits 1 on any failure.

import puppeteer from 'puppeteer-core';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { makeCert } from './lib/certs.mjs';
import { startServer } from './lib/server.mjs';
import { tempDirs, HOSTS, EXT_DIR } from './lib/browser.mjs';
import { realDriver, realMissing } from './lib/drivers.mjs';
import { CI, until } from './lib/wait.mjs';
import { digest } from '../../unpacked/lib/digest.js';
import { cmdlineWatch, keyringSecret } from './lib/secrets.mjs';
import { postingHours } from './lib/hours.mjs';
import { png, sha256hex } from './lib/images.mjs';
import { manifestDigest } from '../../unpacked/lib/manifest.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const ARTIFACTS = process.env.ARTIFACTS || join(ROOT, 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
const BIN = process.env.FOUREYES_BIN;
const ADDON_ID = JSON.parse(readFileSync(join(EXT_DIR, 'manifest.json'), 'utf8')).browser_specific_settings.gecko.id;

const dirs = tempDirs('foureyes-ff-');
const { key, cert } = makeCert(dirs.base, HOSTS);
const server = await startServer({ port: Number(process.env.FF_PORT || 443), key, cert });

// ---- helpers on the x.com fixture -----------------------------------------------------------
async function openX(browser) {
  const page = await browser.newPage();
  await page.goto('https://x.com/home');
  await page.waitForSelector('html[data-foureyes=on]', { timeout: 15000 });
  return page;
}

async function typePost(page, text) {
  await page.click('[data-testid=tweetTextarea_0]');
  await page.keyboard.type(text);
}

const pressPost = (page) => page.click('[data-testid=tweetButtonInline]');
const reasonOf = (page) => page.$eval('foureyes-notice', (e) => e.dataset.reason).catch(() => null);

async function noticeReason(page, timeout = 5000) {
  await page.waitForSelector('foureyes-notice', { visible: true, timeout });
  return reasonOf(page);
}

/** waitReason waits until the notice gives the wanted reason; returns the last one seen. */
async function waitReason(page, want, timeout = 10000) {
  await page.waitForFunction((w) => document.querySelector('foureyes-notice')?.dataset.reason === w, { timeout }, want).catch(() => {});
  return reasonOf(page);
}

/**
 * received says whether exactly `expected` publishing requests reached the server once it is
 * settled: at least `expected` arrived, and every publish the page started has ended.
 */
async function received(page, expected) {
  if (expected > 0) await server.waitFor(expected).catch(() => {});
  await page.waitForFunction(() => window.__results.length === window.__attempts, { timeout: 15000 });
  return server.received.length === expected;
}

/**
 * clickRequestApproval presses "Request approval" in the closed-shadow notice the way a keyboard
 * user does: Tab until the focus is in the notice (its first button is "Request approval"), then
 * Enter, a trusted activation. Page scripts and selectors cannot reach into the closed shadow root.
 */
async function clickRequestApproval(page) {
  for (let i = 0; i < 50; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.localName === 'foureyes-notice')) {
      await page.keyboard.press('Enter');
      return;
    }
  }
  throw new Error('Tab never reached the foureyes notice');
}

/**
 * newPageAt waits for a page that was not among `before` and whose document is at a URL
 * containing `part`. Asked of the document itself: over BiDi, the window the extension opens
 * keeps reporting about:blank as its URL.
 */
async function newPageAt(browser, before, part, timeout = 10000) {
  return until(`a new page at ${part}`, async () => {
    for (const p of await browser.pages()) {
      if (before.has(p)) continue;
      const href = await p.evaluate(() => location.href).catch(() => '');
      if (href.includes(part)) return p;
    }
    return null;
  }, { timeout, every: 100 });
}

/** approveInUi opens the approval window from the notice and approves with a fresh code. */
async function approveInUi(browser, page, driver, platform = 'x') {
  const before = new Set(await browser.pages());
  await clickRequestApproval(page);
  const ui = await newPageAt(browser, before, '/ui/approve.html');
  await ui.waitForSelector('#main:not([hidden])', { timeout: 10000 });
  await ui.waitForFunction(() => document.querySelectorAll('#approver option').length > 0 || document.getElementById('msg').textContent !== '', { timeout: 10000 });
  await ui.select('#account', driver.accountFor(platform));
  await ui.select('#approver', driver.approver);
  await ui.type('#code', await driver.code());
  await ui.click('#approve');
  await ui.waitForSelector('#msg.ok, #msg.err', { timeout: 10000 });
  const msg = await ui.$eval('#msg', (e) => e.textContent);
  assert.ok(await ui.$('#msg.ok'), `approval page says: ${msg}`);
  return { ui, msg };
}

// ---- scenarios --------------------------------------------------------------------------------
async function blockScenario(browser) {
  const page = await openX(browser);
  server.reset();
  await typePost(page, 'Unapproved post from Firefox');
  await pressPost(page);
  const reason = await noticeReason(page);
  assert.ok(['daemon_unavailable', 'approval_needed'].includes(reason), reason);
  await page.keyboard.down('Control');
  await page.keyboard.press('Enter');
  await page.keyboard.up('Control');
  await page.evaluate(() => window.__publishDirect('straight from the page script'));
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  assert.deepEqual(await page.evaluate(() => window.__results), ['failed']);
  await page.screenshot({ path: join(ARTIFACTS, 'firefox-x-blocked.png') });
  await page.close();
}

async function approveOnceScenario(browser, driver) {
  const page = await openX(browser);
  // The content script's hello starts the connection: native host, token, WebSocket.
  await until('the extension to connect to the daemon', async () => await driver.connections() >= 1, { timeout: 15000 });
  server.reset();
  const text = 'Approved post from the ministry, sent from Firefox 🇩🇪';
  await typePost(page, text);
  await pressPost(page);
  assert.equal(await noticeReason(page), 'approval_needed');
  await page.screenshot({ path: join(ARTIFACTS, 'firefox-x-approval-needed.png') });
  const { ui, msg } = await approveInUi(browser, page, driver);
  assert.match(msg, /Approved by/);
  await ui.screenshot({ path: join(ARTIFACTS, 'firefox-approval-page-approved.png') });
  await ui.close();
  assert.equal(await waitReason(page, 'approved'), 'approved');
  await pressPost(page);
  assert.ok(await received(page, 1), `want one request, got ${JSON.stringify(server.received)}; notice ${await reasonOf(page)}; page ${JSON.stringify(await page.evaluate(() => window.__results))}`);
  assert.equal(server.received[0].text, text);
  const pub = await until('the daemon to record the publish report', async () => { const p = await driver.published(); return p.length >= 1 && p; });
  assert.equal(pub.length, 1, `published reported once: ${JSON.stringify(pub)}`);
  assert.equal(pub[0].digest, await digest(text));
  assert.ok(!pub[0].alarm, 'the publish matched the approval');
  // The same text again: the session is spent.
  await pressPost(page);
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  assert.ok(await received(page, 1), 'second post blocked');
  await page.evaluate(() => window.__publishDirect('sneaky second'));
  assert.ok(await received(page, 1), 'direct fetch after the publish blocked');
}

/**
 * custodyScenario: custody of the sign-in in Firefox. Approved, the extension signs in from the
 * keyring (the fixture sees the account's password once, at its sign-in), one post goes out
 * signed in, and the sign-out ends the session on the server and leaves no cookie (the
 * extension's signed_out report is ok only then). Firefox's browsingData takes host names, not
 * origins: background/sitedata.js.
 */
async function custodyScenario(browser, driver) {
  const page = await openX(browser);
  await until('the extension to connect to the daemon', async () => await driver.connections() >= 1, { timeout: 15000 });
  // Whatever an earlier scenario left: count from here.
  await until('earlier sessions to be signed out', async () => server.liveSessions('x') === 0 || (await driver.signedOut()).length >= 1, { timeout: 20000 }).catch(() => {});
  const base = server.liveSessions('x');
  const outBefore = (await driver.signedOut()).length;
  const from = server.log.length;
  server.reset();
  const text = 'Custody post from Firefox';
  await typePost(page, text);
  await pressPost(page);
  assert.equal(await noticeReason(page), 'approval_needed');
  assert.equal(server.liveSessions('x'), base, 'signed in before any approval');
  const { ui } = await approveInUi(browser, page, driver);
  await ui.close();
  await until(() => `the x fixture to hold a signed-in session (it saw: ${server.log.slice(from).map((e) => `${e.method} ${e.host}${e.url}`).join(', ')})`, () => server.liveSessions('x') === base + 1, { timeout: 30000 });
  const pw = server.log.slice(from).filter((e) => e.method === 'POST' && e.host === 'api.x.com' && e.url === '/1.1/onboarding/task.json').map((e) => JSON.parse(e.body)).filter((m) => 'password' in m).map((m) => m.password);
  assert.deepEqual(pw, [server.accounts.x.password], 'the password from the keyring went to the sign-in once');
  await pressPost(page);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'one publish, signed in');
  const so = await until('the extension to report signed_out', async () => { const r = (await driver.signedOut()).slice(outBefore); return r.length >= 1 && r; }, { timeout: 30000 });
  assert.equal(so[0].result, 'ok', JSON.stringify(so));
  assert.equal(server.liveSessions('x'), base, 'the session still lives on the server');
  for (const e of server.log.slice(from)) assert.ok(!e.url.includes(server.accounts.x.password) && !e.url.includes(encodeURIComponent(server.accounts.x.password)), `the password in the URL ${e.url}`);
  await page.screenshot({ path: join(ARTIFACTS, 'firefox-x-custody-signed-out.png') });
}

// ---- custody with a policy of its own: rotation, private accounts --------------------------
// Each of these runs with its own daemon (its own policy and keyring entries) and its own Firefox,
// so no sign-in, cookie or policy of one leaks into the next.

// Firefox suspends an idle event page after 30 s (extensions.background.idle.timeout); here after
// IDLE_MS. A suspended background has lost its connection and every daemon event sent meanwhile,
// so a rotation approved on the command line after a quiet spell of a few IDLE_MS happens only if
// the extension stays awake while connected (background/nativeport.js). The daemon itself notices
// a dropped connection only at its 60 s keep-alive, so the rotation is the proof.
const IDLE_MS = 1000;

/** quiet does nothing in the browser for four of Firefox's idle timeouts. */
const quiet = () => new Promise((r) => setTimeout(r, 4 * IDLE_MS));

/** launchFirefox starts Firefox ESR with the extension installed, for the driver's daemon. */
async function launchFirefox(dirs, drv) {
  const b = await puppeteer.launch({
    browser: 'firefox', executablePath: process.env.FOUREYES_FIREFOX || '/usr/bin/firefox-esr', headless: true,
    acceptInsecureCerts: true, userDataDir: dirs.userDataDir,
    env: { ...process.env, ...drv.env, HOME: dirs.home },
    extraPrefsFirefox: { 'network.dns.forceResolve': '127.0.0.1', 'extensions.manifestV3.enabled': true, 'extensions.background.idle.timeout': IDLE_MS },
  });
  await b.installExtension(EXT_DIR);
  return b;
}

/** withFirefox runs fn({browser, driver}) against a fresh daemon with policy and a fresh Firefox. */
async function withFirefox(policy, fn) {
  const d = tempDirs('foureyes-ff-own-');
  const drv = realDriver(BIN, { firefoxId: ADDON_ID });
  drv.policy = policy;
  let b = null;
  try {
    await drv.setup(d);
    b = await launchFirefox(d, drv);
    return await fn({ browser: b, driver: drv });
  } finally {
    if (b) await b.close().catch(() => {});
    await drv.teardown().catch(() => {});
    server.restoreAccounts();
    rmSync(d.base, { recursive: true, force: true });
  }
}

/** connectedX opens x.com (its content script starts the connection) and waits for the daemon to see it. */
async function connectedX(browser, drv) {
  const page = await openX(browser);
  await until('the extension to connect to the daemon', async () => await drv.connections() >= 1, { timeout: 15000 });
  return page;
}

/** changeSeenX reads the change-password requests x.com received since from: [{current, next, confirm}]. */
function changeSeenX(from) {
  return server.log.slice(from).filter((e) => e.method === 'POST' && e.host === 'x.com' && e.url === '/i/api/1.1/account/change_password.json').map((e) => {
    const f = new URLSearchParams(e.body);
    return { current: f.get('current_password'), next: f.get('password'), confirm: f.get('password_confirmation') };
  });
}

/** signInPasswords lists the passwords x's sign-in received since from. */
function signInPasswords(from) {
  return server.log.slice(from).filter((e) => e.method === 'POST' && e.host === 'api.x.com' && e.url === '/1.1/onboarding/task.json')
    .map((e) => JSON.parse(e.body)).filter((m) => 'password' in m).map((m) => m.password);
}

/** rotateX runs `foureyes account rotate` and `foureyes approve` and waits for the outcome and the sign-out. */
const rotateX = (drv) => rotateFF(drv, 'x:@ministry');

/**
 * rotateFF runs `foureyes account rotate` and `foureyes approve` for account and waits for the
 * outcome and the sign-out; during (if given) runs after the approval, as a person at the
 * browser would (Bluesky's e-mailed code).
 */
async function rotateFF(drv, account, during) {
  const rid = drv.rotate(account);
  assert.match(rid, /^r/, `account rotate printed ${rid}`);
  const sid = await drv.approveCli(rid);
  if (during) await during();
  const rot = await until('the daemon to record the rotation\'s outcome', async () => {
    const r = (await drv.rotations()).filter((x) => x.session === sid && x.event !== 'rotation_release');
    return r.length && r;
  }, { timeout: 90000 });
  const so = await until('the extension to report signed_out after the rotation', async () => (await drv.signedOut()).find((x) => x.session === sid), { timeout: 30000 });
  return { sid, rot, so };
}

/**
 * extensionStorage reads every storage area of the extension in one of its own pages (the
 * approval window, kept open for this: WebDriver BiDi may not navigate a tab to a
 * moz-extension:// page, and no other page has the extension's APIs).
 */
async function extensionStorage(extPage) {
  return extPage.evaluate(async () => JSON.stringify(await Promise.all([chrome.storage.local.get(null), chrome.storage.session.get(null)])));
}

/**
 * postSignedIn approves a post in the page and waits until the browser is signed in from the
 * keyring, publishes it, and waits for the sign-out. Returns the passwords the sign-in sent and
 * the approval window (an extension page, left open).
 */
async function postSignedIn(browser, page, drv, text) {
  const from = server.log.length;
  const base = server.liveSessions('x');
  const outBefore = (await drv.signedOut()).length;
  server.reset();
  await typePost(page, text);
  await pressPost(page);
  assert.equal(await noticeReason(page), 'approval_needed');
  const { ui } = await approveInUi(browser, page, drv);
  await until(() => `the x fixture to hold a signed-in session (it saw: ${server.log.slice(from).map((e) => `${e.method} ${e.host}${e.url}`).join(', ')})`, () => server.liveSessions('x') === base + 1, { timeout: 30000 });
  await pressPost(page);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'one publish, signed in');
  const so = await until('the extension to report signed_out', async () => { const r = (await drv.signedOut()).slice(outBefore); return r.length >= 1 && r; }, { timeout: 30000 });
  assert.equal(so[0].result, 'ok', JSON.stringify(so));
  assert.equal(server.liveSessions('x'), base, 'the session still lives on the server');
  return { passwords: signInPasswords(from), ui };
}

/** secretsNowhere: none of the passwords in a URL the fixture saw since from, the daemon's files and output, the extension's storage, a command line. */
async function secretsNowhere(extPage, drv, passwords, from, cmdlines) {
  const forms = passwords.flatMap((p) => [p, encodeURIComponent(p), new URLSearchParams({ p }).toString().slice(2)]);
  const hit = (text) => forms.find((f) => text.includes(f));
  for (const e of server.log.slice(from)) assert.ok(!hit(e.url), `a password in the URL ${e.host}${e.url.slice(0, 40)}…`);
  assert.ok(!hit(drv.auditText()), 'a password in the audit trail');
  assert.ok(drv.output.length > 0 && !hit(drv.output.join('')), 'a password in the daemon\'s stdout/stderr (or nothing captured)');
  const dump = await extensionStorage(extPage);
  assert.ok(dump.startsWith('[{'), `the extension's storage was read: ${dump.slice(0, 80)}`);
  assert.ok(!hit(dump), 'a password in the extension\'s storage');
  assert.ok(cmdlines.length > 10, 'command lines were sampled');
  for (const c of cmdlines) assert.ok(!hit(c), `a password on a command line: ${c.slice(0, 60)}…`);
}

const PW_KEY = 'account/x:@ministry/password';
const PW_NEXT_KEY = 'account/x:@ministry/password-next';

/**
 * rotationScenarioFF: `foureyes account rotate` in Firefox. The extension signs in, fills X's
 * change-password form with the daemon's generated password, the server's password changes, the
 * keyring holds the new one (and no pending one), the old one is refused at sign-in, and the
 * next approved post signs in with the new one.
 */
async function rotationScenarioFF(browser, drv) {
  const watch = cmdlineWatch();
  try {
    const page = await connectedX(browser, drv);
    const from = server.log.length;
    const old = server.accounts.x.password;
    const home = drv.env.FOUREYES_HOME;
    assert.equal(keyringSecret(home, PW_KEY), old, 'the keyring holds the account\'s password before the rotation');
    const base = server.liveSessions('x');
    // Nothing happens in the browser for a while: the rotation is approved on the command line.
    await quiet();
    const { rot, so } = await rotateX(drv);
    assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
    const change = changeSeenX(from);
    assert.equal(change.length, 1, 'one change-password request');
    assert.equal(change[0].current, old);
    assert.equal(change[0].confirm, change[0].next);
    const next = server.accounts.x.password;
    assert.equal(next, change[0].next, 'the server\'s password is the one the form sent');
    assert.notEqual(next, old);
    assert.ok(next.length >= 20, 'a generated password');
    assert.equal(keyringSecret(home, PW_KEY), next, 'the keyring holds the new password');
    assert.equal(keyringSecret(home, PW_NEXT_KEY), null, 'a pending password is left in the keyring');
    assert.equal(await server.signInWorks('x', old), false, 'the old password still signs in');
    assert.equal(await server.signInWorks('x', next), true, 'the new password does not sign in');
    assert.equal(so.result, 'ok', JSON.stringify(so));
    assert.equal(server.liveSessions('x'), base, 'signed in on the server after the rotation');
    assert.deepEqual((await browser.cookies()).filter((c) => /(^|\.)x\.com$/.test(c.domain)).map((c) => c.name), [], 'x.com cookies left after the rotation');
    const { passwords, ui } = await postSignedIn(browser, page, drv, 'First post after the rotation, from Firefox');
    assert.deepEqual(passwords, [next], 'the next sign-in used the new password');
    await secretsNowhere(ui, drv, [old, next], from, watch.stop());
    await page.screenshot({ path: join(ARTIFACTS, 'firefox-x-rotated.png') });
  } finally {
    watch.stop();
  }
}

/**
 * rotationFailsFF: X refuses the current password at the change (as if it had been changed
 * elsewhere): rotation_failed with the platform's words, the server's and the keyring's password
 * stay the old one, no pending password is left, and the old one still signs in, also for the
 * next approved post.
 */
async function rotationFailsFF(browser, drv) {
  const watch = cmdlineWatch();
  try {
    const page = await connectedX(browser, drv);
    const from = server.log.length;
    const old = server.accounts.x.password;
    const home = drv.env.FOUREYES_HOME;
    server.failRotation.x = 'current';
    await quiet();
    const { rot, so } = await rotateX(drv);
    assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
    assert.match(String(rot[0].error), /refused the change: The password you entered was incorrect/);
    const change = changeSeenX(from);
    assert.equal(change.length, 1, 'one change-password request');
    assert.equal(server.accounts.x.password, old, 'the server\'s password changed');
    assert.equal(keyringSecret(home, PW_KEY), old, 'the keyring lost the password that works');
    assert.equal(keyringSecret(home, PW_NEXT_KEY), null, 'the refused password is left in the keyring');
    assert.equal(await server.signInWorks('x', old), true, 'the old password no longer signs in');
    assert.equal(so.result, 'ok', JSON.stringify(so));
    server.failRotation.x = null;
    const { passwords, ui } = await postSignedIn(browser, page, drv, 'Still posting after a failed rotation, from Firefox');
    assert.deepEqual(passwords, [old], 'the next sign-in used the old password');
    await secretsNowhere(ui, drv, [old, change[0].next], from, watch.stop());
  } finally {
    watch.stop();
  }
}

/** privateTab signs the browser in to someone's own X account (not in custody) and opens x.com. */
async function privateTab(browser, drv, user) {
  await browser.setCookie(...server.signInAs('x', user).map((c) => ({ ...c, domain: 'x.com' })));
  const page = await connectedX(browser, drv);
  await page.waitForFunction((u) => document.querySelector('[data-testid=SideNav_AccountSwitcher_Button]')?.textContent.includes(`@${u}`), { timeout: 10000 }, user);
  return page;
}

/** privateHeldFF: a post from a private account the policy does not let out: private_account notice, nothing reaches X, the trail says private_post_blocked. */
async function privateHeldFF(browser, drv, mode) {
  const page = await privateTab(browser, drv, 'jemand');
  server.reset();
  await typePost(page, 'A private opinion, from Firefox');
  await pressPost(page);
  assert.equal(await noticeReason(page), 'private_account');
  await page.screenshot({ path: join(ARTIFACTS, `firefox-x-private-${mode}-held.png`) });
  await page.evaluate(() => window.__publishDirect('straight from the page, private account'));
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  const ev = await until('the daemon to record private_post_blocked', async () => { const e = await drv.events('private_post_blocked'); return e.length >= 1 && e; });
  assert.deepEqual(ev.map((e) => [e.platform, e.handle, e.private_accounts]), [['x', '@jemand', mode]]);
  assert.deepEqual(await drv.events('private_post_allowed'), []);
  assert.deepEqual(await drv.released(), [], 'credentials released');
}

/** privateAllowedFF: a post from a private account the policy lets out: once, without approval, recorded as private_post_allowed. */
async function privateAllowedFF(browser, drv, mode) {
  const page = await privateTab(browser, drv, 'bob');
  server.reset();
  const text = 'Bob, privately, on his own account, from Firefox';
  await typePost(page, text);
  await pressPost(page);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]]);
  assert.equal(await waitReason(page, 'published_private'), 'published_private');
  // The allow was for that one request: a direct publish from the page after it is blocked.
  await page.evaluate(() => window.__publishDirect('straight from the page afterwards'));
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  const ev = await until('the daemon to record private_post_allowed', async () => { const e = await drv.events('private_post_allowed'); return e.length >= 1 && e; });
  assert.deepEqual(ev.map((e) => [e.platform, e.handle, e.private_accounts]), [['x', '@bob', mode]]);
  assert.deepEqual(await drv.events('private_post_blocked'), []);
  assert.deepEqual(await drv.published(), [], 'a posting session was used');
  assert.deepEqual(await drv.released(), [], 'credentials released');
}

/**
 * typeEmailedCodeFF is the administrator at Firefox: the change-password tab shows the notice
 * that asks for the code, the PDS's mail arrives, and they type the code into the field
 * (trusted keyboard input over WebDriver BiDi).
 */
async function typeEmailedCodeFF(browser) {
  const page = await until('the change-password tab to ask for the e-mailed code', async () => {
    for (const p of await browser.pages()) {
      const href = await p.evaluate(() => location.href).catch(() => '');
      if (href.startsWith('https://bsky.app/settings/account') && await p.$('[data-testid=resetCodeInput]').catch(() => null)) return p;
    }
    return null;
  }, { timeout: 60000 });
  assert.equal(await waitReason(page, 'rotate_email_code'), 'rotate_email_code', 'the tab says what to do');
  const mail = await until('the PDS to e-mail the reset code', () => server.bsky.mailbox.at(-1));
  assert.equal(mail.to, server.accounts.bluesky.username);
  assert.equal(await page.$eval('[data-testid=newPasswordInput]', (e) => e.value), '', 'the new password was filled before the code');
  await page.focus('[data-testid=resetCodeInput]');
  await page.keyboard.type(mail.code, { delay: 15 });
  return mail.code;
}

/**
 * bskyRotationFF: `foureyes account rotate` on Bluesky in Firefox. The extension signs in, opens
 * Settings -> Account -> Password, requests the code; the administrator types the e-mailed code,
 * the extension fills the daemon's new password and submits: the PDS's and the keyring's password
 * are the new one, no pending one is left, the old one is refused, and the next approved post
 * signs in with the new one (bskyCustodyScenario checks createSession against the PDS's password).
 */
async function bskyRotationFF(browser, drv) {
  const watch = cmdlineWatch();
  try {
    const start = await openBsky(browser);
    await until('the extension to connect to the daemon', async () => await drv.connections() >= 1, { timeout: 15000 });
    const from = server.log.length;
    const old = server.accounts.bluesky.password;
    const home = drv.env.FOUREYES_HOME;
    const account = drv.accountFor('bluesky');
    const key = `account/${account}/password`;
    assert.equal(keyringSecret(home, key), old, 'the keyring holds the account\'s password before the rotation');
    const base = server.liveSessions('bluesky');
    await quiet();
    let code;
    const { rot, so } = await rotateFF(drv, account, async () => { code = await typeEmailedCodeFF(browser); });
    assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
    const reset = server.log.slice(from).filter((e) => e.method === 'POST' && e.url === '/xrpc/com.atproto.server.resetPassword').map((e) => JSON.parse(e.body));
    assert.equal(reset.length, 1, 'one resetPassword');
    assert.equal(reset[0].token, code, 'the code the administrator typed');
    const next = server.accounts.bluesky.password;
    assert.equal(next, reset[0].password, 'the PDS\'s password is the one the form sent');
    assert.notEqual(next, old);
    assert.ok(next.length >= 20, 'a generated password');
    assert.equal(keyringSecret(home, key), next, 'the keyring holds the new password');
    assert.equal(keyringSecret(home, `${key}-next`), null, 'a pending password is left in the keyring');
    assert.equal(await server.signInWorks('bluesky', old), false, 'the old password still signs in');
    assert.equal(await server.signInWorks('bluesky', next), true, 'the new password does not sign in');
    assert.equal(so.result, 'ok', JSON.stringify(so));
    assert.equal(server.liveSessions('bluesky'), base, 'signed in on the PDS after the rotation');
    assert.equal((await bskyPages(browser)).length, 1, 'the change-password tab is still open');
    // The next post starts from a tab of its own (it counts the bsky.app tabs).
    await start.close();
    const ui = await bskyCustodyScenario(browser, drv, { keepUi: true });
    await secretsNowhere(ui, drv, [old, next], from, watch.stop());
  } finally {
    watch.stop();
  }
}

// Scenarios with a policy of their own: [name, policy, fn(browser, driver)].
const OWN = [
  ['firefox: [real] bluesky: rotation: an administrator types the e-mailed code, the daemon\'s new password replaces the old one on the PDS and in the keyring; the old one is refused, the next sign-in uses the new one; no password in audit, log, storage, URL or command line',
    {}, bskyRotationFF],
  ['firefox: [real] rotation: the daemon\'s new password replaces the old one on X and in the keyring; the old one is refused, the next sign-in uses the new one; no password in audit, log, storage, URL or command line',
    {}, rotationScenarioFF],
  ['firefox: [real] rotation: X refuses the current password -> rotation_failed, the old password stays on X and in the keyring and still signs in',
    {}, rotationFailsFF],
  ['firefox: [real] x: private account under private_accounts block -> held with the private_account notice, nothing published',
    { private_accounts: 'block' }, (b, d) => privateHeldFF(b, d, 'block')],
  ['firefox: [real] x: private account under private_accounts allow -> one post goes out without approval',
    { private_accounts: 'allow' }, (b, d) => privateAllowedFF(b, d, 'allow')],
  ['firefox: [real] x: private account under private_accounts allow_outside_hours, now outside posting hours -> one post goes out without approval',
    { private_accounts: 'allow_outside_hours', posting_hours: postingHours(false) }, (b, d) => privateAllowedFF(b, d, 'allow_outside_hours')],
  ['firefox: [real] x: private account under private_accounts allow_outside_hours, now inside posting hours -> held with the private_account notice, nothing published',
    { private_accounts: 'allow_outside_hours', posting_hours: postingHours(true) }, (b, d) => privateHeldFF(b, d, 'allow_outside_hours')],
];

/** dropImage drops a file on the composer (a synthetic drop: the page and the gate read its files). */
async function dropImage(page, bytes, name) {
  const before = await page.$$eval('[data-testid=primaryColumn] [data-testid=attachmentPreview]', (l) => l.length);
  await page.evaluate((data, n) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], n, { type: 'image/png' }));
    document.querySelector('[data-testid=tweetTextarea_0]').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [...bytes], name);
  await page.waitForFunction((b) => document.querySelectorAll('[data-testid=primaryColumn] [data-testid=attachmentPreview]').length > b, { timeout: 10000 }, before);
}

/**
 * wholePostScenario: an image added after approval is held back with the notice saying so; once
 * it is removed again, the approved post goes out once and the server stored exactly the
 * approved image's bytes.
 */
async function wholePostScenario(browser, driver) {
  const page = await openX(browser);
  await until('the extension to connect to the daemon', async () => await driver.connections() >= 1, { timeout: 15000 });
  server.reset();
  const a = png(4), b = png(5);
  const text = 'Poster for the open day, from Firefox';
  await typePost(page, text);
  await dropImage(page, a, 'poster.png');
  await pressPost(page);
  assert.equal(await noticeReason(page), 'approval_needed');
  const { ui } = await approveInUi(browser, page, driver);
  await ui.close();
  await waitReason(page, 'approved');
  await dropImage(page, b, 'other.png');
  await pressPost(page);
  assert.equal(await waitReason(page, 'media_added'), 'media_added');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  await page.screenshot({ path: join(ARTIFACTS, 'firefox-x-media-added.png') });
  // Removed again: the composer holds the approved post.
  await page.click('[data-testid=primaryColumn] [data-testid=attachmentPreview]:nth-child(2) [data-testid=removeMedia]');
  await pressPost(page);
  assert.ok(await received(page, 1), `want one request, got ${JSON.stringify(server.received)}; notice ${await reasonOf(page)}`);
  assert.deepEqual(server.received[0].mediaSha, [sha256hex(a)]);
  const pub = await until('the daemon to record the publish report', async () => { const p = await driver.published(); return p.length >= 1 && p; });
  assert.ok(!pub[pub.length - 1].alarm, `${JSON.stringify(pub)}; upload observer in the page: ${await page.evaluate(() => !!window.__foureyesObserve)}`);
}

// ---- Bluesky custody: a session kept in localStorage, ended with deleteSession --------------
const BSKY = 'https://bsky.app/';
const PDS_HOSTS = new Set(['bsky.social', 'pds1.us-east.host.bsky.network']);
const bskyStored = (page) => page.evaluate(() => localStorage.getItem('BSKY_STORAGE'));
const CREATE_SESSION = (e) => e.method === 'POST' && e.url === '/xrpc/com.atproto.server.createSession';
const DELETE_SESSION = (e) => e.method === 'POST' && e.url === '/xrpc/com.atproto.server.deleteSession';

async function openBsky(browser) {
  const page = await browser.newPage();
  await page.goto(BSKY);
  await page.waitForSelector('html[data-foureyes=on]', { timeout: 15000 });
  return page;
}

async function typeBsky(page, text) {
  await page.click('[data-testid=composerTextInput] [contenteditable]');
  await page.keyboard.type(text);
}
const pressBsky = (page) => page.click('[data-testid=composerPublishBtn]');

/** bskyPages lists the open pages whose document is on bsky.app (asked of the document: see newPageAt). */
async function bskyPages(browser) {
  const out = [];
  for (const p of await browser.pages()) {
    const href = await p.evaluate(() => location.href).catch(() => '');
    if (href.startsWith(BSKY)) out.push(p);
  }
  return out;
}

/** likeBlocked: a like from the page is held with interaction_blocked and reaches no PDS. */
async function likeBlocked(page, from) {
  await page.evaluate(() => window.__like());
  assert.equal(await waitReason(page, 'interaction_blocked'), 'interaction_blocked');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  const reached = server.log.slice(from).filter((e) => PDS_HOSTS.has(e.host) && e.url.startsWith('/xrpc/com.atproto.repo.'));
  assert.deepEqual(reached.map((e) => e.url), [], 'a write reached the PDS');
}

/**
 * bskyCustodyScenario: Bluesky custody in Firefox. Before the approval nothing reaches the PDS
 * (the page's post, a direct applyWrites and a like are held); approved, the extension signs in
 * from the keyring in a background tab (one createSession with the keyring's password), the
 * staff member's tab follows, one applyWrites with the approved text goes out; the session
 * consumed, the extension reads the stored session in a background tab, sends deleteSession to
 * the session's own PDS and removes bsky.app's site data: the refresh token is dead, no session
 * is stored, a like is held again, and the password is in no URL.
 */
async function bskyCustodyScenario(browser, driver, { keepUi = false } = {}) {
  const page = await openBsky(browser);
  await until('the extension to connect to the daemon', async () => await driver.connections() >= 1, { timeout: 15000 });
  const from = server.log.length;
  const base = server.liveSessions('bluesky');
  const outBefore = (await driver.signedOut()).length;
  const relBefore = (await driver.released()).length;
  server.reset();
  const text = 'Custody post on Bluesky, from Firefox';
  await typeBsky(page, text);
  await pressBsky(page);
  assert.equal(await noticeReason(page), 'approval_needed');
  // Before the approval: not signed in, and nothing reaches the PDS.
  assert.equal(await bskyStored(page), null, 'a session stored before any approval');
  await page.evaluate(() => window.__publishDirect('straight from the page before approval'));
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  await likeBlocked(page, from);
  assert.deepEqual(server.log.slice(from).filter((e) => PDS_HOSTS.has(e.host)).map((e) => `${e.method} ${e.url}`), [], 'a request reached the PDS before the approval');
  await pressBsky(page);
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  const { ui } = await approveInUi(browser, page, driver, 'bluesky');
  await until(() => `the Bluesky PDS to hold a signed-in session (it saw: ${server.log.slice(from).map((e) => `${e.method} ${e.host}${e.url}`).join(', ')})`, () => server.liveSessions('bluesky') === base + 1, { timeout: 30000 });
  const sent = server.log.slice(from).filter(CREATE_SESSION).map((e) => JSON.parse(e.body));
  assert.deepEqual(sent.map((b) => [b.identifier, b.password]), [[server.accounts.bluesky.username, server.accounts.bluesky.password]], 'one sign-in, with the keyring\'s password');
  const rel = await until('the daemon to record one credential release', async () => { const r = (await driver.released()).slice(relBefore); return r.length >= 1 && r; });
  assert.deepEqual(rel.map((r) => [r.account, r.host]), [['bluesky:@ministry.bsky.social', 'bsky.app']]);
  // The staff member's tab follows the sign-in made in the background tab.
  const raw = await until('the session to be stored in the staff member\'s tab', () => bskyStored(page), { timeout: 15000 });
  const acc = JSON.parse(raw).session.accounts[0];
  assert.equal(acc.handle, 'ministry.bsky.social');
  const tokens = { access: acc.accessJwt, refresh: acc.refreshJwt };
  await until('the sign-in tab to close', async () => (await bskyPages(browser)).length === 1, { timeout: 15000 });
  server.reset();
  await pressBsky(page);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.path, r.text, r.status]), [['/xrpc/com.atproto.repo.applyWrites', text, 200]], 'one applyWrites, signed in, with the approved text');
  const want = await digest(text);
  const pub = await until('the daemon to record the publish report', async () => { const p = (await driver.published()).filter((x) => x.digest === want); return p.length >= 1 && p; });
  assert.deepEqual(pub.map((x) => x.alarm), [false], 'published reported once, matching the approval');
  // The session consumed: signed out on the PDS and in the browser.
  const so = await until('the extension to report signed_out', async () => { const r = (await driver.signedOut()).slice(outBefore); return r.length >= 1 && r; }, { timeout: 30000 });
  assert.deepEqual(so.map((r) => [r.result, r.host]), [['ok', 'bsky.app']], JSON.stringify(so));
  const del = server.log.slice(from).filter(DELETE_SESSION);
  assert.equal(del.length, 1, 'one deleteSession');
  assert.equal(del[0].host, 'pds1.us-east.host.bsky.network', 'sent to the session\'s own PDS');
  assert.equal(server.liveSessions('bluesky'), base, 'the session still lives on the PDS');
  const replay = await server.request('bsky.social', 'POST', '/xrpc/com.atproto.server.refreshSession', { authorization: `Bearer ${tokens.refresh}` });
  assert.equal(replay.status, 401, 'a copied refresh token still works');
  // Not stopped (installer/threat-model.md): an access JWT already issued lives until it expires.
  assert.equal(server.bsky.accessWorks(tokens.access), true);
  for (const p of await bskyPages(browser)) assert.equal(await bskyStored(p), null, 'a session is still stored in an open bsky.app tab');
  const fresh = await openBsky(browser);
  assert.equal(await bskyStored(fresh), null, 'a session is still stored in the browser');
  // Outside a session again: a like is held with its notice.
  server.reset();
  await likeBlocked(fresh, server.log.length);
  await fresh.close();
  const pw = server.accounts.bluesky.password;
  for (const e of server.log.slice(from)) {
    for (const t of [pw, tokens.refresh]) assert.ok(!e.url.includes(t) && !e.url.includes(encodeURIComponent(t)), `a secret in the URL ${e.host}${e.url.slice(0, 40)}`);
  }
  const dump = await ui.evaluate(async () => JSON.stringify(await Promise.all([chrome.storage.local.get(null), chrome.storage.session.get(null)])));
  assert.ok(dump.startsWith('[{'), `the extension's storage was read: ${dump.slice(0, 80)}`);
  for (const t of [pw, tokens.refresh, tokens.access]) assert.ok(!dump.includes(t), 'a Bluesky secret in the extension\'s storage');
  if (keepUi) { await page.close(); return ui; }
  await ui.close();
  await page.screenshot({ path: join(ARTIFACTS, 'firefox-bluesky-custody-signed-out.png') });
  await page.close();
}

// ---- how a posting session ends, and custody on Mastodon, in Firefox ------------------------
// Each with its own daemon and Firefox (withFirefoxEnds): Mastodon's instance comes from the
// policy (mastodon_instances: social.example), expiry needs a short session TTL, and a browser
// closed mid-session is started again on the same profile.

/** SITE_FF: per platform, the fixture's sign-in request, session cookies and a replay of them elsewhere. */
const SITE_FF = {
  x: {
    url: 'https://x.com/home', host: 'x.com', domain: /(^|\.)x\.com$/, session: ['auth_token', 'ct0'],
    compose: '[data-testid=tweetTextarea_0]', post: '[data-testid=tweetButtonInline]', signInPage: '/i/flow/login',
    signIn: (e) => e.method === 'POST' && e.host === 'api.x.com' && e.url === '/1.1/onboarding/task.json',
    fields: (e) => { const m = JSON.parse(e.body); return { username: m.username, password: m.password, code: m.code }; },
    replay: (c) => server.replay('x.com', 'POST', '/i/api/graphql/SoMeQuErYiD_1/CreateTweet', c, { 'x-csrf-token': c.ct0 }, '{"variables":{"tweet_text":"replayed"}}'),
  },
  mastodon: {
    url: 'https://social.example/home', host: 'social.example', domain: /(^|\.)social\.example$/, session: ['_mastodon_session'],
    compose: '.compose-form textarea', post: '.compose-form button[type=submit]', signInPage: '/auth/sign_in',
    signIn: (e) => e.method === 'POST' && e.host === 'social.example' && e.url === '/auth/sign_in',
    fields: (e) => { const f = new URLSearchParams(e.body); return { username: f.get('user[email]'), password: f.get('user[password]'), code: f.get('user[otp_attempt]') }; },
    replay: (c) => server.replay('social.example', 'POST', '/api/v1/statuses', c, {}, '{"status":"replayed"}'),
  },
};

/** siteCookiesFF lists Firefox's cookies for a platform's host (and its subdomains). */
const siteCookiesFF = async (browser, platform) => (await browser.cookies()).filter((c) => SITE_FF[platform].domain.test(c.domain.replace(/^\./, '')));

/**
 * openSite opens the platform's home page and waits for the page gate. Mastodon's instance is
 * known to the extension only from the daemon's policy, so its page is loaded again until the
 * instance's content script runs.
 */
async function openSite(browser, drv, platform) {
  const page = await browser.newPage();
  await until(`the extension's gate on ${SITE_FF[platform].url}`, async () => {
    await page.goto(SITE_FF[platform].url);
    return page.waitForSelector('html[data-foureyes=on]', { timeout: 3000 }).then(() => true, () => false);
  }, { timeout: 30000, every: 200 });
  await until('the extension to connect to the daemon', async () => await drv.connections() >= 1, { timeout: 15000 });
  return page;
}

async function typeOn(page, platform, text) {
  await page.click(SITE_FF[platform].compose);
  await page.keyboard.type(text);
}

const pressOn = (page, platform) => page.click(SITE_FF[platform].post);

/** signInSeenFF reads the user names, passwords and codes the platform's sign-in received since from. */
function signInSeenFF(platform, from) {
  const got = { username: [], password: [], code: [] };
  for (const e of server.log.slice(from).filter(SITE_FF[platform].signIn)) {
    const f = SITE_FF[platform].fields(e);
    for (const k of Object.keys(got)) if (f[k] != null) got[k].push(f[k]);
  }
  return got;
}

/** approveOn is approveInUi for the platform's account (the approval window is returned open). */
async function approveOn(browser, page, drv, platform) {
  const before = new Set(await browser.pages());
  await clickRequestApproval(page);
  const ui = await newPageAt(browser, before, '/ui/approve.html');
  await ui.waitForSelector('#main:not([hidden])', { timeout: 10000 });
  await ui.waitForFunction(() => document.querySelectorAll('#approver option').length > 0 || document.getElementById('msg').textContent !== '', { timeout: 10000 });
  await ui.select('#account', drv.accountFor(platform));
  await ui.select('#approver', drv.approver);
  await ui.type('#code', await drv.code());
  await ui.click('#approve');
  await ui.waitForSelector('#msg.ok, #msg.err', { timeout: 10000 });
  const msg = await ui.$eval('#msg', (e) => e.textContent);
  assert.ok(await ui.$('#msg.ok'), `approval page says: ${msg}`);
  return ui;
}

/**
 * approveAndSignInFF: the Chromium scenarios' approveAndSignIn in Firefox. Before approval the
 * platform holds no new session, the browser no session cookie, and a direct publish does not
 * arrive; after approval one sign-in with the keyring's user name, password and a 6-digit code,
 * one credential_release for the sign-in host, the session cookies in the browser, the sign-in
 * tab closed. Returns what the end of the session is checked against.
 */
async function approveAndSignInFF(browser, page, drv, platform, text) {
  const from = server.log.length;
  const base = server.liveSessions(platform);
  const relFrom = (await drv.released()).length;
  const outFrom = (await drv.signedOut()).length;
  server.reset();
  await typeOn(page, platform, text);
  await pressOn(page, platform);
  assert.equal(await noticeReason(page), 'approval_needed');
  assert.equal(server.liveSessions(platform), base, 'signed in before any approval');
  assert.deepEqual((await siteCookiesFF(browser, platform)).filter((c) => SITE_FF[platform].session.includes(c.name)).map((c) => c.name), [], 'a session cookie before any approval');
  await page.evaluate(() => window.__publishDirect('straight from the page before approval'));
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  // The blocked direct publish puts up its own notice; wait for it, or it can land after the
  // press below and hide the approval notice.
  assert.equal(await waitReason(page, 'platform_unrecognised'), 'platform_unrecognised');
  await pressOn(page, platform); // the notice with "Request approval" again
  assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
  const ui = await approveOn(browser, page, drv, platform);
  await until(() => `the ${platform} fixture to hold a signed-in session (it saw: ${server.log.slice(from).map((e) => `${e.method} ${e.host}${e.url}`).join(', ')})`, () => server.liveSessions(platform) === base + 1, { timeout: 30000 });
  const seen = signInSeenFF(platform, from);
  const acc = server.accounts[platform];
  assert.deepEqual(seen.username, [acc.username], JSON.stringify(seen));
  assert.deepEqual(seen.password, [acc.password], 'the password from the keyring went to the sign-in once');
  assert.equal(seen.code.length, 1);
  assert.match(seen.code[0], /^[0-9]{6}$/);
  const rel = await until('the daemon to record one credential release', async () => { const r = (await drv.released()).slice(relFrom); return r.length >= 1 && r; });
  assert.deepEqual(rel.map((r) => r.host), [SITE_FF[platform].host]);
  const jar = await until('the session cookies in Firefox', async () => {
    const j = Object.fromEntries((await siteCookiesFF(browser, platform)).filter((c) => SITE_FF[platform].session.includes(c.name)).map((c) => [c.name, c.value]));
    return Object.keys(j).length === SITE_FF[platform].session.length && j;
  });
  await until('the sign-in tab to close', async () => {
    for (const p of await browser.pages()) if ((await p.evaluate(() => location.href).catch(() => '')).includes(SITE_FF[platform].signInPage)) return false;
    return true;
  });
  return { from, jar, codes: seen.code, base, ui, outFrom, session: rel[0].session };
}

/** signedOutFF waits for the one signed_out report and checks the server, a replay of the old cookies and Firefox's cookies. */
async function signedOutFF(browser, drv, platform, { jar, base, outFrom, session }) {
  const so = await until('the extension to report signed_out', async () => { const r = (await drv.signedOut()).slice(outFrom); return r.length >= 1 && r; }, { timeout: 30000 });
  assert.equal(so.length, 1, JSON.stringify(so));
  assert.equal(so[0].result, 'ok', JSON.stringify(so));
  assert.equal(so[0].host, SITE_FF[platform].host);
  assert.equal(so[0].session, session, 'the signed_out report is for the session signed in');
  assert.equal(server.liveSessions(platform), base, 'the session still lives on the server');
  assert.equal(await SITE_FF[platform].replay(jar), 401, 'a copied cookie still publishes');
  assert.deepEqual((await siteCookiesFF(browser, platform)).map((c) => c.name), [], `${platform} cookies left in Firefox`);
}

/** codesNowhere: no two-factor code in a URL the fixture saw since from, nor in the extension's storage. */
async function codesNowhere(extPage, codes, from) {
  for (const e of server.log.slice(from)) for (const c of codes) assert.ok(!e.url.includes(c), `a code in the URL ${e.host}${e.url}`);
  const dump = await extensionStorage(extPage);
  for (const c of codes) assert.ok(!dump.includes(c), 'a code in the extension\'s storage');
}

/** custodyPostFF: signed in from the keyring inside the session only, one post, then signed out on the server. */
async function custodyPostFF(browser, drv, platform) {
  const watch = cmdlineWatch();
  try {
    const page = await openSite(browser, drv, platform);
    const text = `Custody post on ${platform}, from Firefox`;
    const s = await approveAndSignInFF(browser, page, drv, platform, text);
    // The copied cookie works while signed in: the replay check after the sign-out can fail.
    assert.equal(await SITE_FF[platform].replay(s.jar), 200);
    server.reset();
    await pressOn(page, platform);
    assert.ok(await received(page, 1), JSON.stringify(server.received));
    assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'one publish, signed in, with the approved text');
    const pub = await until('the daemon to record the publish report', async () => { const p = await drv.published(); return p.length >= 1 && p; });
    assert.deepEqual(pub.map((p) => [p.digest, p.alarm]), [[await digest(text), false]]);
    await signedOutFF(browser, drv, platform, s);
    assert.ok(await received(page, 1), 'a second request after the sign-out');
    await secretsNowhere(s.ui, drv, [server.accounts[platform].password], s.from, watch.stop());
    await codesNowhere(s.ui, s.codes, s.from);
    assert.equal(await drv.releaseRefused(), 0);
    await page.screenshot({ path: join(ARTIFACTS, `firefox-${platform}-custody-signed-out.png`) });
    return s.ui;
  } finally {
    watch.stop();
  }
}

/** changeSeenMastodon reads the change-password requests the instance received since from: [{current, next, confirm}]. */
function changeSeenMastodon(from) {
  return server.log.slice(from).filter((e) => e.method === 'POST' && e.host === 'social.example' && e.url === '/auth').map((e) => {
    const f = new URLSearchParams(e.body);
    return { current: f.get('user[current_password]'), next: f.get('user[password]'), confirm: f.get('user[password_confirmation]') };
  });
}

/**
 * rotationMastodonFF: `foureyes account rotate` on Mastodon in Firefox. The extension signs in,
 * fills the instance's /auth/edit form; with fail, the instance refuses the current password.
 * Success: the instance's and the keyring's password are the daemon's new one, the old one is
 * refused. Failure: rotation_failed with the instance's words, both keep the old one, which
 * still signs in. Either way no pending password is left, and the next approved post signs in
 * with the keyring's password (custodyPostFF checks it against the instance's).
 */
async function rotationMastodonFF(browser, drv, fail) {
  const watch = cmdlineWatch();
  try {
    await openSite(browser, drv, 'mastodon');
    const from = server.log.length;
    const old = server.accounts.mastodon.password;
    const home = drv.env.FOUREYES_HOME;
    const key = `account/${drv.accountFor('mastodon')}/password`;
    assert.equal(keyringSecret(home, key), old, 'the keyring holds the account\'s password before the rotation');
    const base = server.liveSessions('mastodon');
    if (fail) server.failRotation.mastodon = 'current';
    await quiet();
    const { rot, so } = await rotateFF(drv, drv.accountFor('mastodon'));
    const change = changeSeenMastodon(from);
    assert.equal(change.length, 1, 'one change-password request');
    assert.equal(change[0].current, old);
    assert.equal(change[0].confirm, change[0].next);
    const next = change[0].next;
    assert.ok(next.length >= 20, 'a generated password');
    if (fail) {
      assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
      assert.match(String(rot[0].error), /refused the change: The password you entered was incorrect/);
      assert.equal(server.accounts.mastodon.password, old, 'the instance\'s password changed');
      assert.equal(keyringSecret(home, key), old, 'the keyring lost the password that works');
      assert.equal(await server.signInWorks('mastodon', old), true, 'the old password no longer signs in');
    } else {
      assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
      assert.equal(server.accounts.mastodon.password, next, 'the instance\'s password is the one the form sent');
      assert.equal(keyringSecret(home, key), next, 'the keyring holds the new password');
      assert.equal(await server.signInWorks('mastodon', old), false, 'the old password still signs in');
      assert.equal(await server.signInWorks('mastodon', next), true, 'the new password does not sign in');
    }
    assert.equal(keyringSecret(home, `${key}-next`), null, 'a pending password is left in the keyring');
    assert.equal(so.result, 'ok', JSON.stringify(so));
    assert.equal(server.liveSessions('mastodon'), base, 'signed in on the instance after the rotation');
    assert.deepEqual((await siteCookiesFF(browser, 'mastodon')).map((c) => c.name), [], 'social.example cookies left after the rotation');
    server.failRotation.mastodon = null;
    const ui = await custodyPostFF(browser, drv, 'mastodon');
    await secretsNowhere(ui, drv, [old, next], from, watch.stop());
  } finally {
    watch.stop();
  }
}

/** endedUnusedFF: signed in for an approved post, then the session ends by `end` before Post: signed out, nothing published. */
async function endedUnusedFF(browser, drv, platform, end, reasons) {
  const page = await openSite(browser, drv, platform);
  const s = await approveAndSignInFF(browser, page, drv, platform, 'Never posted: the session ends first');
  await end(drv);
  await signedOutFF(browser, drv, platform, s);
  await pressOn(page, platform);
  const r = await waitReason(page, reasons);
  assert.ok(reasons.includes(r), r);
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  assert.deepEqual(await drv.published(), [], 'published at the daemon');
  await codesNowhere(s.ui, s.codes, s.from);
}

/**
 * closedMidSessionFF: Firefox is closed while signed in for an approved session. The session
 * still lives on the server then; Firefox started again on the same profile signs out. Over
 * WebDriver BiDi the add-on is a temporary one, installed again at each start; its storage (the
 * sessions to sign out, kept under its fixed add-on ID) survives, as an installed add-on's does.
 */
async function closedMidSessionFF(dirs, drv) {
  let b = await launchFirefox(dirs, drv);
  let s;
  try {
    const page = await openSite(b, drv, 'x');
    s = await approveAndSignInFF(b, page, drv, 'x', 'Never posted: Firefox closes');
  } finally {
    await b.close().catch(() => {});
  }
  assert.equal(server.liveSessions('x'), s.base + 1, 'closing Firefox alone leaves the session alive on the server');
  assert.deepEqual((await drv.signedOut()).slice(s.outFrom), [], 'signed out before Firefox started again');
  b = await launchFirefox(dirs, drv);
  try {
    await signedOutFF(b, drv, 'x', s);
  } finally {
    await b.close().catch(() => {});
  }
}

/** withFirefoxEnds runs fn(dirs, driver) against a fresh daemon with policy and sessionTtl; fn starts Firefox. */
async function withFirefoxEnds({ policy = {}, sessionTtl = null }, fn) {
  const d = tempDirs('foureyes-ff-end-');
  const drv = realDriver(BIN, { firefoxId: ADDON_ID });
  drv.policy = policy;
  if (sessionTtl) drv.sessionTtl = sessionTtl;
  try {
    await drv.setup(d);
    return await fn(d, drv);
  } finally {
    await drv.teardown().catch(() => {});
    server.restoreAccounts();
    rmSync(d.base, { recursive: true, force: true });
  }
}

/** inFirefox starts Firefox on dirs for fn(browser) and closes it after. */
async function inFirefox(dirs, drv, fn) {
  const b = await launchFirefox(dirs, drv);
  try { return await fn(b); } finally { await b.close().catch(() => {}); }
}

// How a session ends, in Firefox: [name, {policy, sessionTtl}, fn(dirs, driver)].
const ENDS = [
  ['firefox: [real] mastodon: rotation: the daemon\'s new password replaces the old one on the instance and in the keyring; the old one is refused, the next sign-in uses the new one; no password in audit, log, storage, URL or command line',
    {}, (d, drv) => inFirefox(d, drv, (b) => rotationMastodonFF(b, drv, false))],
  ['firefox: [real] mastodon: rotation: the instance refuses the current password -> rotation_failed, the old password stays on the instance and in the keyring and still signs in',
    {}, (d, drv) => inFirefox(d, drv, (b) => rotationMastodonFF(b, drv, true))],
  ['firefox: [real] mastodon: custody: signed in from the keyring inside the session only, one post, then signed out on the server (replay 401, no cookie); no password in audit, log, storage, URL or command line',
    {}, (d, drv) => inFirefox(d, drv, (b) => custodyPostFF(b, drv, 'mastodon'))],
  ['firefox: [real] x: custody: "Lock now" while signed in -> signed out on the server, nothing published',
    {}, (d, drv) => inFirefox(d, drv, (b) => endedUnusedFF(b, drv, 'x', (x) => x.lock(), ['approval_needed', 'locked']))],
  ['firefox: [real] x: custody: session expired while signed in -> signed out on the server, nothing published',
    { sessionTtl: 30 }, (d, drv) => inFirefox(d, drv, (b) => endedUnusedFF(b, drv, 'x', async (x) => assert.ok(await x.expire(), 'the session did not expire'), ['approval_needed', 'expired']))],
  ['firefox: [real] x: custody: Firefox closed while signed in -> signed out on the server at the next start',
    {}, closedMidSessionFF],
];

// ---- custody one_time in Firefox: a new password after every posting session -----------------
// The Chromium scenarios "custody one_time" of run.mjs in Firefox ESR, each with its own daemon
// (its policy sets one_time) and Firefox. X sets it for its account, Mastodon at the top level.
const ONE_TIME_POLICY_FF = {
  x: { accounts: { 'x:@ministry': { custody: 'one_time' } } },
  mastodon: { custody: 'one_time' },
};

/** changeSeenFF reads the change-password requests the platform received since from: [{current, next, confirm}]. */
const changeSeenFF = (platform, from) => (platform === 'x' ? changeSeenX(from) : changeSeenMastodon(from));

/** noChangeTab says whether no tab is left at the platform's change-password page. */
async function noChangeTab(browser) {
  for (const p of await browser.pages()) {
    if (/x\.com\/settings\/password|social\.example\/auth\/edit/.test(await p.evaluate(() => location.href).catch(() => ''))) return false;
  }
  return true;
}

/**
 * afterSessionFF waits for the daemon's record of the password change after session sid, and
 * checks its one rotation_release: after the session, for the platform's host.
 */
async function afterSessionFF(drv, sid, platform) {
  const rot = await until(`the daemon to record the password change after session ${sid}`, async () => {
    const r = (await drv.rotations()).filter((x) => x.session === sid && x.event !== 'rotation_release');
    if (r.length) return r;
    // No change coming: the extension signed out without one (say it thought the account strict).
    const skipped = (await drv.events('rotation_skipped')).filter((f) => f.session_id === sid);
    if (skipped.length) throw new Error(`the daemon recorded rotation_skipped after session ${sid}: ${JSON.stringify(skipped)}`);
    return null;
  }, { timeout: 60000 });
  const rel = (await drv.events('rotation_release')).filter((f) => f.session_id === sid);
  assert.deepEqual(rel.map((f) => [f.reason, f.host]), [['after_session', SITE_FF[platform].host]], 'one release, after the session, for the platform\'s host');
  return rot;
}

/**
 * oneTimePostFF: approved, signed in from the keyring, one post with the approved text; returns
 * the session's sign-in facts (approveAndSignInFF) and its publish report.
 */
async function oneTimePostFF(browser, page, drv, platform, text, beforePost = () => {}) {
  const n = (await drv.published()).length;
  const s = await approveAndSignInFF(browser, page, drv, platform, text);
  assert.equal(await SITE_FF[platform].replay(s.jar), 200, 'the copied cookie works while signed in');
  beforePost();
  server.reset();
  await pressOn(page, platform);
  assert.ok(await received(page, 1), JSON.stringify(server.received));
  assert.deepEqual(server.received.map((r) => [r.text, r.status]), [[text, 200]], 'one publish, signed in, with the approved text');
  const pub = (await publishedAt(drv, n + 1)).slice(n);
  assert.deepEqual(pub.map((p) => [p.digest, p.session, p.alarm]), [[await digest(text), s.session, false]]);
  return s;
}

/**
 * oneTimeFF: custody one_time in Firefox. One approved post; after it the extension changes the
 * password on the platform's own form to the daemon's new one: the server's and the keyring's
 * password are the new one (no pending one left), the old one is refused at sign-in, then the
 * browser is signed out (dead on the server, the copied cookie gets 401, no cookie in Firefox)
 * and the change-password tab is closed. The next session signs in with the new password and
 * changes it again.
 */
async function oneTimeFF(browser, drv, platform) {
  const watch = cmdlineWatch();
  try {
    const page = await openSite(browser, drv, platform);
    const old = server.accounts[platform].password;
    const home = drv.env.FOUREYES_HOME;
    const key = `account/${drv.accountFor(platform)}/password`;
    assert.equal(keyringSecret(home, key), old, 'the keyring holds the account\'s password before the session');
    const s = await oneTimePostFF(browser, page, drv, platform, `One-time custody post on ${platform}, from Firefox`);
    const rot = await afterSessionFF(drv, s.session, platform);
    assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
    const change = changeSeenFF(platform, s.from);
    assert.equal(change.length, 1, 'one change-password request');
    assert.equal(change[0].current, old);
    assert.equal(change[0].confirm, change[0].next);
    const next = server.accounts[platform].password;
    assert.equal(next, change[0].next, 'the server\'s password is the one the form sent');
    assert.notEqual(next, old);
    assert.ok(next.length >= 20, 'a generated password');
    assert.equal(keyringSecret(home, key), next, 'the keyring holds the new password');
    assert.equal(keyringSecret(home, `${key}-next`), null, 'a pending password is left in the keyring');
    assert.equal(await server.signInWorks(platform, old), false, 'the old password still signs in');
    assert.equal(await server.signInWorks(platform, next), true, 'the new password does not sign in');
    // Then signed out as strict custody does: dead on the server, the copied cookie refused.
    await signedOutFF(browser, drv, platform, s);
    assert.ok(await until('the change-password tab to close', () => noChangeTab(browser)), 'the change-password tab is still open');
    assert.deepEqual(await drv.events('rotation_skipped'), []);
    if (platform === 'mastodon') {
      const loaded = await drv.events('policy_loaded');
      assert.match(JSON.stringify(loaded.at(-1).custody_held_strict), /custody one_time does not apply on Bluesky.*bluesky:@ministry\.bsky\.social/, JSON.stringify(loaded));
    }
    await page.screenshot({ path: join(ARTIFACTS, `firefox-${platform}-one-time-rotated.png`) });
    // The next session signs in with the keyring's new password (approveAndSignInFF checks the
    // sign-in sent the server's current one) and changes it again.
    await page.close();
    const page2 = await openSite(browser, drv, platform);
    const s2 = await oneTimePostFF(browser, page2, drv, platform, `Second one-time custody post on ${platform}, from Firefox`);
    assert.deepEqual(signInSeenFF(platform, s2.from).password, [next], 'the next sign-in used the new password');
    const rot2 = await afterSessionFF(drv, s2.session, platform);
    assert.deepEqual(rot2.map((r) => r.event), ['password_rotated'], JSON.stringify(rot2));
    const third = server.accounts[platform].password;
    assert.ok(third !== next && third !== old, 'the second session did not change the password');
    assert.equal(keyringSecret(home, key), third, 'the keyring holds the second new password');
    await signedOutFF(browser, drv, platform, s2);
    assert.ok(await until('the change-password tab to close', () => noChangeTab(browser)), 'the change-password tab is still open');
    await secretsNowhere(s2.ui, drv, [old, next, third], s.from, watch.stop());
    await codesNowhere(s2.ui, [...s.codes, ...s2.codes], s.from);
    assert.equal(await drv.releaseRefused(), 0);
  } finally {
    watch.stop();
  }
}

/**
 * oneTimeFailsFF: custody one_time, and the platform fails the change after the session (step,
 * see lib/server.mjs): rotation_failed (high, reason after_session) with why, the server's and
 * the keyring's password stay the old one (no pending one left), which still signs in, and the
 * browser is still signed out.
 */
async function oneTimeFailsFF(browser, drv, platform, step, why) {
  const watch = cmdlineWatch();
  try {
    const page = await openSite(browser, drv, platform);
    const old = server.accounts[platform].password;
    const home = drv.env.FOUREYES_HOME;
    const key = `account/${drv.accountFor(platform)}/password`;
    const s = await oneTimePostFF(browser, page, drv, platform, `One-time custody post on ${platform}, change refused, from Firefox`,
      () => { server.failRotation[platform] = step; });
    const rot = await afterSessionFF(drv, s.session, platform);
    assert.deepEqual(rot.map((r) => r.event), ['rotation_failed'], JSON.stringify(rot));
    assert.match(String(rot[0].error), why);
    const failedLine = (await drv.audit()).find((e) => e.event === 'rotation_failed');
    assert.equal(failedLine.severity, 'high');
    assert.equal(failedLine.fields.reason, 'after_session');
    const change = changeSeenFF(platform, s.from);
    assert.equal(change.length, 1, 'one change-password request');
    assert.equal(server.accounts[platform].password, old, 'the server\'s password changed');
    assert.equal(keyringSecret(home, key), old, 'the keyring lost the password that works');
    assert.equal(keyringSecret(home, `${key}-next`), null, 'the refused password is left in the keyring');
    assert.equal(await server.signInWorks(platform, old), true, 'the old password no longer signs in');
    await signedOutFF(browser, drv, platform, s);
    assert.ok(await until('the change-password tab to close', () => noChangeTab(browser)), 'the change-password tab is still open');
    assert.deepEqual(await drv.events('rotation_skipped'), [], 'a failed change is rotation_failed, not skipped');
    await secretsNowhere(s.ui, drv, [old, change[0].next], s.from, watch.stop());
  } finally {
    watch.stop();
  }
}

/**
 * oneTimeEndedFF: custody one_time, signed in for an approved post, then the session ends by
 * `end` (*Lock now*, expiry) before Post: it ended unused, and the password still changes after
 * it (the one_time change follows every session that signed the browser in), then the browser
 * is signed out; Post then sends nothing (a notice of `reasons`) and nothing is published.
 */
async function oneTimeEndedFF(browser, drv, platform, end, reasons) {
  const watch = cmdlineWatch();
  try {
    const page = await openSite(browser, drv, platform);
    const old = server.accounts[platform].password;
    const home = drv.env.FOUREYES_HOME;
    const key = `account/${drv.accountFor(platform)}/password`;
    const s = await approveAndSignInFF(browser, page, drv, platform, 'Never posted: the session ends first');
    await end(drv);
    const rot = await afterSessionFF(drv, s.session, platform);
    assert.deepEqual(rot.map((r) => r.event), ['password_rotated'], JSON.stringify(rot));
    const change = changeSeenFF(platform, s.from);
    assert.equal(change.length, 1, 'one change-password request');
    assert.equal(change[0].current, old);
    const next = server.accounts[platform].password;
    assert.equal(next, change[0].next, 'the server\'s password is the one the form sent');
    assert.notEqual(next, old);
    assert.equal(keyringSecret(home, key), next, 'the keyring holds the new password');
    assert.equal(keyringSecret(home, `${key}-next`), null, 'a pending password is left in the keyring');
    assert.equal(await server.signInWorks(platform, old), false, 'the old password still signs in');
    await signedOutFF(browser, drv, platform, s);
    assert.ok(await until('the change-password tab to close', () => noChangeTab(browser)), 'the change-password tab is still open');
    server.reset();
    await pressOn(page, platform);
    const r = await waitReasons(page, reasons);
    assert.ok(reasons.includes(r), r);
    assert.ok(await received(page, 0), JSON.stringify(server.received));
    assert.deepEqual(await drv.published(), [], 'published at the daemon');
    await secretsNowhere(s.ui, drv, [old, next], s.from, watch.stop());
  } finally {
    watch.stop();
  }
}

// custody one_time: [name, {policy, sessionTtl}, fn(browser, driver)], each with a fresh daemon and Firefox.
const ONE_TIME = [
  ...['x', 'mastodon'].map((platform) => [
    `firefox: [real] ${platform}: custody one_time: approve, sign in, post once; then the password changes on the platform to the daemon's new one (the old one is refused, the keyring has the new one), the session is dead on the server and no cookie is left; the next session changes it again`,
    { policy: ONE_TIME_POLICY_FF[platform] }, (b, d) => oneTimeFF(b, d, platform)]),
  ...[['x', 'current', /refused the change: The password you entered was incorrect/], ['mastodon', 'server', /confirms nothing/]].map(([platform, step, why]) => [
    `firefox: [real] ${platform}: custody one_time: the platform fails the change after the session (${step}) -> rotation_failed (high), the old password stays on the platform and in the keyring and still signs in, and the browser is still signed out`,
    { policy: ONE_TIME_POLICY_FF[platform] }, (b, d) => oneTimeFailsFF(b, d, platform, step, why)]),
  ['firefox: [real] x: custody one_time: "Lock now" while signed in -> the password still changes after the session, then signed out, nothing published',
    { policy: ONE_TIME_POLICY_FF.x }, (b, d) => oneTimeEndedFF(b, d, 'x', (x) => x.lock(), ['approval_needed', 'locked'])],
  ['firefox: [real] mastodon: custody one_time: session expired while signed in -> the password still changes after the session, then signed out, nothing published',
    { policy: ONE_TIME_POLICY_FF.mastodon, sessionTtl: 30 }, (b, d) => oneTimeEndedFF(b, d, 'mastodon', async (x) => assert.ok(await x.expire(), 'the session did not expire'), ['approval_needed', 'expired'])],
];

// ---- the whole post on X and Mastodon: reply, quote and repost targets, Mastodon's image -------
// The Chromium scenarios of run.mjs ("the whole post: attachments, reply, quote and repost
// targets") in Firefox ESR, each with its own daemon and Firefox: an approval left unused by a
// blocked post does not carry into the next scenario.

const SITE_HOME = { x: 'https://x.com/home', mastodon: 'https://social.example/home' };
const PREVIEW_SEL = { x: '[data-testid=attachmentPreview]', mastodon: '.compose-form__upload' };

/** openSiteWhole opens the platform's fixture and waits for the page gate and the daemon connection. */
async function openSiteWhole(browser, drv, platform) {
  const page = await browser.newPage();
  await page.goto(SITE_HOME[platform]);
  await page.waitForSelector('html[data-foureyes=on]', { timeout: 15000 });
  await until('the extension to connect to the daemon', async () => await drv.connections() >= 1, { timeout: 15000 });
  return page;
}

/** typeOnWhole types into the platform's main composer with real key events. */
async function typeOnWhole(page, platform, text) {
  await page.click(platform === 'x' ? '[data-testid=tweetTextarea_0]' : '.compose-form textarea');
  await page.keyboard.type(text);
}

const pressOnWhole = (page, platform) => page.click(platform === 'x' ? '[data-testid=tweetButtonInline]' : '.compose-form button[type=submit]');

/** waitReasons waits until the notice gives one of the wanted reasons; returns the last one seen. */
async function waitReasons(page, wanted, timeout = 10000) {
  await page.waitForFunction((w) => w.includes(document.querySelector('foureyes-notice')?.dataset.reason), { timeout }, wanted).catch(() => {});
  return reasonOf(page);
}

/**
 * attachOn attaches a file in the platform's composer (scope: the composer's dialog, when it is
 * one): 'picker' through the file input (a file on disk, as a person picks it), 'drop' or 'paste'
 * as synthetic events carrying the file. Waits for the page's preview.
 */
async function attachOn(page, platform, bytes, name, how = 'picker', scope = null) {
  const root = scope ? `${scope} ` : (platform === 'x' ? '[data-testid=primaryColumn] ' : '');
  const preview = root + PREVIEW_SEL[platform];
  const before = await page.$$eval(preview, (l) => l.length);
  if (how === 'picker') {
    const file = join(dirs.base, name);
    writeFileSync(file, bytes, { mode: 0o600 });
    const input = await page.$(root + (platform === 'x' ? '[data-testid=fileInput]' : '.compose-form__file'));
    await input.uploadFile(file);
  } else {
    const sel = root + (platform === 'x' ? '[data-testid=tweetTextarea_0]' : '.compose-form textarea');
    await page.evaluate((s, data, n, h) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], n, { type: 'image/png' }));
      const el = document.querySelector(s);
      if (h === 'drop') el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      else el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, sel, [...bytes], name, how);
  }
  await page.waitForFunction((s, n) => document.querySelectorAll(s).length > n, { timeout: 10000 }, preview, before);
}

/** openApprovalFF presses "Request approval" and returns the approval window, filled in. */
async function openApprovalFF(browser, page) {
  const before = new Set(await browser.pages());
  await clickRequestApproval(page);
  const ui = await newPageAt(browser, before, '/ui/approve.html');
  await ui.waitForSelector('#main:not([hidden])', { timeout: 10000 });
  await ui.waitForFunction(() => document.querySelectorAll('#approver option').length > 0 || document.getElementById('msg').textContent !== '', { timeout: 10000 });
  return ui;
}

/** approveOpenFF approves in an open approval window with a fresh code. */
async function approveOpenFF(ui, drv, platform) {
  await ui.select('#account', drv.accountFor(platform));
  await ui.select('#approver', drv.approver);
  await ui.type('#code', await drv.code());
  await ui.click('#approve');
  await ui.waitForSelector('#msg.ok, #msg.err', { timeout: 10000 });
  assert.ok(await ui.$('#msg.ok'), `approval page says: ${await ui.$eval('#msg', (e) => e.textContent)}`);
}

const textOf = (page, sel) => page.$eval(sel, (e) => e.textContent);
const labelOf = (page) => page.$eval('foureyes-notice', (e) => e.getAttribute('aria-label'));

/** noPublishSeen: no publishing request in the fixture's full request log either. */
function noPublishSeen(platform) {
  const re = platform === 'x' ? /\/(CreateTweet|CreateRetweet)/ : /^\/api\/v1\/statuses/;
  const hits = server.log.filter((l) => l.method !== 'GET' && re.test(l.url.split('?')[0]));
  assert.deepEqual(hits, [], 'a publishing request reached the server');
}

const blockedAt = (drv, reason) => until(`the daemon to record a ${reason} block`, async () => (await drv.blocked()).some((b) => b.reason === reason));
const publishedAt = (drv, n = 1) => until(`${n} publish report(s) at the daemon`, async () => { const p = await drv.published(); return p.length >= n && p; });

/** replyXFF writes text with an image (pasted) and its alt text as a reply to post id on X, and sends it. */
async function replyXFF(page, id, text) {
  await page.click(`article[data-id="${id}"] [data-testid=reply]`);
  await page.click('[role=dialog] [data-testid=tweetTextarea_0]');
  await page.keyboard.type(text);
  // Dropped: Firefox's ClipboardEvent constructor copies no file from the clipboardData it is
  // given, so a synthetic paste carries none there (a person's paste does).
  await attachOn(page, 'x', png(3), 'calendar.png', 'drop', '[role=dialog]');
  await page.click('[role=dialog] [data-testid=altText]');
  await page.keyboard.type('School calendar 2027');
  await page.click('[role=dialog] [data-testid=tweetButton]');
}

/** replyTargetXFF: the approved reply (with a file and alt text) sent as a reply to another post is held. */
async function replyTargetXFF(browser, drv) {
  const page = await openSiteWhole(browser, drv, 'x');
  server.reset(); server.log.length = 0;
  const text = 'School starts on 4 August. Details: https://www.bund.de/schule and xn--80ak6aa92e.com/info';
  await replyXFF(page, '1111111111', text);
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApprovalFF(browser, page);
  assert.equal(await textOf(ui, '#target-h'), 'In reply to');
  assert.match(await textOf(ui, '#target'), /@citizen_anna[\s\S]*school year[\s\S]*https:\/\/x\.com\/i\/status\/1111111111/);
  assert.match(await textOf(ui, '#media'), /calendar\.png[\s\S]*Alt text: School calendar 2027/);
  assert.equal((await ui.$$('#links li')).length, 2);
  assert.equal((await ui.$$('#links li.warn')).length, 1, 'only the punycode link is flagged');
  await ui.screenshot({ path: join(ARTIFACTS, 'firefox-x-approval-whole-post.png') });
  await approveOpenFF(ui, drv, 'x');
  await ui.close();
  await waitReasons(page, ['approved', 'signed_in']);
  // Same text and image, as a reply to another post.
  await page.click('[role=dialog] [data-testid=closeDialog]');
  await replyXFF(page, '2222222222', text);
  assert.equal(await waitReasons(page, ['reply_target_changed']), 'reply_target_changed');
  assert.match(await labelOf(page), /reply answers a different post/);
  await page.screenshot({ path: join(ARTIFACTS, 'firefox-x-reply-target-changed.png') });
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishSeen('x');
  await blockedAt(drv, 'manifest_mismatch');
}

/** replyTargetMastodonFF: the approved reply sent as a reply to another status is held. */
async function replyTargetMastodonFF(browser, drv) {
  const page = await openSiteWhole(browser, drv, 'mastodon');
  server.reset(); server.log.length = 0;
  await page.click('.status[data-id="1101"] .reply-btn');
  await typeOnWhole(page, 'mastodon', '@citizen Yes, from 11 to 5.');
  await pressOnWhole(page, 'mastodon');
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApprovalFF(browser, page);
  assert.match(await textOf(ui, '#target'), /@citizen@social\.example[\s\S]*library[\s\S]*https:\/\/social\.example\/statuses\/1101/);
  await approveOpenFF(ui, drv, 'mastodon');
  await ui.close();
  await waitReasons(page, ['approved', 'signed_in']);
  await page.click('.status[data-id="1102"] .reply-btn');
  await pressOnWhole(page, 'mastodon');
  assert.equal(await waitReasons(page, ['reply_target_changed']), 'reply_target_changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishSeen('mastodon');
  await blockedAt(drv, 'manifest_mismatch');
}

/** quoteTargetXFF: the approved quote quoting another post is held. */
async function quoteTargetXFF(browser, drv) {
  const page = await openSiteWhole(browser, drv, 'x');
  server.reset(); server.log.length = 0;
  const quote = async (id) => {
    await page.click(`article[data-id="${id}"] [data-testid=quote]`);
    await page.click('[role=dialog] [data-testid=tweetTextarea_0]');
    await page.keyboard.type('Worth reading.');
    await page.click('[role=dialog] [data-testid=tweetButton]');
  };
  await quote('1111111111');
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApprovalFF(browser, page);
  assert.equal(await textOf(ui, '#action'), 'Quote post');
  assert.equal(await textOf(ui, '#target-h'), 'Quoting');
  assert.match(await textOf(ui, '#target-url'), /^https:\/\/x\.com\/i\/status\/1111111111$/);
  await approveOpenFF(ui, drv, 'x');
  await ui.close();
  await waitReasons(page, ['approved', 'signed_in']);
  await page.click('[role=dialog] [data-testid=closeDialog]');
  await quote('2222222222');
  assert.equal(await waitReasons(page, ['quote_target_changed']), 'quote_target_changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishSeen('x');
  await blockedAt(drv, 'manifest_mismatch');
}

/** repostTargetFF: a repost of another post than the approved one is held; the approved one then goes out once. */
async function repostTargetFF(browser, drv, platform) {
  const page = await openSiteWhole(browser, drv, platform);
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
  const ui = await openApprovalFF(browser, page);
  assert.equal(await textOf(ui, '#action'), 'Repost');
  const addr = platform === 'x' ? `https://x.com/i/status/${ids[0]}` : `https://social.example/statuses/${ids[0]}`;
  assert.equal(await textOf(ui, '#target-url'), addr);
  await approveOpenFF(ui, drv, platform);
  await ui.close();
  await waitReasons(page, ['approved', 'signed_in']);
  await repost(ids[1]);
  assert.equal(await waitReasons(page, ['repost_target_changed']), 'repost_target_changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  noPublishSeen(platform);
  await repost(ids[0]);
  assert.ok(await received(page, 1), `want one request, got ${JSON.stringify(server.received)}; notice ${await reasonOf(page)}`);
  assert.equal(server.received[0].target, ids[0]);
  const pub = await publishedAt(drv);
  assert.equal(pub.length, 1, JSON.stringify(pub));
  assert.equal(pub[0].alarm, false, JSON.stringify(pub));
  await repost(ids[0]);
  assert.ok(await received(page, 1), 'once only');
}

/** imageMastodonFF: the approved image (file picker) goes out once and the server stored exactly its bytes. */
async function imageMastodonFF(browser, drv) {
  const page = await openSiteWhole(browser, drv, 'mastodon');
  server.reset();
  const img = png(2);
  const text = 'Our new poster for the open day (mastodon, from Firefox)';
  await typeOnWhole(page, 'mastodon', text);
  await attachOn(page, 'mastodon', img, 'poster.png', 'picker');
  await pressOnWhole(page, 'mastodon');
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApprovalFF(browser, page);
  // The approver sees the file: its picture, name and size.
  assert.equal((await ui.$$('#media li img')).length, 1);
  assert.match(await textOf(ui, '#media'), /poster\.png[\s\S]*bytes|poster\.png[\s\S]*kB/);
  await approveOpenFF(ui, drv, 'mastodon');
  await ui.close();
  await waitReasons(page, ['approved', 'signed_in']);
  await pressOnWhole(page, 'mastodon');
  assert.ok(await received(page, 1), `want one request, got ${JSON.stringify(server.received)}; notice ${await reasonOf(page)}`);
  assert.deepEqual(server.received[0].mediaSha, [sha256hex(img)], 'the server stored the approved bytes');
  const pub = await publishedAt(drv);
  const want = await manifestDigest({ account: drv.accountFor('mastodon'), action: 'post', text, media: [{ sha256: sha256hex(img), size: img.length, type: 'image/png', alt: '' }] });
  assert.equal(pub[0].manifestDigest, want, 'published reports the approved manifest');
  assert.equal(pub[0].alarm, false);
  await pressOnWhole(page, 'mastodon');
  assert.ok(await received(page, 1), 'once only');
}

/**
 * imageReplyBskyFF: on Bluesky in Firefox, a reply with an image picked with the file input: the
 * approval window shows the file and the answered post; answering another post is held
 * (reply_target_changed), nothing reaches the PDS; the approved reply goes out once, signed in by
 * custody: one uploadBlob of exactly the file's bytes, one applyWrites naming that CID and the
 * approved post's at:// address; published with the approved manifest digest, no alarm.
 */
async function imageReplyBskyFF(browser, drv) {
  const page = await openBsky(browser);
  await until('the extension to connect to the daemon', async () => await drv.connections() >= 1, { timeout: 15000 });
  server.reset();
  const base = server.liveSessions('bluesky');
  const img = png(6);
  const text = 'Thanks, here is the timetable (from Firefox)';
  await page.evaluate(() => window.__compose('reply', '3kother'));
  await typeBsky(page, text);
  const file = join(dirs.base, 'timetable.png');
  writeFileSync(file, img, { mode: 0o600 });
  await (await page.$('[data-testid=composerFileInput]')).uploadFile(file);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=composerImage]').length === 1, { timeout: 10000 });
  await pressBsky(page);
  assert.equal(await noticeReason(page), 'approval_needed');
  const ui = await openApprovalFF(browser, page);
  assert.equal((await ui.$$('#media li img')).length, 1);
  assert.match(await textOf(ui, '#media'), /timetable\.png/);
  assert.equal(await textOf(ui, '#target-url'), 'https://bsky.app/post/3kother');
  await approveOpenFF(ui, drv, 'bluesky');
  const target = await textOf(ui, '#target');
  await ui.close();
  assert.match(target, /@other\.bsky\.social/);
  await until('the Bluesky PDS to hold a signed-in session', () => server.liveSessions('bluesky') === base + 1, { timeout: 30000 });
  await until('the session to be stored in the staff member\'s tab', () => bskyStored(page), { timeout: 15000 });
  await until('the sign-in tab to close', async () => (await bskyPages(browser)).length === 1, { timeout: 15000 });
  server.reset();
  const from = server.log.length;
  await page.evaluate(() => window.__compose('reply', '3kanother'));
  await pressBsky(page);
  assert.equal(await waitReasons(page, ['reply_target_changed']), 'reply_target_changed');
  assert.ok(await received(page, 0), JSON.stringify(server.received));
  assert.deepEqual(server.log.slice(from).filter((e) => PDS_HOSTS.has(e.host) && e.url.startsWith('/xrpc/com.atproto.repo.')).map((e) => e.url), [], 'a write reached the PDS');
  await page.evaluate(() => window.__compose('reply', '3kother'));
  const blobsFrom = server.bsky.blobs.length;
  await pressBsky(page);
  assert.ok(await received(page, 1), `want one request, got ${JSON.stringify(server.received)}; notice ${await reasonOf(page)}`);
  const r = server.received[0];
  const blobs = server.bsky.blobs.slice(blobsFrom);
  assert.deepEqual(blobs.map((b) => [b.sha256, b.size]), [[sha256hex(img), img.length]], 'one upload, of exactly the approved bytes');
  assert.deepEqual([r.status, r.media, r.mediaSha, r.target], [200, [blobs[0].cid], [sha256hex(img)], 'at://did:plc:other/app.bsky.feed.post/3kother']);
  const pub = await publishedAt(drv);
  assert.equal(pub[0].alarm, false, JSON.stringify(pub));
}

// The whole post, each with its own daemon and Firefox: [name, fn(browser, driver)].
const WHOLE_OWN = [
  ['firefox: [real] x: an approved reply sent as a reply to another post -> blocked with the notice, nothing reaches the server',
    replyTargetXFF],
  ['firefox: [real] mastodon: an approved reply sent as a reply to another status -> blocked, nothing reaches the server',
    replyTargetMastodonFF],
  ['firefox: [real] x: an approved quote quoting another post -> blocked, nothing reaches the server',
    quoteTargetXFF],
  ['firefox: [real] x: a repost of another post than the approved one -> blocked; the approved one goes out once',
    (b, d) => repostTargetFF(b, d, 'x')],
  ['firefox: [real] mastodon: a repost of another post than the approved one -> blocked; the approved one goes out once',
    (b, d) => repostTargetFF(b, d, 'mastodon')],
  ['firefox: [real] mastodon: the approved image goes out once, and the server saw exactly its bytes',
    imageMastodonFF],
  ['firefox: [real] bluesky: an approved reply with an image, sent as a reply to another post -> blocked, nothing reaches the PDS; the approved one goes out once: uploadBlob gets exactly the image\'s bytes, applyWrites names its CID and the approved post',
    imageReplyBskyFF],
];

// ---- run --------------------------------------------------------------------------------------
let passed = 0, failed = 0, skipped = 0;
// --only SUBSTRING runs the scenarios whose name contains it (the others are not counted).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
async function runOne(name, fn) {
  if (only && !name.includes(only)) return;
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(e && e.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

const APPROVE = 'firefox: [real] approve with a code -> exactly one request with the approved text; a second post is blocked';
const CUSTODY = 'firefox: [real] custody: signed in from the keyring inside the session only, one post, then signed out on the server';
const WHOLE = 'firefox: [real] an image added after approval is held; removed again, the approved post goes out once with the approved bytes';
const BSKY_CUSTODY = 'firefox: [real] bluesky: custody: nothing reaches the PDS before the approval; one createSession with the keyring\'s password, one applyWrites with the approved text, then deleteSession on the PDS; refresh token dead, no stored session, a like held again; no password in a URL';
const realWhyNot = realMissing(BIN);
/** notRun counts a scenario whose prerequisite is missing: a failure with CI=true, else a skip. */
function notRun(name) {
  if (CI) { failed++; console.log(`FAIL ${name}\n     missing: ${realWhyNot}; with CI=true a missing prerequisite fails the run`); }
  else { skipped++; console.log(`SKIP ${name} (missing: ${realWhyNot})`); }
}
const driver = realWhyNot ? null : realDriver(BIN, { firefoxId: ADDON_ID });
let browser;
try {
  // The daemon first: its host manifest must be in place before Firefox starts.
  let setupError = null;
  if (driver) await driver.setup(dirs).catch((e) => { setupError = e; });
  browser = await puppeteer.launch({
    browser: 'firefox', executablePath: process.env.FOUREYES_FIREFOX || '/usr/bin/firefox-esr', headless: true,
    acceptInsecureCerts: true, userDataDir: dirs.userDataDir,
    // Firefox passes its environment on to the native host, which finds the daemon through it.
    env: { ...process.env, ...(driver ? driver.env : {}), HOME: dirs.home },
    extraPrefsFirefox: { 'network.dns.forceResolve': '127.0.0.1', 'extensions.manifestV3.enabled': true },
  });
  // Installed means its static block rules are in force; openX then waits for the page gate,
  // which the background script switches on.
  await browser.installExtension(EXT_DIR);

  await runOne('firefox: without approval nothing is published', () => blockScenario(browser));
  if (driver) {
    await runOne(APPROVE, async () => {
      if (setupError) throw setupError;
      await approveOnceScenario(browser, driver);
    });
    await runOne(CUSTODY, async () => {
      if (setupError) throw setupError;
      await custodyScenario(browser, driver);
    });
    await runOne(WHOLE, async () => {
      if (setupError) throw setupError;
      await wholePostScenario(browser, driver);
    });
    await runOne(BSKY_CUSTODY, async () => {
      if (setupError) throw setupError;
      await bskyCustodyScenario(browser, driver);
    });
  } else {
    for (const name of [APPROVE, CUSTODY, WHOLE, BSKY_CUSTODY]) {
      notRun(name);
    }
  }
  // Custody with a policy of its own (rotation, private accounts): a fresh daemon and Firefox each.
  for (const [name, policy, fn] of OWN) {
    if (only && !name.includes(only)) continue;
    if (!realWhyNot) await runOne(name, () => withFirefox(policy, ({ browser: b, driver: d }) => fn(b, d)));
    else notRun(name);
  }
  // How a session ends, and custody on Mastodon: a fresh daemon each, Firefox started by the scenario.
  for (const [name, opts, fn] of ENDS) {
    if (only && !name.includes(only)) continue;
    if (!realWhyNot) await runOne(name, () => withFirefoxEnds(opts, fn));
    else notRun(name);
  }
  // custody one_time: a fresh daemon (its policy sets one_time) and Firefox each.
  for (const [name, opts, fn] of ONE_TIME) {
    if (only && !name.includes(only)) continue;
    if (!realWhyNot) await runOne(name, () => withFirefoxEnds(opts, (d, drv) => inFirefox(d, drv, (b) => fn(b, drv))));
    else notRun(name);
  }
  // The whole post (reply, quote and repost targets, Mastodon's image): a fresh daemon and Firefox each.
  for (const [name, fn] of WHOLE_OWN) {
    if (only && !name.includes(only)) continue;
    if (!realWhyNot) await runOne(name, () => withFirefox({}, ({ browser: b, driver: d }) => fn(b, d)));
    else notRun(name);
  }
} catch (e) {
  failed++;
  console.log(`FAIL firefox: could not start: ${e && e.message}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (driver) await driver.teardown().catch(() => {});
  await server.close();
  rmSync(dirs.base, { recursive: true, force: true });
}
console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
