// A throwaway TLS certificate for the fixture hosts, made with openssl at run time.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * makeCert writes key.pem and cert.pem into dir for the given host names and returns them.
 * @param {string} dir
 * @param {string[]} hosts
 */
export function makeCert(dir, hosts) {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=foureyes e2e',
    '-addext', `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')},IP:127.0.0.1`,
  ], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}
