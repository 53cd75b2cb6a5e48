// The extension against the repo's shared/ folder: generated files up to date, the platform
// table and the example policies valid under their JSON Schemas (ajv, the same schemas the
// daemon's tests run through santhosh-tekuri/jsonschema), and the staff notices complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expectedFiles, notices } from '../../scripts/generate.mjs';

const root = new URL('../../../', import.meta.url);
const read = (p) => readFileSync(new URL(p, root), 'utf8');
const json = (p) => JSON.parse(read(p));

/** compile returns an ajv validator for one schema file of shared/. */
export function compile(path, ref) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  const schema = json(path);
  ajv.addSchema(schema, path);
  const v = ajv.getSchema(ref ? `${path}#${ref}` : path) || ajv.getSchema(`${schema.$id}${ref ? '#' + ref : ''}`);
  assert.ok(v, `${path}${ref || ''} compiles`);
  return v;
}

const errs = (v) => (v.errors || []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

test('generated files are up to date (run: node extension/scripts/sync-shared.mjs)', () => {
  const files = expectedFiles();
  assert.ok(Object.keys(files).length >= 5);
  for (const [path, want] of Object.entries(files)) {
    assert.equal(read(path), want, `${path} is out of date: run node extension/scripts/sync-shared.mjs`);
  }
});

test('the platform table fits its schema', () => {
  const v = compile('shared/platforms.schema.json');
  assert.ok(v(json('shared/platforms.json')), errs(v));
});

test('the platform schema refuses broken tables', () => {
  const v = compile('shared/platforms.schema.json');
  const x = json('shared/platforms.json').platforms[0];
  const bad = [
    ['wrong version', { version: 2, platforms: [] }],
    ['unknown key', { version: 1, platforms: [], extra: 1 }],
    ['bad id', { version: 1, platforms: [{ ...x, id: 'My Space' }] }],
    ['supported without publish', { version: 1, platforms: [{ ...x, publish: undefined }] }],
    ['endpoint with both regexes', { version: 1, platforms: [{ ...x, publish: [{ action: 'post', method: 'POST', url_regex: '^a', path_regex: '^b' }] }] }],
    ['login url not a URI', { version: 1, platforms: [{ ...x, login: { url: 'not a uri' } }] }],
  ];
  for (const [name, t] of bad) assert.equal(v(JSON.parse(JSON.stringify(t))), false, name);
});

test('every example policy fits the policy schema', () => {
  const v = compile('shared/policy.schema.json');
  const files = readdirSync(new URL('shared/examples/', root)).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of files) assert.ok(v(json(`shared/examples/${f}`)), `${f}: ${errs(v)}`);
  assert.ok(v({ version: 1 }), 'the smallest policy');
});

test('the policy schema refuses bad policies and the keys not built yet', () => {
  const v = compile('shared/policy.schema.json');
  for (const bad of [{}, { version: 2 }, { version: 1, colour: 'red' }, { version: 1, totp_skew_steps: 4 },
    { version: 1, custody: 'loose' }, { version: 1, private_accounts: 'sometimes' }, { version: 1, editorial_sites: [] }, { version: 1, actions_requiring_approval: ['post'] },
    { version: 1, accounts: { '@m': {} } }, { version: 1, mastodon_instances: ['https://social.example'] }]) {
    assert.equal(v(bad), false, JSON.stringify(bad));
  }
});

test('the managed-storage schema offers no policy key that is not built', () => {
  const managed = json('extension/unpacked/managed_schema.json');
  for (const k of ['editorial_sites', 'actions_requiring_approval', 'approval_actions']) {
    assert.ok(!JSON.stringify(managed).includes(`"${k}"`), k);
  }
});

test('every stable error code a staff member can meet has a notice, and every notice a code', () => {
  const n = notices();
  const codes = Object.keys(json('shared/protocol/errors.json').codes);
  const notForStaff = ['bad_request', 'exists', 'too_large', 'not_permitted', 'internal', 'second_approver'];
  const extensionOwn = ['approval_needed', 'page_not_understood', 'grant_invalid', 'timeout', 'approved', 'published', 'published_mismatch', 'throttled_until', 'platform_unrecognised', 'config_pending', 'signed_in', 'sign_in_failed', 'signed_out', 'sign_out_failed', 'wrong_account', 'published_private', 'sign_in_email_code', 'rotate_email_code', 'interaction_blocked',
    'media_added', 'media_removed', 'media_changed', 'alt_changed', 'reply_target_changed', 'quote_target_changed', 'repost_target_changed'];
  for (const c of codes) if (!notForStaff.includes(c)) assert.ok(n[c], `no notice for ${c}`);
  for (const c of Object.keys(n)) assert.ok(codes.includes(c) || extensionOwn.includes(c), `notice ${c} is neither a stable code nor the extension's own`);
  assert.match(n.throttled_until, /\{time\}/);
});
