#!/usr/bin/env node
// Reads a CRX3 file's header and prints the extension ID it was signed for, after checking that
// the ID is the one derived from a public key in the header and from the "key" in the packed
// manifest.json (so the browser, the update manifest and the policies all name one extension).
//
//   node installer/crx.mjs id FILE.crx           # prints the ID, exit 1 on any mismatch
//   node installer/crx.mjs key-id BASE64_DER     # the ID a manifest "key" gives
//
// CRX3: "Cr24", version 3 (uint32 LE), header length (uint32 LE), a CrxFileHeader protobuf, then
// the zip. CrxFileHeader: field 2 sha256_with_rsa {1: public_key, 2: signature} (repeated),
// field 10000 signed_header_data = SignedData {1: crx_id (16 bytes)}.

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';

/** idFromBytes maps 16 bytes to the 32 letters a-p Chromium uses for extension IDs. */
export function idFromBytes(b) {
  return [...Buffer.from(b).subarray(0, 16).toString('hex')].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
}

export function idFromKey(der) {
  return idFromBytes(createHash('sha256').update(der).digest());
}

function varint(buf, pos) {
  let v = 0, shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated protobuf varint');
    const b = buf[pos++];
    v += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7;
  }
}

/** fields parses one protobuf message into [fieldNumber, bytes] pairs (length-delimited only). */
function fields(buf) {
  const out = [];
  let pos = 0;
  while (pos < buf.length) {
    let key; [key, pos] = varint(buf, pos);
    const field = Math.floor(key / 8), wire = key & 7;
    if (wire === 2) {
      let n; [n, pos] = varint(buf, pos);
      out.push([field, buf.subarray(pos, pos + n)]);
      pos += n;
    } else if (wire === 0) {
      [, pos] = varint(buf, pos);
    } else {
      throw new Error(`unexpected protobuf wire type ${wire}`);
    }
  }
  return out;
}

/** zipEntry returns one file of a zip archive (stored or deflated), found via the central directory. */
function zipEntry(zip, name) {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('the CRX holds no zip archive');
  let p = zip.readUInt32LE(eocd + 16);
  const count = zip.readUInt16LE(eocd + 10);
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(p + 10), size = zip.readUInt32LE(p + 20);
    const nlen = zip.readUInt16LE(p + 28), xlen = zip.readUInt16LE(p + 30), clen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    if (zip.subarray(p + 46, p + 46 + nlen).toString() === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      return method === 0 ? data : inflateRawSync(data);
    }
    p += 46 + nlen + xlen + clen;
  }
  throw new Error(`the CRX has no ${name}`);
}

/** crxInfo returns {id, keyIds, manifestId, version} of a CRX3 file. */
export function crxInfo(buf) {
  if (buf.subarray(0, 4).toString() !== 'Cr24') throw new Error('not a CRX file (no Cr24 magic)');
  if (buf.readUInt32LE(4) !== 3) throw new Error(`CRX version ${buf.readUInt32LE(4)}, want 3`);
  const hlen = buf.readUInt32LE(8);
  const header = buf.subarray(12, 12 + hlen);
  let id = null;
  const keyIds = [];
  for (const [f, v] of fields(header)) {
    if (f === 2) for (const [g, w] of fields(v)) if (g === 1) keyIds.push(idFromKey(w));
    if (f === 10000) for (const [g, w] of fields(v)) if (g === 1) id = idFromBytes(w);
  }
  if (!id) throw new Error('the CRX header has no signed crx_id');
  const manifest = JSON.parse(zipEntry(buf.subarray(12 + hlen), 'manifest.json').toString('utf8'));
  const manifestId = manifest.key ? idFromKey(Buffer.from(manifest.key, 'base64')) : null;
  return { id, keyIds, manifestId, version: manifest.version };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const [cmd, arg] = process.argv.slice(2);
  try {
    if (cmd === 'id' && arg) {
      const info = crxInfo(readFileSync(arg));
      if (!info.keyIds.includes(info.id)) throw new Error(`signed ID ${info.id} is not derived from any key in the header (${info.keyIds.join(', ')})`);
      if (info.manifestId !== info.id) throw new Error(`signed ID ${info.id}, but the packed manifest's "key" gives ${info.manifestId ?? 'no ID (no key)'}`);
      process.stdout.write(info.id + '\n');
    } else if (cmd === 'key-id' && arg) {
      process.stdout.write(idFromKey(Buffer.from(arg, 'base64')) + '\n');
    } else if (cmd === 'version' && arg) {
      process.stdout.write(crxInfo(readFileSync(arg)).version + '\n');
    } else {
      process.stderr.write('usage: crx.mjs id FILE.crx | version FILE.crx | key-id BASE64_DER\n');
      process.exit(2);
    }
  } catch (e) {
    process.stderr.write(`crx: ${arg}: ${e.message}\n`);
    process.exit(1);
  }
}
