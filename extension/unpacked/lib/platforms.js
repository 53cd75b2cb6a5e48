// Platform matching over the platform table (shared/platforms.json, copied to
// extension/data/platforms.json). Pure module: no browser APIs.
//
// Hosts match exactly (lowercase, no port, no trailing dot). A platform marked
// instances_from_policy (Mastodon) takes its hosts from the instance list the caller passes in,
// which the worker assembles from managed storage, local settings and the daemon's policy.

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * normalizeHost lowercases a host name and drops a port and a trailing dot; null if it is not a
 * plain DNS name.
 * @param {string} host
 * @returns {string|null}
 */
export function normalizeHost(host) {
  if (typeof host !== 'string') return null;
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) return null; // IPv6 literal: never a platform
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return HOSTNAME.test(h) ? h : null;
}

/**
 * normalizeInstances cleans an instance list: valid host names only, deduplicated, sorted.
 * Entries may be bare hosts or https:// URLs.
 * @param {unknown} list
 * @returns {string[]}
 */
export function normalizeInstances(list) {
  if (!Array.isArray(list)) return [];
  const out = new Set();
  for (const item of list) {
    if (typeof item !== 'string') continue;
    let h = item.trim();
    if (/^https:\/\//i.test(h)) {
      try { h = new URL(h).host; } catch { continue; }
    }
    const n = normalizeHost(h);
    if (n) out.add(n);
  }
  return [...out].sort();
}

/**
 * checkTable throws unless t looks like a version 1 platform table.
 * @param {any} t
 * @returns {any} t
 */
export function checkTable(t) {
  if (!t || t.version !== 1 || !Array.isArray(t.platforms)) throw new Error('platform table: want {"version":1,"platforms":[...]}');
  const ids = new Set();
  for (const p of t.platforms) {
    if (!p || typeof p.id !== 'string' || ids.has(p.id)) throw new Error(`platform table: bad or duplicate id ${p && p.id}`);
    ids.add(p.id);
    if (!Array.isArray(p.hosts)) throw new Error(`platform table: ${p.id}: hosts must be a list`);
    if (p.status !== 'supported') continue;
    if (!Array.isArray(p.publish) || p.publish.length === 0) throw new Error(`platform table: ${p.id}: no publish endpoints`);
    for (const e of p.publish) {
      if (!!e.url_regex === !!e.path_regex) throw new Error(`platform table: ${p.id}: endpoint needs exactly one of url_regex, path_regex`);
      const src = e.url_regex || e.path_regex;
      if (!src.startsWith('^')) throw new Error(`platform table: ${p.id}: ${src}: must be anchored with ^`);
      new RegExp(src); // throws on a bad expression
    }
    if (!p.composer || !Array.isArray(p.composer.text) || !Array.isArray(p.composer.submit)) throw new Error(`platform table: ${p.id}: composer needs text and submit selectors`);
    checkPostParts(p);
  }
  return t;
}

/** oneGroup compiles src and requires it to have at least one capturing group. */
function oneGroup(where, src) {
  let re;
  try { re = new RegExp(`${src}|`); } catch (e) { throw new Error(`${where}: ${src}: ${e.message}`); }
  if (re.exec('').length < 2) throw new Error(`${where}: ${src}: needs a group that captures the id`);
}

/**
 * checkPostParts checks what the table says about attachments and target posts: upload
 * endpoints anchored, id expressions with a group, an https address template with {id}, and the
 * publishing endpoints' url_target with a group.
 */
function checkPostParts(p) {
  for (const e of p.publish) if (e.url_target) oneGroup(`platform table: ${p.id}: url_target`, e.url_target);
  if (p.media) {
    if (typeof p.media.preview !== 'string' || !Array.isArray(p.media.upload) || !p.media.upload.length) throw new Error(`platform table: ${p.id}: media needs preview and upload`);
    for (const u of p.media.upload) {
      if (!!u.url_regex === !!u.path_regex) throw new Error(`platform table: ${p.id}: upload needs exactly one of url_regex, path_regex`);
      const src = u.url_regex || u.path_regex;
      if (!src.startsWith('^')) throw new Error(`platform table: ${p.id}: upload ${src}: must be anchored with ^`);
      new RegExp(src);
      if (typeof u.response_id !== 'string' || !u.response_id) throw new Error(`platform table: ${p.id}: upload ${src}: needs response_id`);
    }
  }
  if (p.target) {
    const t = p.target;
    if (!Array.isArray(t.post) || typeof t.link !== 'string') throw new Error(`platform table: ${p.id}: target needs post and link selectors`);
    oneGroup(`platform table: ${p.id}: target.id_regex`, t.id_regex);
    if (typeof t.url_template !== 'string' || !/^https:\/\/\S*\{id\}/.test(t.url_template)) throw new Error(`platform table: ${p.id}: target.url_template must be an https address with {id}`);
  }
}

/** supported lists the platforms the gate enforces (status "supported"). */
export function supported(table) {
  return table.platforms.filter((p) => p.status === 'supported');
}

/**
 * hostsOf lists the hosts of platform p: its own, plus the instances for a platform whose hosts
 * come from policy.
 * @param {any} p
 * @param {string[]} instances
 */
export function hostsOf(p, instances = []) {
  const own = p.hosts.map(normalizeHost).filter(Boolean);
  return p.instances_from_policy ? [...new Set([...own, ...normalizeInstances(instances)])] : own;
}

/**
 * platformForHost returns the supported platform serving host, or null.
 * @param {any} table
 * @param {string} host
 * @param {string[]} instances
 */
export function platformForHost(table, host, instances = []) {
  const h = normalizeHost(host);
  if (!h) return null;
  for (const p of supported(table)) {
    if (hostsOf(p, instances).includes(h)) return p;
  }
  return null;
}

/**
 * platformForUrl returns the supported platform for an https URL, or null (other schemes never
 * match).
 */
export function platformForUrl(table, url, instances = []) {
  let u;
  try { u = new URL(url); } catch { return null; }
  if (u.protocol !== 'https:') return null;
  return platformForHost(table, u.hostname, instances);
}

/** escapeRegex quotes a literal for use in a regular expression (JS and RE2 alike). */
export function escapeRegex(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * endpointRegexes returns the full-URL regular expressions (source text) of one publishing
 * endpoint: the url_regex itself, or one per host for a path_regex.
 * @returns {string[]}
 */
export function endpointRegexes(p, endpoint, instances = []) {
  if (endpoint.url_regex) return [endpoint.url_regex];
  const path = endpoint.path_regex.replace(/^\^/, '');
  return hostsOf(p, instances).map((h) => `^https://${escapeRegex(h)}(:443)?${path}`);
}

/**
 * publishEndpoint returns {platform, endpoint} when method+url is a publishing request of a
 * supported platform, else null.
 */
export function publishEndpoint(table, method, url, instances = []) {
  const m = String(method || '').toUpperCase();
  for (const p of supported(table)) {
    for (const e of p.publish) {
      if (e.method !== m) continue;
      for (const src of endpointRegexes(p, e, instances)) {
        if (new RegExp(src, 'i').test(url)) return { platform: p, endpoint: e };
      }
    }
  }
  return null;
}

/**
 * contentScriptMatches returns the match patterns the page gate must run on.
 * @returns {string[]}
 */
export function contentScriptMatches(table, instances = []) {
  const out = [];
  for (const p of supported(table)) for (const h of hostsOf(p, instances)) out.push(`https://${h}/*`);
  return [...new Set(out)].sort();
}

/**
 * actionFor decides which action a composer performs, from the platform's "actions" list.
 * probe(scope, has) reports whether the composer's closest `scope` ancestor contains `has`; the
 * content script supplies it, so this stays free of the DOM.
 * @param {any} p
 * @param {{path: string, probe: (scope: string, has: string) => boolean}} ctx
 * @returns {string}
 */
export function actionFor(p, ctx) {
  for (const rule of p.actions || []) {
    if (rule.url_regex && !new RegExp(rule.url_regex).test(ctx.path || '')) continue;
    if (rule.has && !ctx.probe(rule.scope || ':root', rule.has)) continue;
    return rule.action;
  }
  return 'post';
}

/**
 * composerConfig is the part of a platform entry the content script needs.
 */
export function composerConfig(p) {
  return { id: p.id, name: p.name, composer: p.composer, actions: p.actions || [] };
}

/**
 * bodyText reads the post's text out of a request body as webRequest reports it
 * ({raw: [{bytes}]} or {formData}), following the endpoint's body_text path. null when the
 * endpoint names no path or the body does not have it.
 * @param {any} endpoint
 * @param {any} requestBody
 * @returns {string|null}
 */
export function bodyText(endpoint, requestBody) {
  const path = endpoint && endpoint.body_text;
  if (!path || !requestBody) return null;
  if (requestBody.formData) {
    const v = requestBody.formData[path];
    return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : null;
  }
  if (!Array.isArray(requestBody.raw)) return null;
  const parts = requestBody.raw.filter((r) => r && r.bytes).map((r) => new Uint8Array(r.bytes));
  if (!parts.length) return null;
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { all.set(p, off); off += p.length; }
  const raw = new TextDecoder().decode(all);
  let v;
  try {
    v = JSON.parse(raw);
    for (const k of path.split('.')) v = v && typeof v === 'object' ? v[k] : undefined;
  } catch {
    v = new URLSearchParams(raw).get(path);
  }
  return typeof v === 'string' ? v : null;
}
