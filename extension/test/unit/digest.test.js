import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { canonical, digest, validDigest, _SPACE_CLASS } from '../../unpacked/lib/digest.js';

const vectors = JSON.parse(readFileSync(new URL('../../../shared/vectors/digest.json', import.meta.url), 'utf8')).vectors;

test('shared digest vectors', async (t) => {
  assert.ok(vectors.length > 0, 'no vectors');
  for (const v of vectors) {
    await t.test(v.name, async () => {
      assert.equal(canonical(v.text), v.canonical, 'canonical form');
      assert.equal(await digest(v.text), v.digest, 'digest');
    });
  }
});

// Go's unicode.IsSpace: the Latin-1 set plus the White_Space property.
const GO_SPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);

test('white space class is exactly Go unicode.IsSpace over the BMP', () => {
  const re = new RegExp(`^[${_SPACE_CLASS}]$`);
  for (let c = 0; c <= 0xffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    assert.equal(re.test(String.fromCharCode(c)), GO_SPACE.has(c), `U+${c.toString(16).padStart(4, '0')}`);
  }
});

test('canonical keeps leading and inner white space, drops trailing', () => {
  assert.equal(canonical('  a \t\r\n b\u00a0\r\r'), '  a\n b');
  assert.equal(canonical('x\ufeff'), 'x\ufeff');
  assert.equal(canonical('x\u0085'), 'x');
  assert.equal(canonical(''), '');
});

test('validDigest', async () => {
  assert.ok(validDigest(await digest('a')));
  assert.ok(!validDigest('A'.repeat(64)));
  assert.ok(!validDigest('a'.repeat(63)));
  assert.ok(!validDigest(null));
});
