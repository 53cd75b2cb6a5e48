// Launching Debian's Chromium with the unpacked extension through playwright-core, fully offline:
// the platform hosts resolve to the local fixture server.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXT_DIR = resolve(fileURLToPath(new URL('../../../unpacked', import.meta.url)));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const HOSTS = ['x.com', 'twitter.com', 'social.example', 'other.example'];

/** tempDirs makes a fresh HOME and user-data-dir for one browser. */
export function tempDirs(prefix = 'foureyes-e2e-') {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const home = join(base, 'home');
  const userDataDir = join(base, 'profile');
  mkdirSync(home);
  mkdirSync(userDataDir);
  return { base, home, userDataDir };
}

/**
 * launch starts Chromium with the extension; returns {context, worker, extensionId}.
 * @param {{userDataDir: string, home: string, serverPort: number, withExtension?: boolean}} o
 */
export async function launch({ userDataDir, home, serverPort, withExtension = true, extraEnv = {} }) {
  const map = HOSTS.map((h) => `MAP ${h} 127.0.0.1:${serverPort}`).join(', ');
  const args = [
    '--no-sandbox', '--disable-gpu',
    `--host-resolver-rules=${map}, EXCLUDE 127.0.0.1`,
    '--ignore-certificate-errors', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-sync', '--disable-quic', '--no-default-browser-check',
  ];
  if (withExtension) args.push(`--disable-extensions-except=${EXT_DIR}`, `--load-extension=${EXT_DIR}`);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, ignoreHTTPSErrors: true,
    env: { ...process.env, ...extraEnv, HOME: home }, args, viewport: { width: 1100, height: 800 },
  });
  if (!withExtension) return { context, worker: null, extensionId: null };
  let worker = context.serviceWorkers()[0];
  if (!worker) worker = await context.waitForEvent('serviceworker', { timeout: 15000 });
  const extensionId = new URL(worker.url()).host;
  return { context, worker, extensionId };
}

/** currentWorker returns the extension's live service worker, waiting for a restarted one. */
export async function currentWorker(context) {
  const w = context.serviceWorkers()[0];
  if (w) return w;
  return context.waitForEvent('serviceworker', { timeout: 15000 });
}

/**
 * stopWorker stops the extension's service worker through CDP, as the browser does when it is
 * idle, and wakes it again by opening an extension page briefly.
 */
export async function stopWorker(context) {
  const page = context.pages()[0] || await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable').catch(() => {});
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach().catch(() => {});
}
