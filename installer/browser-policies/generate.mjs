#!/usr/bin/env node
// Writes the browser policies that force-install and configure the foureyes extension, for
// Chromium, Google Chrome, Microsoft Edge (Linux managed-policy JSON) and Firefox (policies.json).
// The files in this folder are its output with the defaults; installer/build.sh runs it for the
// ID of the key that signed the CRX and the update URL it was built for.
//
//   node installer/browser-policies/generate.mjs --out DIR [--id CHROME_ID] [--firefox-id ID]
//     [--update-url URL] [--xpi-url URL] [--port N] [--mastodon HOST]... [--no-devtools-blocklist]
//
// Why each setting is there: installer/browser-policies/README.md.

import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// The extension's managed-storage schema is the contract: only its keys are written.
const schema = JSON.parse(readFileSync(join(here, '..', '..', 'extension', 'unpacked', 'managed_schema.json'), 'utf8'));

export const DEFAULTS = {
  id: 'khjidfhbpkegedbcgmbanfcppfhpdnkp',
  firefoxId: 'foureyes@foureyes.eu',
  updateUrl: 'https://foureyes.example.org/extension/update.xml',
  xpiUrl: 'file:///usr/share/foureyes/foureyes.xpi',
  port: 47321,
  mastodon: [],
  devtoolsBlocklist: true,
};

// The sites whose composers the extension governs. DevTools there would let a staff member
// edit the page past the extension's notice or replay a request by hand.
const GOVERNED_SITES = ['x.com', 'twitter.com', 'mobile.x.com', 'mobile.twitter.com'];

function fail(msg) {
  process.stderr.write(`browser-policies: ${msg}\n`);
  process.exit(2);
}

export function parseArgs(argv) {
  const o = { ...DEFAULTS, mastodon: [] };
  let out = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--out': out = val(); break;
      case '--id': o.id = val(); break;
      case '--firefox-id': o.firefoxId = val(); break;
      case '--update-url': o.updateUrl = val(); break;
      case '--xpi-url': o.xpiUrl = val(); break;
      case '--port': o.port = Number(val()); break;
      case '--mastodon': o.mastodon.push(val()); break;
      case '--no-devtools-blocklist': o.devtoolsBlocklist = false; break;
      default: fail(`unknown argument ${a}`);
    }
  }
  if (!out) fail('--out DIR is missing');
  if (!/^[a-p]{32}$/.test(o.id)) fail(`--id ${JSON.stringify(o.id)} is not a Chrome extension ID (32 letters a to p)`);
  if (!/^[^\s/]+@[^\s/]+$|^\{[0-9a-f-]{36}\}$/i.test(o.firefoxId)) fail(`--firefox-id ${JSON.stringify(o.firefoxId)} is not a Firefox add-on ID (name@domain or {uuid})`);
  for (const [k, u] of [['--update-url', o.updateUrl], ['--xpi-url', o.xpiUrl]]) {
    let url;
    try { url = new URL(u); } catch { fail(`${k} ${JSON.stringify(u)} is not a URL`); }
    const ok = k === '--xpi-url' ? ['http:', 'https:', 'file:'] : ['http:', 'https:'];
    if (!ok.includes(url.protocol)) fail(`${k} ${JSON.stringify(u)}: want ${ok.join(' or ')}`);
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) fail(`--port must be 1 to 65535`);
  for (const h of o.mastodon) {
    if (!/^[a-z0-9.-]+(:\d+)?$/i.test(h) || !h.includes('.')) fail(`--mastodon ${JSON.stringify(h)} is not a host name (e.g. social.example.org)`);
  }
  return { out, o };
}

/** managedConfig is the extension's managed storage, keyed as managed_schema.json says. */
export function managedConfig(o) {
  const cfg = { daemon_port: o.port, mastodon_instances: o.mastodon };
  for (const k of Object.keys(cfg)) {
    if (!schema.properties[k]) throw new Error(`managed key ${k} is not in extension/unpacked/managed_schema.json`);
  }
  return cfg;
}

function devtoolsBlocklist(o) {
  return [...GOVERNED_SITES, ...o.mastodon.map((h) => h.replace(/:\d+$/, ''))];
}

/** chromium is the managed policy for Chromium and Google Chrome on Linux. */
export function chromium(o) {
  const p = {
    ExtensionSettings: {
      [o.id]: { installation_mode: 'force_installed', update_url: o.updateUrl, toolbar_pin: 'force_pinned' },
    },
    '3rdparty': { extensions: { [o.id]: managedConfig(o) } },
    IncognitoModeAvailability: 1,
    BrowserGuestModeEnabled: false,
    BrowserAddPersonEnabled: false,
    ExtensionDeveloperModeSettings: 1,
    DeveloperToolsAvailability: 0,
  };
  if (o.devtoolsBlocklist) p.DeveloperToolsAvailabilityBlocklist = devtoolsBlocklist(o);
  return p;
}

/** edge is the same for Microsoft Edge, under Edge's names where they differ. */
export function edge(o) {
  const p = chromium(o);
  return {
    ExtensionSettings: p.ExtensionSettings,
    '3rdparty': p['3rdparty'],
    InPrivateModeAvailability: 1,
    BrowserGuestModeEnabled: false,
    BrowserAddProfileEnabled: false,
    ExtensionDeveloperModeSettings: 1,
    DeveloperToolsAvailability: 0,
    ...(o.devtoolsBlocklist ? { DeveloperToolsAvailabilityBlocklist: p.DeveloperToolsAvailabilityBlocklist } : {}),
  };
}

/** firefox is policies.json for Firefox ESR. */
export function firefox(o) {
  return {
    policies: {
      ExtensionSettings: {
        [o.firefoxId]: { installation_mode: 'force_installed', install_url: o.xpiUrl },
      },
      '3rdparty': { Extensions: { [o.firefoxId]: managedConfig(o) } },
      DisablePrivateBrowsing: true,
      DisableDeveloperTools: true,
      BlockAboutConfig: true,
      BlockAboutProfiles: true,
      // The XPI is not signed by Mozilla: ESR installs it only with signature checks off.
      // Drop this preference when the XPI is signed (an unlisted add-on signed through AMO).
      Preferences: { 'xpinstall.signatures.required': { Value: false, Status: 'locked' } },
    },
  };
}

/** files maps each output path (relative) to its JSON text. */
export function files(o) {
  const j = (v) => JSON.stringify(v, null, 2) + '\n';
  return {
    'chromium/foureyes.json': j(chromium(o)),
    'chrome/foureyes.json': j(chromium(o)),
    'edge/foureyes.json': j(edge(o)),
    'firefox/policies.json': j(firefox(o)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { out, o } = parseArgs(process.argv.slice(2));
  for (const [rel, text] of Object.entries(files(o))) {
    const path = join(out, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
