// Where a secret may be, read back for the custody scenarios: the daemon's OS keyring, and every
// process's command line while a scenario runs.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * keyringService is the keyring service name the daemon uses for its FOUREYES_HOME (as
 * daemon/cmd/foureyes keyringService: "foureyes-" and the first 6 bytes of SHA-256 of the
 * folder, in hex), so two daemons of one user never share entries.
 */
export function keyringService(home) {
  return `foureyes-${createHash('sha256').update(home).digest('hex').slice(0, 12)}`;
}

/**
 * keyringSecret reads one entry of the daemon's keyring straight from the Secret Service with
 * secret-tool (the attributes go-keyring writes: service and username), or null when there is
 * none. Only the attributes are on secret-tool's command line; the secret comes back on stdout.
 */
export function keyringSecret(home, key) {
  try {
    return execFileSync('secret-tool', ['lookup', 'service', keyringService(home), 'username', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
  } catch (e) {
    if (e.status === 1 && !e.stderr) return null; // secret-tool: no such entry
    throw new Error(`secret-tool lookup ${key}: ${e.stderr || e.message}`);
  }
}

/** cmdlineWatch samples every process's command line (/proc/PID/cmdline) until stop(). */
export function cmdlineWatch() {
  const seen = new Set();
  const tick = () => {
    for (const pid of readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
      try { seen.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')); } catch { /* gone meanwhile */ }
    }
  };
  tick();
  const t = setInterval(tick, 100);
  return { stop() { clearInterval(t); tick(); return [...seen]; } };
}
