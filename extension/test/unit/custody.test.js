// Custody of the sign-in: which page may receive an account's credentials, and what signing out
// sends and clears, from the platform table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { accountPlatform, signInHost, loginUrl, isLoginPage, clearOrigins, logoutUrl, logoutInit, csrfFromHtml, cookieOnHost } from '../../unpacked/lib/custody.js';

const table = JSON.parse(readFileSync(new URL('../../unpacked/data/platforms.json', import.meta.url), 'utf8'));
const X = table.platforms.find((p) => p.id === 'x');
const M = table.platforms.find((p) => p.id === 'mastodon');

test('the sign-in host comes from the table, or from the account for an instance', () => {
  assert.equal(accountPlatform('x:@ministry'), 'x');
  assert.equal(accountPlatform('nocolon'), null);
  assert.equal(signInHost(X, 'x:@ministry'), 'x.com');
  assert.equal(signInHost(M, 'mastodon:@press@social.example'), 'social.example');
  assert.equal(signInHost(M, 'mastodon:@press'), null, 'no instance in the account');
  assert.equal(loginUrl(X, 'x.com'), 'https://x.com/i/flow/login');
  assert.equal(loginUrl(M, 'social.example'), 'https://social.example/auth/sign_in');
});

test('credentials go only to the sign-in page on the sign-in host, over https', () => {
  assert.ok(isLoginPage(X, 'x.com', 'https://x.com/i/flow/login'));
  assert.ok(isLoginPage(X, 'x.com', 'https://x.com/i/flow/login?redirect_after_login=%2Fhome'));
  assert.ok(isLoginPage(M, 'social.example', 'https://social.example/auth/sign_in'));
  for (const [p, host, url] of [
    [X, 'x.com', 'http://x.com/i/flow/login'],
    [X, 'x.com', 'https://evil.example/i/flow/login'],
    [X, 'x.com', 'https://x.com.evil.example/i/flow/login'],
    [X, 'x.com', 'https://x.com:8443/i/flow/login'],
    [X, 'x.com', 'https://x.com/home'],
    [X, 'x.com', 'https://x.com/i/flow/loginx'],
    [M, 'social.example', 'https://other.example/auth/sign_in'],
    [M, 'social.example', 'https://social.example/auth/sign_out'],
    [M, null, 'https://social.example/auth/sign_in'],
  ]) assert.equal(isLoginPage(p, host, url), false, url);
});

test('signing out: the request and the origins come from the table', () => {
  assert.equal(logoutUrl(X, 'x.com'), 'https://api.x.com/1.1/account/logout.json');
  assert.deepEqual(logoutInit(X, 'tok').headers, { 'x-csrf-token': 'tok' });
  assert.equal(logoutInit(X, 'tok').method, 'POST');
  assert.equal(logoutUrl(M, 'social.example'), 'https://social.example/auth/sign_out');
  const m = logoutInit(M, 'a+b/c');
  assert.equal(m.body, '_method=delete&authenticity_token=a%2Bb%2Fc');
  assert.equal(m.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.ok(clearOrigins(X, 'x.com').includes('https://api.x.com'));
  assert.deepEqual(clearOrigins(M, 'social.example'), ['https://social.example']);
});

test('the anti-forgery token is read from the page meta', () => {
  assert.equal(csrfFromHtml('<head><meta name="csrf-param" content="authenticity_token"><meta name="csrf-token" content="abc&#43;1"></head>', 'csrf-token'), 'abc+1');
  assert.equal(csrfFromHtml("<meta content='z' name='csrf-token'>", 'csrf-token'), 'z');
  assert.equal(csrfFromHtml('<p>none</p>', 'csrf-token'), null);
});

test('a cookie counts for its domain and the subdomains', () => {
  assert.ok(cookieOnHost('.x.com', 'x.com'));
  assert.ok(cookieOnHost('x.com', 'api.x.com'));
  assert.equal(cookieOnHost('x.com', 'notx.com'), false);
});
