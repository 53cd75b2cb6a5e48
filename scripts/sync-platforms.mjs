// Copies the platform table into the extension and regenerates the static block rules from it.
// Run after editing shared/platforms.json:  node scripts/sync-platforms.mjs
// (The unit tests fail while the copies are out of date.)

import { readFileSync, writeFileSync } from 'node:fs';
import { checkTable } from '../extension/lib/platforms.js';
import { blockRules } from '../extension/lib/rules.js';

const root = new URL('..', import.meta.url);
const src = readFileSync(new URL('shared/platforms.json', root), 'utf8');
const table = checkTable(JSON.parse(src));
writeFileSync(new URL('extension/data/platforms.json', root), src);
writeFileSync(new URL('extension/rules/publish.json', root), staticRules(table));
console.log('extension/data/platforms.json and extension/rules/publish.json updated');

/** staticRules: the block rules for platforms with fixed hosts, as the manifest's ruleset. */
export function staticRules(t) {
  return JSON.stringify(blockRules(t, []), null, 2) + '\n';
}
