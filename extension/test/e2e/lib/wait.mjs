// Waiting on real state in the browser tests, never on the clock: a condition is polled until it
// holds, and the timeout only turns "never happened" into a failure that names what was awaited.

/** CI is true under CI=true: then a missing prerequisite fails a scenario instead of skipping it. */
export const CI = ['true', '1'].includes(String(process.env.CI || '').toLowerCase());

/**
 * until polls check (a log, a status, a count) until it returns a truthy value, and returns it.
 * @template T
 * @param {string | (() => string)} what what is awaited, for the failure message
 * @param {() => T | Promise<T>} check
 * @returns {Promise<T>}
 */
export async function until(what, check, { timeout = 15000, every = 50 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= end) throw new Error(`waited ${timeout} ms for ${typeof what === 'function' ? what() : what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
