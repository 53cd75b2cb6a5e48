// Post manifest: what an approval covers (account, action, text, every attached file and the post
// it answers) and the digest a posting session binds.
//
// The daemon (Go, daemon/internal/manifest) computes the same digest; both sides are pinned by
// shared/vectors/manifest.json. manifest digest = lowercase hex SHA-256 of the UTF-8 bytes of
//
//   foureyes-post/1
//   account <account>
//   action <action>
//   text <content digest of the text>
//   target <target url, or - when there is none>
//   media <number of attachments>
//   <sha256 of the file> <content digest of the alt text>   (one line per attachment, in order)
//
// joined with LF, no trailing LF. name, size, type, author and excerpt describe; they are not in
// the digest. Invalid input throws a ManifestError naming the field; it is never hashed.
//
// Pure module: no browser APIs beyond WebCrypto, which node 20 provides too.

import { digest, toHex, _SPACE_CLASS } from './digest.js';

/**
 * @typedef {object} Media  one attached file, in attachment order
 * @property {string} sha256  lowercase hex SHA-256 of the exact bytes attached
 * @property {number} size    bytes
 * @property {string} type    lowercase MIME type; application/octet-stream when the browser gave none
 * @property {string} [name]  file name (display and audit only)
 * @property {string} [alt]   alt text; missing and empty are the same
 */

/**
 * @typedef {object} Target  the post answered, quoted or reposted
 * @property {string} url       canonical https address as the platform table defines it
 * @property {string} [author]  what the page showed (display only)
 * @property {string} [excerpt] what the page showed (display only)
 */

/**
 * @typedef {object} Manifest
 * @property {string} account
 * @property {string} action
 * @property {string} [text]
 * @property {Media[]} [media]
 * @property {Target|null} [target]
 */

export const VERSION = 'foureyes-post/1';
export const NO_TARGET = '-';
export const LIMITS = Object.freeze({
  media: 10, name: 255, alt: 2000, url: 512, author: 100, excerpt: 500,
});

/** ManifestError is a refusal naming the field at fault, e.g. "media[1].sha256". */
export class ManifestError extends Error {
  /**
   * @param {string} field
   * @param {string} reason
   */
  constructor(field, reason) {
    super(`manifest ${field}: ${reason}`);
    this.name = 'ManifestError';
    this.field = field;
    this.reason = reason;
  }
}

// White space as Go's unicode.IsSpace, control characters as Go's unicode.IsControl (C0, C1).
const SPACE_OR_CONTROL = new RegExp(`[${_SPACE_CLASS}\\u0000-\\u001f\\u007f-\\u009f]`);
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MIME = /^[a-z]+\/[a-z0-9.+-]+$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** chars counts Unicode code points, as Go's utf8.RuneCountInString does. */
function chars(s) {
  let n = 0;
  for (const _ of s) n++; // eslint-disable-line no-unused-vars
  return n;
}

/** optString returns s, or '' when it is missing; anything else is refused. */
function optString(field, s) {
  if (s === undefined || s === null) return '';
  if (typeof s !== 'string') throw new ManifestError(field, 'must be a string');
  return s;
}

function word(field, s) {
  const v = optString(field, s);
  if (v === '') throw new ManifestError(field, 'missing');
  if (SPACE_OR_CONTROL.test(v)) throw new ManifestError(field, 'contains white space or a control character');
  return v;
}

function maxChars(field, s, max) {
  const n = chars(s);
  if (n > max) throw new ManifestError(field, `${n} characters, at most ${max}`);
}

/**
 * validateManifest checks every field against the rules and throws a ManifestError at the first
 * fault. It returns the manifest normalised (missing strings as '', missing target as null).
 * @param {Manifest} m
 * @returns {{account: string, action: string, text: string, media: Media[], target: Target|null}}
 */
export function validateManifest(m) {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new ManifestError('manifest', 'must be an object');
  const account = word('account', m.account);
  const action = word('action', m.action);
  const text = optString('text', m.text);
  let media = [];
  if (m.media !== undefined && m.media !== null) {
    if (!Array.isArray(m.media)) throw new ManifestError('media', 'must be a list');
    if (m.media.length > LIMITS.media) throw new ManifestError('media', `${m.media.length} attachments, at most ${LIMITS.media}`);
    media = m.media.map((f, i) => {
      const field = `media[${i}]`;
      if (f === null || typeof f !== 'object' || Array.isArray(f)) throw new ManifestError(field, 'must be an object');
      if (typeof f.sha256 !== 'string' || !HEX64.test(f.sha256)) throw new ManifestError(`${field}.sha256`, 'must be 64 lowercase hex characters');
      if (!Number.isSafeInteger(f.size)) throw new ManifestError(`${field}.size`, 'must be a whole number of bytes');
      if (f.size < 0) throw new ManifestError(`${field}.size`, 'must not be negative');
      const type = optString(`${field}.type`, f.type);
      if (!MIME.test(type)) throw new ManifestError(`${field}.type`, `${JSON.stringify(type.slice(0, 40))} is not a lowercase MIME type`);
      const name = optString(`${field}.name`, f.name);
      maxChars(`${field}.name`, name, LIMITS.name);
      if (CONTROL.test(name)) throw new ManifestError(`${field}.name`, 'contains a control character');
      const alt = optString(`${field}.alt`, f.alt);
      maxChars(`${field}.alt`, alt, LIMITS.alt);
      return { sha256: f.sha256, size: f.size, type, name, alt };
    });
  }
  let target = null;
  if (m.target !== undefined && m.target !== null) {
    const t = m.target;
    if (typeof t !== 'object' || Array.isArray(t)) throw new ManifestError('target', 'must be an object');
    const url = optString('target.url', t.url);
    maxChars('target.url', url, LIMITS.url);
    if (!url.startsWith('https://') || url.length === 'https://'.length) throw new ManifestError('target.url', 'must be an https address');
    if (SPACE_OR_CONTROL.test(url)) throw new ManifestError('target.url', 'contains white space or a control character');
    const author = optString('target.author', t.author);
    maxChars('target.author', author, LIMITS.author);
    const excerpt = optString('target.excerpt', t.excerpt);
    maxChars('target.excerpt', excerpt, LIMITS.excerpt);
    target = { url, author, excerpt };
  }
  return { account, action, text, media, target };
}

/**
 * manifestLines returns the canonical lines joined with LF: the bytes the digest is taken over.
 * @param {Manifest} m
 * @returns {Promise<string>}
 */
export async function manifestLines(m) {
  const v = validateManifest(m);
  const lines = [
    VERSION,
    `account ${v.account}`,
    `action ${v.action}`,
    `text ${await digest(v.text)}`,
    `target ${v.target ? v.target.url : NO_TARGET}`,
    `media ${v.media.length}`,
  ];
  for (const f of v.media) lines.push(`${f.sha256} ${await digest(f.alt)}`);
  return lines.join('\n');
}

/**
 * manifestDigest returns the manifest digest: lowercase hex SHA-256 of manifestLines(m).
 * @param {Manifest} m
 * @returns {Promise<string>}
 */
export async function manifestDigest(m) {
  const bytes = new TextEncoder().encode(await manifestLines(m));
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}

/**
 * fileDigest returns the lowercase hex SHA-256 of a file's bytes, the sha256 of a Media entry.
 * @param {BufferSource} bytes
 * @returns {Promise<string>}
 */
export async function fileDigest(bytes) {
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}
