// Launching Debian's Chromium with the unpacked extension through playwright-core, fully offline:
// the platform hosts resolve to the local fixture server.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXT_DIR = resolve(fileURLToPath(new URL('../../../unpacked', import.meta.url)));
// FOUREYES_CHROMIUM: where Chromium is, when not at Debian's /usr/bin/chromium.
export const CHROMIUM = process.env.FOUREYES_CHROMIUM || '/usr/bin/chromium';
export const HOSTS = ['x.com', 'api.x.com', 'upload.x.com', 'twitter.com', 'social.example', 'other.example', 'bsky.app', 'bsky.social', 'pds1.us-east.host.bsky.network'];

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
 * idle, and returns once the browser reports every service worker version stopped.
 */
export async function stopWorker(context) {
  const page = context.pages()[0] || await context.newPage();
  const cdp = await context.newCDPSession(page);
  try {
    const status = new Map(); // versionId -> runningStatus, as the browser reports them
    let stoppedNow = () => {};
    const stopped = new Promise((r) => { stoppedNow = r; });
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
      for (const v of versions) status.set(v.versionId, v.runningStatus);
      if (status.size && [...status.values()].every((s) => s === 'stopped')) stoppedNow();
    });
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    await withTimeout(stopped, 15000, () => `the service worker to stop (versions: ${JSON.stringify([...status])})`);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`waited ${ms} ms for ${what()}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/**
 * clickButton clicks a button by its role and accessible name, as a person would, also inside
 * the closed shadow root of the extension's notice (which page scripts and selectors cannot
 * reach): Chromium's accessibility tree finds it, its layout box says where it is, and the
 * mouse clicks its middle, a trusted click.
 * @param {import('playwright-core').Page} page
 * @param {string} hostSelector the element whose subtree holds the button
 * @param {string} name
 */
export async function clickButton(page, hostSelector, name) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: hostSelector });
    if (!nodeId) throw new Error(`no ${hostSelector} on the page`);
    const { nodes } = await cdp.send('Accessibility.queryAXTree', { nodeId, accessibleName: name, role: 'button' });
    const shown = nodes.filter((n) => !n.ignored && n.backendDOMNodeId);
    if (shown.length !== 1) throw new Error(`want one button "${name}" in ${hostSelector}, found ${shown.length}`);
    const { model } = await cdp.send('DOM.getBoxModel', { backendNodeId: shown[0].backendDOMNodeId });
    const q = model.content; // x1,y1 .. x4,y4 clockwise from the top left
    await page.mouse.click((q[0] + q[4]) / 2, (q[1] + q[5]) / 2);
  } finally {
    await cdp.detach().catch(() => {});
  }
}
