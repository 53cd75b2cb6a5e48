// Test files for the attachment scenarios: small real PNGs with distinct bytes.

import { createHash } from 'node:crypto';
import { deflateSync, crc32 } from 'node:zlib';

/** png makes a small real PNG (stripes in a colour picked by seed): distinct bytes per seed. */
export function png(seed) {
  const w = 96, h = 64;
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = [0];
    for (let x = 0; x < w; x++) { const on = ((x >> 3) + (y >> 3) + seed) % 2; row.push(on ? 30 + seed * 40 : 240, on ? 90 : 240, on ? 200 - seed * 30 : 240); }
    rows.push(Buffer.from(row));
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}
export const sha256hex = (b) => createHash('sha256').update(b).digest('hex');

