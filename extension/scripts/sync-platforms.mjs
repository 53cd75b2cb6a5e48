// Copies the platform table into the extension and regenerates the static block rules from it.
// Run after editing shared/platforms.json:  node extension/scripts/sync-platforms.mjs
// (The unit tests fail while the copies are out of date.)

import { readFileSync, writeFileSync } from 'node:fs';
import { checkTable } from '../unpacked/lib/platforms.js';
import { blockRules } from '../unpacked/lib/rules.js';

const root = new URL('../../', import.meta.url);
const src = readFileSync(new URL('shared/platforms.json', root), 'utf8');
const table = checkTable(JSON.parse(src));
writeFileSync(new URL('extension/unpacked/data/platforms.json', root), src);
writeFileSync(new URL('extension/unpacked/rules/publish.json', root), staticRules(table));
console.log('extension/unpacked/data/platforms.json and extension/unpacked/rules/publish.json updated');

/** staticRules: the block rules for platforms with fixed hosts, as the manifest's ruleset. */
export function staticRules(t) {
  return JSON.stringify(blockRules(t, []), null, 2) + '\n';
}
