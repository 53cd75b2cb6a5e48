// Removing a platform's site data at sign-out, in Chromium and in Firefox.
//
// Chromium's browsingData.remove takes the origins and removes cookies, localStorage,
// IndexedDB, Cache Storage and service workers of exactly those. Firefox's does not take
// origins: it takes host names, and with them removes cookies, localStorage, IndexedDB and
// service-worker registrations of each host. Firefox has no per-site removal of Cache Storage
// (its `cache` is the whole HTTP cache), so there that one stays; the platform's session lives
// in its cookies, which custody.js also removes one by one with the cookies API afterwards.

export const isFirefox = () => chrome.runtime.getURL('').startsWith('moz-extension:');

/** removeSiteData removes the `clear` kinds of site data of origins. Returns the problems (strings). */
export async function removeSiteData(origins, clear) {
  const want = new Set(clear || []);
  try {
    if (isFirefox()) {
      const hostnames = [...new Set(origins.map((o) => new URL(o).hostname))];
      await chrome.browsingData.remove({ hostnames }, {
        cookies: want.has('cookies'), localStorage: want.has('localStorage'),
        indexedDB: want.has('indexedDB'), serviceWorkers: want.has('serviceWorkers'),
      });
    } else {
      await chrome.browsingData.remove({ origins }, {
        cookies: want.has('cookies'), localStorage: want.has('localStorage'), indexedDB: want.has('indexedDB'),
        cacheStorage: want.has('cacheStorage'), serviceWorkers: want.has('serviceWorkers'),
      });
    }
    return [];
  } catch (err) {
    return [`removing site data failed: ${err && err.message || err}`];
  }
}
