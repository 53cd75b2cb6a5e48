// The block scenario in Firefox ESR: puppeteer-core drives /usr/bin/firefox-esr over WebDriver
// BiDi, installs the extension, and a post on the x.com fixture must not reach the server.
// Firefox resolves every name to 127.0.0.1 here, so the fixture server listens on port 443.
//
//   node tests/e2e/firefox.mjs        (prints "N passed, N failed" last)

import puppeteer from 'puppeteer-core';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { makeCert } from './lib/certs.mjs';
import { startServer } from './lib/server.mjs';
import { tempDirs, HOSTS, EXT_DIR } from './lib/browser.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const ARTIFACTS = process.env.ARTIFACTS || join(ROOT, 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dirs = tempDirs('foureyes-ff-');
const { key, cert } = makeCert(dirs.base, HOSTS);
const server = await startServer({ port: Number(process.env.FF_PORT || 443), key, cert });

let passed = 0, failed = 0;
let browser;
try {
  browser = await puppeteer.launch({
    browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr', headless: true,
    acceptInsecureCerts: true, userDataDir: dirs.userDataDir,
    env: { ...process.env, HOME: dirs.home },
    extraPrefsFirefox: { 'network.dns.forceResolve': '127.0.0.1', 'extensions.manifestV3.enabled': true },
  });
  await browser.installExtension(EXT_DIR);
  await sleep(1500); // let the background script set up its rules

  const t0 = Date.now();
  try {
    const page = await browser.newPage();
    await page.goto('https://x.com/home');
    await page.waitForSelector('html[data-foureyes=on]', { timeout: 15000 });
    server.reset();
    await page.click('[data-testid=tweetTextarea_0]');
    await page.keyboard.type('Unapproved post from Firefox');
    await page.click('[data-testid=tweetButtonInline]');
    await page.waitForSelector('foureyes-notice', { visible: true, timeout: 5000 });
    const reason = await page.$eval('foureyes-notice', (e) => e.dataset.reason);
    assert.ok(['daemon_unavailable', 'approval_needed'].includes(reason), reason);
    await page.keyboard.down('Control');
    await page.keyboard.press('Enter');
    await page.keyboard.up('Control');
    await page.evaluate(() => window.__publishDirect('straight from the page script'));
    await sleep(1500);
    assert.equal(server.received.length, 0, JSON.stringify(server.received));
    assert.deepEqual(await page.evaluate(() => window.__results), ['failed']);
    await page.screenshot({ path: join(ARTIFACTS, 'firefox-x-blocked.png') });
    passed++;
    console.log(`ok   firefox: without approval nothing is published (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL firefox: without approval nothing is published\n     ${String(e && e.stack || e).split('\n').slice(0, 5).join('\n     ')}`);
  }
} catch (e) {
  failed++;
  console.log(`FAIL firefox: could not start: ${e && e.message}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  await server.close();
  rmSync(dirs.base, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
