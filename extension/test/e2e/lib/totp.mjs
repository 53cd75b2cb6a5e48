// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), for the fixture platforms' own two-factor check and the
// protocol stand-in's `credentials` answer. The real daemon computes its code itself; the
// fixture server checks it with this, so a wrong seed or clock fails the sign-in.

import { createHmac } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** fromBase32 decodes an unpadded RFC 4648 base32 string. */
export function fromBase32(s) {
  const clean = s.replace(/=+$/, '').toUpperCase();
  let bits = 0, value = 0;
  const out = [];
  for (const ch of clean) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new Error(`base32: bad character ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

/** totp returns the 6-digit code of seed (base32) for time step `step` (default: now). */
export function totp(seed, step = Math.floor(Date.now() / 30000)) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', fromBase32(seed)).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, '0');
}

/** totpValid accepts the current step and one each way, as the platforms do. */
export function totpValid(seed, code, now = Date.now()) {
  const step = Math.floor(now / 30000);
  return [-1, 0, 1].some((d) => totp(seed, step + d) === code);
}
