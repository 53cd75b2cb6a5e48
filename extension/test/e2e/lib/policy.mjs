// Chromium's machine-wide managed policy, for the scenarios that need IT's configuration
// (managed storage) as a real deployment gives it: /etc/chromium/policies/managed/NAME.json with
// "3rdparty" -> extensions -> ID. The file applies to every Chromium on the machine, so it is
// written only while this process holds the browser-test lock (/tmp/foureyes-e2e.lock, also held
// when an ancestor process took it with flock(1)), and always removed again.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync, rmSync, statSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { until } from './wait.mjs';

export const POLICY_DIR = process.env.FOUREYES_CHROMIUM_POLICY_DIR || '/etc/chromium/policies/managed';
export const LOCK = '/tmp/foureyes-e2e.lock';

/** whyNot says what stops this process from writing Chromium's managed policy, or null. */
export function whyNot() {
  try {
    mkdirSync(POLICY_DIR, { recursive: true });
    const probe = join(POLICY_DIR, `.foureyes-probe-${process.pid}`);
    writeFileSync(probe, '{}');
    rmSync(probe);
    return null;
  } catch (e) {
    return `write access to Chromium's managed policy folder ${POLICY_DIR} (run as root, as CI does): ${e.code || e.message}`;
  }
}

function ancestors() {
  const out = new Set();
  let pid = process.pid;
  while (pid > 1) {
    out.add(pid);
    try { pid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]); } catch { break; }
  }
  return out;
}

/** lockHolders lists the processes holding an flock on LOCK (from /proc/locks). */
function lockHolders() {
  if (!existsSync(LOCK)) return [];
  const ino = statSync(LOCK).ino;
  return readFileSync('/proc/locks', 'utf8').split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === 'FLOCK' && f[5] && Number(f[5].split(':')[2]) === ino)
    .map((f) => Number(f[4]));
}

/**
 * holdLock returns a release function once this process may use the browsers alone: at once when
 * an ancestor holds LOCK, else after taking it with flock(1).
 */
export async function holdLock() {
  const mine = ancestors();
  if (lockHolders().some((p) => mine.has(p))) return () => {};
  closeSync(openSync(LOCK, 'a'));
  const child = spawn('flock', [LOCK, 'sh', '-c', 'echo held; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let held = false;
  child.stdout.on('data', (b) => { if (String(b).includes('held')) held = true; });
  await until('the browser-test lock /tmp/foureyes-e2e.lock', () => held || child.exitCode !== null, { timeout: 30 * 60000, every: 200 });
  if (!held) throw new Error('flock(1) could not take /tmp/foureyes-e2e.lock');
  return () => { child.stdin.end(); };
}

/**
 * withPolicy writes the policy file NAME.json with `policy` for the duration of fn, then removes
 * it (also when fn throws).
 */
export async function withPolicy(name, policy, fn) {
  const release = await holdLock();
  const file = join(POLICY_DIR, `${name}.json`);
  try {
    mkdirSync(POLICY_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify(policy, null, 2), { mode: 0o644 });
    return await fn(file);
  } finally {
    rmSync(file, { force: true });
    release();
  }
}
