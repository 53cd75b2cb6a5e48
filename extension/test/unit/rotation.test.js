// Rotation: which page may receive the passwords, and how the platform's answer reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { passwordUrl, isPasswordPage, verdict, rotatesUnattended } from '../../unpacked/lib/rotation.js';

const table = JSON.parse(readFileSync(new URL('../../unpacked/data/platforms.json', import.meta.url), 'utf8'));
const X = table.platforms.find((p) => p.id === 'x');
const M = table.platforms.find((p) => p.id === 'mastodon');

test('the change-password page comes from the table, on the account\'s host', () => {
  assert.equal(passwordUrl(X, 'x.com'), 'https://x.com/settings/password');
  assert.equal(passwordUrl(M, 'social.example'), 'https://social.example/auth/edit');
  assert.equal(passwordUrl({ id: 'bluesky' }, 'bsky.app'), null, 'no table data, no page');
});

test('only that page, over https, on that exact host, receives the passwords', () => {
  assert.ok(isPasswordPage(X, 'x.com', 'https://x.com/settings/password'));
  assert.ok(isPasswordPage(M, 'social.example', 'https://social.example/auth/edit?x=1'));
  for (const u of ['http://x.com/settings/password', 'https://x.com:8443/settings/password', 'https://evil.x.com/settings/password',
    'https://x.com/settings/password/../../home', 'https://x.com/settings/passwords', 'https://x.com.evil/settings/password', 'not a url']) {
    assert.ok(!isPasswordPage(X, 'x.com', u), u);
  }
  assert.ok(!isPasswordPage(M, 'social.example', 'https://other.example/auth/edit'));
});

test('ok only when the platform\'s confirmation shows on its own host', () => {
  const page = (o) => ({ url: 'https://social.example/auth/edit', complete: true, form: true, success: null, error: null, ...o });
  assert.deepEqual(verdict(M, 'social.example', page({})), { done: false }, 'the form, nothing else yet');
  assert.deepEqual(verdict(M, 'social.example', page({ success: 'Your account has been updated successfully.' })), { done: true, ok: true });
  assert.equal(verdict(M, 'social.example', page({ success: 'Welcome back' })).done, false, 'a notice that is not the confirmation');
  const err = verdict(M, 'social.example', page({ error: '  Current password\n is invalid ' }));
  assert.deepEqual([err.ok, err.error], [false, 'the platform refused the change: Current password is invalid']);
  assert.match(verdict(M, 'social.example', page({ form: false, title: 'We are sorry (500)' })).error, /confirms nothing \(We are sorry \(500\)\)/);
  assert.equal(verdict(M, 'social.example', page({ form: false, complete: false })).done, false, 'still loading');
  const away = verdict(M, 'social.example', page({ url: 'https://evil.example/auth/edit', success: 'Your account has been updated successfully.' }));
  assert.deepEqual([away.ok, away.error], [false, 'the change-password page went to another site (evil.example)']);
  assert.deepEqual(verdict(X, 'x.com', { url: 'https://x.com/settings/password', form: true, complete: true, success: 'Your password has been updated.', error: null }), { done: true, ok: true });
  assert.deepEqual(verdict(X, 'x.com', null), { done: false });
});

test('custody one_time runs only where the password change runs unattended (the daemon\'s RotatesUnattended)', () => {
  const B = table.platforms.find((p) => p.id === 'bluesky');
  assert.equal(rotatesUnattended(X), true);
  assert.equal(rotatesUnattended(M), true);
  assert.equal(rotatesUnattended(B), false, 'no change-password form');
  assert.equal(rotatesUnattended(null), false);
  for (const step of [{ person: { label: 'the code from the e-mail' } }, { type: 'person' }, { kind: 'person' }]) {
    assert.equal(rotatesUnattended({ ...X, password: { ...X.password, steps: [{ fill: 'x' }, step] } }), false, JSON.stringify(step));
  }
  assert.equal(rotatesUnattended({ ...X, password: { ...X.password, steps: [{ fill: 'x' }] } }), true);
});
