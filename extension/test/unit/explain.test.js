import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { explain, DAEMON_DOWN, APPROVAL_NEEDED } from '../../unpacked/lib/explain.js';

const goErrors = readFileSync(new URL('../../../daemon/internal/api/errors.go', import.meta.url), 'utf8');
const codes = [...goErrors.matchAll(/Code\w+\s+Code = "([a-z_]+)"/g)].map((m) => m[1]);

test('every stable error code has plain words', () => {
  assert.ok(codes.length > 10, 'codes parsed from errors.go');
  for (const code of codes) {
    if (['bad_request', 'exists', 'too_large', 'not_permitted', 'internal', 'second_approver'].includes(code)) continue; // not a staff member's situation (second_approver: changes to who may approve are made at the CLI or the tray)
    const s = explain({ code, message: 'raw' });
    assert.ok(!s.startsWith('Not published: raw'), `${code} falls through to the raw message`);
  }
});

test('the two notices say what the brief says', () => {
  assert.equal(explain({ code: 'approval_needed' }), APPROVAL_NEEDED);
  assert.equal(explain({ code: 'daemon_unavailable' }), DAEMON_DOWN);
  assert.match(DAEMON_DOWN, /foureyes daemon/);
});

test('throttled names the time', () => {
  assert.match(explain({ code: 'throttled', until: '2026-01-01T13:45:00Z' }, { tz: 'UTC' }), /13:45/);
  assert.match(explain({ code: 'throttled' }), /later/);
});
