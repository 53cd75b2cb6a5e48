// A stand-in native-messaging host for the browser tests: answers the extension's hello with
// what the test wrote into host-config.json next to it (port, token, daemon key). Native
// messaging framing: 4-byte little-endian length, then UTF-8 JSON.

import { readFileSync, appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const cfgPath = process.env.FOUREYES_FAKE_HOST_CONFIG || join(dir, 'host-config.json');

let buf = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  while (buf.length >= 4) {
    const n = buf.readUInt32LE(0);
    if (buf.length < 4 + n) break;
    const msg = JSON.parse(buf.subarray(4, 4 + n).toString('utf8'));
    buf = buf.subarray(4 + n);
    let cfg = {};
    try { cfg = JSON.parse(readFileSync(cfgPath, 'utf8')); } catch {}
    try { appendFileSync(cfgPath + '.log', JSON.stringify(msg) + '\n'); } catch {}
    const reply = cfg.error
      ? { v: 1, type: 'error', error: cfg.error }
      : { v: 1, type: 'hello', port: cfg.port, token: cfg.token, daemon_key: cfg.daemon_key, expires: new Date(Date.now() + 60000).toISOString() };
    const out = Buffer.from(JSON.stringify(reply), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(out.length, 0);
    process.stdout.write(Buffer.concat([len, out]));
  }
});
process.stdin.on('end', () => process.exit(0));
