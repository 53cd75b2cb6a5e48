// Content digest: binds an approval to one exact text.
//
// The daemon (Go) computes the same digest; both sides are pinned by shared/vectors/digest.json.
// Canonical form: Unicode NFC, CRLF and lone CR become LF, trailing white space removed from
// every line and from the whole text. Leading and inner white space are kept: they are visible.
//
// Pure module: no browser APIs beyond WebCrypto, which node 20 provides too.

// White space exactly as Go's unicode.IsSpace sees it. JavaScript's \s differs in two places
// (it lacks U+0085 NEXT LINE and adds U+FEFF), so the class is spelled out.
const SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRAILING = new RegExp(`[${SPACE}]+$`);

/**
 * canonical returns the canonical form of text.
 * @param {string} text
 * @returns {string}
 */
export function canonical(text) {
  if (typeof text !== 'string') throw new TypeError('canonical: text must be a string');
  let s = text.normalize('NFC');
  if (s.includes('\r')) s = s.replace(/\r\n?/g, '\n');
  // Per line: split on LF only (U+2028 is white space to Go, not a line end), trim the right.
  s = s.split('\n').map((line) => line.replace(TRAILING, '')).join('\n');
  return s.replace(TRAILING, '');
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * toHex encodes bytes as lowercase hex.
 * @param {ArrayBuffer|Uint8Array} buf
 */
export function toHex(buf) {
  const b = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let out = '';
  for (let i = 0; i < b.length; i++) out += HEX[b[i]];
  return out;
}

/**
 * digest returns the lowercase hex SHA-256 of the UTF-8 bytes of canonical(text).
 * @param {string} text
 * @returns {Promise<string>}
 */
export async function digest(text) {
  const bytes = new TextEncoder().encode(canonical(text));
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}

/** validDigest reports whether d has the form of a digest: 64 lowercase hex characters. */
export function validDigest(d) {
  return typeof d === 'string' && /^[0-9a-f]{64}$/.test(d);
}

// Kept for the tests, which check the class against Go's unicode.IsSpace list.
export const _SPACE_CLASS = SPACE;
