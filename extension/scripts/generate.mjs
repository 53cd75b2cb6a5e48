// What the extension derives from the repo's shared/ folder, computed without writing anything:
// sync-shared.mjs writes these files, and the unit tests fail while any of them differs from
// what is on disk. Pure module: node:fs only.
//
// An unpacked extension cannot read files outside its folder, so it ships copies:
//   - data/platforms.json: shared/platforms.json as it is;
//   - rules/publish.json: the static block rules of the fixed-host platforms (they hold from
//     installation, before the worker first runs);
//   - rules/pending.json: the instance platforms' (Mastodon) publishing endpoints on every host,
//     the fail-closed ruleset that holds until IT's configuration is known;
//   - manifest.json: the content-script matches (page gate and upload observer), the fixed hosts
//     of the supported platforms;
//   - lib/notices.js and the NOTICES block of content/gate.js: shared/notices.json's texts, as an
//     ES module for the extension's pages and as constants in the page gate, which is a classic
//     script and cannot import.

import { readFileSync } from 'node:fs';
import { checkTable, contentScriptMatches } from '../unpacked/lib/platforms.js';
import { blockRules, pendingRules } from '../unpacked/lib/rules.js';

export const root = new URL('../../', import.meta.url);
const read = (p) => readFileSync(new URL(p, root), 'utf8');

const BEGIN = '  // BEGIN notices: generated from shared/notices.json by extension/scripts/sync-shared.mjs; do not edit.\n';
const END = '  // END notices\n';

/** notices returns shared/notices.json's texts, checked: one line of text per code. */
export function notices() {
  const f = JSON.parse(read('shared/notices.json'));
  if (f.version !== 1 || !f.notices || typeof f.notices !== 'object') throw new Error('shared/notices.json: want {"version":1,"notices":{...}}');
  for (const [code, text] of Object.entries(f.notices)) {
    if (!/^[a-z_]+$/.test(code) || typeof text !== 'string' || !text.trim() || text.includes('\n')) throw new Error(`shared/notices.json: ${code}: want one line of text`);
  }
  return f.notices;
}

/**
 * expectedFiles returns every generated file, keyed by its path from the repo root.
 * @returns {Record<string, string>}
 */
export function expectedFiles() {
  const src = read('shared/platforms.json');
  const table = checkTable(JSON.parse(src));
  const out = {};
  out['extension/unpacked/data/platforms.json'] = src;
  out['extension/unpacked/rules/publish.json'] = JSON.stringify(blockRules(table, []), null, 2) + '\n';
  out['extension/unpacked/rules/pending.json'] = JSON.stringify(pendingRules(table), null, 2) + '\n';

  const manifest = JSON.parse(read('extension/unpacked/manifest.json'));
  // Two entries on the same hosts: the page gate, and the upload observer in the page's world.
  if (!Array.isArray(manifest.content_scripts) || manifest.content_scripts.length !== 2) throw new Error('manifest.json: want exactly two content script entries (page gate, upload observer)');
  for (const c of manifest.content_scripts) c.matches = contentScriptMatches(table, []);
  manifest.declarative_net_request = { rule_resources: [
    { id: 'publish', enabled: true, path: 'rules/publish.json' },
    { id: 'pending', enabled: true, path: 'rules/pending.json' },
  ] };
  out['extension/unpacked/manifest.json'] = JSON.stringify(manifest, null, 2) + '\n';

  const n = notices();
  const body = JSON.stringify(n, null, 2).split('\n').map((l, i) => (i ? '  ' + l : l)).join('\n');
  out['extension/unpacked/lib/notices.js'] =
    '// Generated from shared/notices.json by extension/scripts/sync-shared.mjs; do not edit.\n\n' +
    '/** NOTICES maps a situation (a stable error code, or one of the extension\'s own) to what staff read. */\n' +
    `export const NOTICES = Object.freeze(${JSON.stringify(n, null, 2)});\n`;

  const gate = read('extension/unpacked/content/gate.js');
  const a = gate.indexOf(BEGIN);
  const b = gate.indexOf(END);
  if (a < 0 || b < a) throw new Error('content/gate.js: the generated NOTICES block markers are missing');
  out['extension/unpacked/content/gate.js'] = gate.slice(0, a) + BEGIN + `  const NOTICES = ${body};\n` + gate.slice(b);
  return out;
}
