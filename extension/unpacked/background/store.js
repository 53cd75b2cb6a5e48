// Worker state that must survive the service worker being stopped lives in
// chrome.storage.session (memory only, cleared when the browser closes). Module variables are
// caches, rebuilt from here on every start, never the other way round.

const area = () => chrome.storage.session;

/** get returns the stored value of key, or fallback. */
export async function get(key, fallback) {
  const r = await area().get(key);
  return r[key] === undefined ? fallback : r[key];
}

/** set stores value under key. */
export async function set(key, value) {
  await area().set({ [key]: value });
}

/** remove deletes key. */
export async function remove(key) {
  await area().remove(key);
}

let chain = Promise.resolve();

/**
 * update applies fn to the value of key and stores the result, one update at a time, so that
 * concurrent handlers do not lose each other's writes.
 * @template T
 * @param {string} key
 * @param {(v: T) => T} fn
 * @param {T} fallback
 * @returns {Promise<T>}
 */
export function update(key, fn, fallback) {
  const run = chain.then(async () => {
    const next = fn(await get(key, fallback));
    await set(key, next);
    return next;
  });
  chain = run.catch(() => {});
  return run;
}
