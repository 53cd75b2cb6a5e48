// Regenerates what the extension derives from the repo's shared/ folder (see generate.mjs).
// Run after editing shared/platforms.json or shared/notices.json:
//   node extension/scripts/sync-shared.mjs
// (The unit tests fail while a generated file is out of date.)

import { writeFileSync } from 'node:fs';
import { expectedFiles, root } from './generate.mjs';

for (const [path, content] of Object.entries(expectedFiles())) {
  writeFileSync(new URL(path, root), content);
  console.log(`${path} updated`);
}
