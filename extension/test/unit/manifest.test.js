import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  manifestDigest, manifestLines, validateManifest, fileDigest, ManifestError, NO_TARGET,
} from '../../unpacked/lib/manifest.js';

const file = JSON.parse(readFileSync(new URL('../../../shared/vectors/manifest.json', import.meta.url), 'utf8'));

test('shared manifest vectors', async (t) => {
  assert.ok(file.vectors.length >= 15, 'too few vectors');
  for (const v of file.vectors) {
    await t.test(v.name, async () => {
      assert.equal(await manifestLines(v.input), v.lines, 'lines');
      assert.equal(await manifestDigest(v.input), v.digest, 'digest');
    });
  }
});

test('shared manifest refusals name the field', async (t) => {
  assert.ok(file.refusals.length >= 15, 'too few refusals');
  for (const r of file.refusals) {
    await t.test(r.name, async () => {
      await assert.rejects(manifestDigest(r.input), (err) => {
        assert.ok(err instanceof ManifestError, `not a ManifestError: ${err}`);
        assert.equal(err.field, r.field);
        assert.match(err.message, new RegExp(r.field.replace(/[[\].]/g, '\\$&')));
        return true;
      });
    });
  }
});

const base = { account: 'x:@ministry', action: 'post', text: 'a' };
const sha = 'e1bffab6c69f6107ab33c30cea9fd36d2f710586eb49c270ae63031a5af406bf';

test('types JSON cannot tell apart in Go are refused here too', async () => {
  const cases = [
    [{ ...base, media: [{ sha256: sha, size: 1.5, type: 'image/png' }] }, 'media[0].size'],
    [{ ...base, media: [{ sha256: sha, size: '1', type: 'image/png' }] }, 'media[0].size'],
    [{ ...base, media: [{ sha256: sha, size: 1, type: 'image/png', alt: 5 }] }, 'media[0].alt'],
    [{ ...base, media: 'chart.png' }, 'media'],
    [{ ...base, media: [null] }, 'media[0]'],
    [{ ...base, target: 'https://x.com/i/status/1' }, 'target'],
    [{ ...base, text: 7 }, 'text'],
    [{ ...base, account: 'x:@a\u0085' }, 'account'],
    [{ ...base, account: 'x:@a\u00a0' }, 'account'],
    [null, 'manifest'],
  ];
  for (const [input, field] of cases) {
    assert.throws(() => validateManifest(input), (err) => err instanceof ManifestError && err.field === field, field);
  }
});

test('missing text, media and target are the plain empty post', async () => {
  const lines = await manifestLines({ account: 'x:@ministry', action: 'repost' });
  assert.equal(lines.split('\n')[4], `target ${NO_TARGET}`);
  assert.equal(lines.split('\n')[5], 'media 0');
  assert.equal(await manifestDigest({ account: 'x:@ministry', action: 'repost', text: '', media: [], target: null }),
    await manifestDigest({ account: 'x:@ministry', action: 'repost' }));
});

test('fileDigest is the SHA-256 of the bytes', async () => {
  const bytes = new TextEncoder().encode('chart.png bytes');
  assert.equal(await fileDigest(bytes), createHash('sha256').update(bytes).digest('hex'));
  assert.equal(await fileDigest(bytes), sha);
});
