// Which account a page is signed in to: the handle the page shows, turned into the daemon's
// account id, and told apart as official (in custody), private, or unknown (fail closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { accountId, classify, sameAccount, readSignedIn } from '../../unpacked/lib/accounts.js';

const table = JSON.parse(readFileSync(new URL('../../unpacked/data/platforms.json', import.meta.url), 'utf8'));
const X = table.platforms.find((p) => p.id === 'x');
const M = table.platforms.find((p) => p.id === 'mastodon');
const custody = [
  { id: 'x:@ministry', platform: 'x', handle: '@ministry', custody: 'gated' },
  { id: 'x:@spokesperson', platform: 'x', handle: '@spokesperson', custody: 'strict' },
  { id: 'mastodon:@press@social.example', platform: 'mastodon', handle: '@press@social.example', custody: 'strict' },
];

test('every supported platform says where its page shows the signed-in account', () => {
  for (const p of table.platforms.filter((q) => q.status === 'supported')) assert.ok(p.signed_in, p.id);
  assert.ok(new RegExp(X.signed_in.pattern).exec('Ministry @ministry')[1], 'ministry');
});

test('a handle becomes the account id the daemon uses', () => {
  assert.equal(accountId(X, 'x.com', 'ministry'), 'x:@ministry');
  assert.equal(accountId(X, 'x.com', '@Ministry'), 'x:@ministry');
  assert.equal(accountId(M, 'social.example', 'press'), 'mastodon:@press@social.example', 'a local Mastodon account is on the page\'s instance');
  assert.equal(accountId(M, 'social.example', 'bob@other.example'), 'mastodon:@bob@other.example');
  for (const bad of [null, '', '@', 'a b', 'x:@y', 'a@b@c']) assert.equal(accountId(M, 'social.example', bad), null, String(bad));
  assert.equal(accountId(X, 'x.com', 'a@b'), null, 'an X handle has no instance');
});

test('official, private, or unknown: an unreadable page counts as the official account', () => {
  assert.deepEqual(classify(X, 'x.com', 'MINISTRY', custody), { kind: 'official', account: 'x:@ministry', custody: 'gated' });
  assert.deepEqual(classify(X, 'x.com', 'spokesperson', custody), { kind: 'official', account: 'x:@spokesperson', custody: 'strict' });
  assert.deepEqual(classify(X, 'x.com', 'jemand', custody), { kind: 'private', account: 'x:@jemand', handle: '@jemand' });
  assert.deepEqual(classify(M, 'social.example', 'press', custody).kind, 'official');
  assert.deepEqual(classify(M, 'social.example', 'bob', custody), { kind: 'private', account: 'mastodon:@bob@social.example', handle: '@bob@social.example' });
  assert.deepEqual(classify(X, 'x.com', null, custody), { kind: 'unknown' });
  assert.deepEqual(classify(X, 'x.com', 'a b', custody), { kind: 'unknown' });
  assert.equal(classify(X, 'x.com', 'ministry', [{ id: 'x:@ministry' }]).custody, 'strict', 'no custody given: strict');
  assert.ok(sameAccount('x:@Ministry', 'x:@ministry'));
  assert.ok(!sameAccount('x:@ministry', null));
});

test('reading the page: the X account switcher and Mastodon\'s initial state', () => {
  const doc = (els) => ({ querySelector: (s) => els[s] || null });
  globalThis.document = doc({ '[data-testid=SideNav_AccountSwitcher_Button]': { textContent: 'Ministry of Examples@ministry' } });
  assert.equal(readSignedIn(X.signed_in), 'ministry');
  globalThis.document = doc({ '[data-testid=SideNav_AccountSwitcher_Button]': { textContent: 'no handle here' } });
  assert.equal(readSignedIn(X.signed_in), null);
  globalThis.document = doc({ 'script#initial-state': { textContent: JSON.stringify({ meta: { me: '7' }, accounts: { 7: { acct: 'press' }, 8: { acct: 'other' } } }) } });
  assert.equal(readSignedIn(M.signed_in), 'press');
  globalThis.document = doc({ 'script#initial-state': { textContent: JSON.stringify({ meta: {}, accounts: { 7: { acct: 'press' } } }) } });
  assert.equal(readSignedIn(M.signed_in), null, 'signed out: no meta.me');
  globalThis.document = doc({ 'script#initial-state': { textContent: '{not json' } });
  assert.equal(readSignedIn(M.signed_in), null);
  delete globalThis.document;
});
