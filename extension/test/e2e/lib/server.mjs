// HTTPS fixture server for the platform sites: serves imitation composer pages for x.com and a
// Mastodon instance, and records every publishing request that reaches it. If a request is in
// `received`, it got past the extension.

import https from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { until } from './wait.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, '..', 'fixtures');

const SITES = {
  'x.com': 'x',
  'twitter.com': 'x',
  'social.example': 'mastodon',
  'other.example': 'other',
};

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * startServer listens on 127.0.0.1:port with the given certificate.
 * @returns {Promise<{port: number, received: any[], reset: () => void, close: () => Promise<void>, extraPages: Map<string,string>}>}
 */
export async function startServer({ port, key, cert }) {
  const received = [];
  const extraPages = new Map(); // "host/path" -> html, for pages a scenario makes up
  const server = https.createServer({ key, cert }, async (req, res) => {
    const host = String(req.headers.host || '').replace(/:\d+$/, '');
    const url = new URL(req.url, `https://${host}`);
    const site = SITES[host];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const body = await readBody(req);
      let text = null;
      try {
        const j = JSON.parse(body);
        text = j.status ?? j.variables?.tweet_text ?? null;
      } catch {
        text = new URLSearchParams(body).get('status');
      }
      received.push({ host, method: req.method, path: url.pathname, text, at: Date.now() });
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      res.end(JSON.stringify({ ok: true, id: String(received.length) }));
      return;
    }
    const extra = extraPages.get(`${host}${url.pathname}`);
    if (extra) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(extra);
      return;
    }
    if (!site) { res.writeHead(404); res.end('no such site'); return; }
    let file = url.pathname === '/' ? 'home' : url.pathname.slice(1).replace(/[^a-z0-9_-]/gi, '_');
    if (site === 'x' && /^\/[^/]+\/status\/\d+/.test(url.pathname)) file = 'home';
    if (site === 'mastodon' && url.pathname.startsWith('/@')) file = 'home';
    try {
      const html = readFileSync(join(FIXTURES, site, `${file}.html`));
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    } catch {
      res.writeHead(404); res.end('not found');
    }
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  return {
    port: server.address().port,
    received,
    extraPages,
    reset() { received.length = 0; },
    /** waitFor returns once at least n publishing requests have reached the server. */
    waitFor(n, timeout = 15000) { return until(() => `${n} publishing request(s) at the server (got ${received.length})`, () => received.length >= n, { timeout }); },
    close() { return new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }); },
  };
}
