// Rotation: which page may receive the passwords, and how the platform's answer reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { passwordUrl, isPasswordPage, verdict, passwordSteps, formField, personReady, overdue, personWait, REPORT_MARGIN_MS, rotatesUnattended } from '../../unpacked/lib/rotation.js';

const table = JSON.parse(readFileSync(new URL('../../unpacked/data/platforms.json', import.meta.url), 'utf8'));
const X = table.platforms.find((p) => p.id === 'x');
const M = table.platforms.find((p) => p.id === 'mastodon');
const B = table.platforms.find((p) => p.id === 'bluesky');
const notices = JSON.parse(readFileSync(new URL('../../../shared/notices.json', import.meta.url), 'utf8')).notices;

test('the change-password page comes from the table, on the account\'s host', () => {
  assert.equal(passwordUrl(X, 'x.com'), 'https://x.com/settings/password');
  assert.equal(passwordUrl(M, 'social.example'), 'https://social.example/auth/edit');
  assert.equal(passwordUrl(B, 'bsky.app'), 'https://bsky.app/settings/account');
  assert.equal(passwordUrl({ id: 'facebook' }, 'facebook.com'), null, 'no table data, no page');
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
  assert.equal(rotatesUnattended(X), true);
  assert.equal(rotatesUnattended(M), true);
  assert.equal(rotatesUnattended(B), false, 'a person types the e-mailed code');
  assert.equal(rotatesUnattended(null), false);
  assert.equal(rotatesUnattended({ id: 'facebook' }), false, 'no change-password form');
  assert.equal(rotatesUnattended({ ...X, password: { url: 'https://x.com/pw', steps: [{ click: 'a' }, { new: '#n' }, { submit: ['b'] }] } }), true);
});

test('the one form is four steps; Bluesky\'s steps wait for a person to type the e-mailed code', () => {
  assert.deepEqual(passwordSteps(X), [{ current: X.password.current }, { new: X.password.new }, { confirm: X.password.confirm }, { submit: X.password.submit }]);
  assert.equal(formField(X), X.password.current);
  assert.equal(passwordSteps({ id: 'facebook' }), null);
  const steps = passwordSteps(B);
  const kinds = steps.map((s) => ['click', 'person', 'current', 'new', 'confirm', 'submit'].find((k) => k in s));
  assert.deepEqual(kinds, ['click', 'click', 'person', 'new', 'submit']);
  assert.equal(formField(B), steps[3].new, 'no current password on Bluesky: the new one marks the form');
  const person = steps[2];
  assert.ok(Object.hasOwn(notices, person.notice), `notice ${person.notice} is in shared/notices.json`);
  assert.ok(person.timeout_s >= 60, 'time for a person to read a mail');
  // The password is typed only into password fields: the person's field is none of them.
  assert.ok(!steps.some((s) => s.person && (s.new || s.current || s.confirm)));
});

test('a person step is done only with typed text that fits its pattern', () => {
  const step = passwordSteps(B)[2];
  assert.ok(personReady(step, 'abcde-23456', true));
  assert.ok(personReady(step, ' ABCDE23456 ', true));
  assert.ok(!personReady(step, 'abcde-23456', false), 'set by a script, not typed');
  assert.ok(!personReady(step, 'abcd', true), 'half a code');
  assert.ok(!personReady(step, '', true));
  assert.ok(!personReady({ click: 'b' }, 'x', true), 'not a person step');
  assert.ok(personReady({ person: '#f' }, 'anything', true), 'no pattern: any text');
  assert.ok(!personReady({ person: '#f', pattern: '(' }, 'x', true), 'a broken pattern never matches');
});

test('nobody typed the code in time: the rotation fails, naming why; before that, and in other phases, it waits', () => {
  const e = { phase: 'person', deadline: 1_000_000, waitMs: 600_000 };
  assert.equal(overdue(e, 999_999), null);
  assert.match(overdue(e, 1_000_000), /nobody typed the code the platform e-mailed within 600 s; the old password stays/);
  assert.equal(overdue({ ...e, phase: 'submitted' }, 2_000_000), null, 'typed in time: the platform\'s answer decides');
  assert.equal(overdue({ phase: 'asked' }, 2_000_000), null);
  assert.equal(overdue(null, 0), null);
});

test('a person step waits its timeout_s, cut short so the rotation is reported inside its session', () => {
  const step = { person: '#code', notice: 'n', timeout_s: 600 };
  const now = 1_000_000;
  assert.equal(personWait(step, NaN, now), 600_000, 'session end not known: the step\'s own limit');
  assert.equal(personWait(step, now + 3_600_000, now), 600_000, 'a long session: the step\'s own limit');
  assert.equal(personWait(step, now + 300_000, now), 300_000 - REPORT_MARGIN_MS, 'a short session: its end, less the margin for the report');
  assert.equal(personWait(step, now + REPORT_MARGIN_MS - 1, now), 0, 'no time left: fail at once');
  assert.equal(personWait({ person: '#code' }, now + 3_600_000, now), 0, 'no time limit in the table: never wait unbounded');
});
