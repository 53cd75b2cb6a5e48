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
    for (const h of p.api_hosts || []) {
      if (!isHostPattern(h)) throw new Error(`platform table: ${p.id}: api host ${JSON.stringify(h)}: want a host name, or *. and a host name (no other wildcard)`);
    }
    for (const e of p.publish) {
      if (!!e.url_regex === !!e.path_regex) throw new Error(`platform table: ${p.id}: endpoint needs exactly one of url_regex, path_regex`);
      const src = e.url_regex || e.path_regex;
      if (!src.startsWith('^')) throw new Error(`platform table: ${p.id}: ${src}: must be anchored with ^`);
      new RegExp(src); // throws on a bad expression
      if (e.path_regex && !p.instances_from_policy && !(p.api_hosts || []).length) throw new Error(`platform table: ${p.id}: ${src}: a path_regex needs api_hosts or instances_from_policy`);
      if (e.body_match !== undefined) {
        const m = e.body_match;
        if (!m || typeof m !== 'object' || !BODY_PATH.test(m.path || '') || typeof m.equals !== 'string' || !m.equals ||
            (m.also !== undefined && (!Array.isArray(m.also) || !m.also.every((x) => typeof x === 'string' && x)))) {
          throw new Error(`platform table: ${p.id}: ${src}: body_match needs a dotted path (segments or *) and a text to equal`);
        }
      }
      if (e.body_text !== undefined && (typeof e.body_text !== 'string' || !e.body_text)) throw new Error(`platform table: ${p.id}: ${src}: body_text must be a path`);
    }
    if (!p.composer || !Array.isArray(p.composer.text) || !Array.isArray(p.composer.submit)) throw new Error(`platform table: ${p.id}: composer needs text and submit selectors`);
    checkPostParts(p);
  }
  return t;
}

// A path into a JSON body: dotted segments, where * stands for any element of an array.
const BODY_PATH = /^([A-Za-z0-9_$]+|\*)(\.([A-Za-z0-9_$]+|\*))*$/;

/**
 * isHostPattern says whether s is an API host of the table: a host name, or "*." and a host name
 * of at least two labels (the only wildcard there is).
 * @param {unknown} s
 */
export function isHostPattern(s) {
  if (typeof s !== 'string') return false;
  const rest = s.startsWith('*.') ? s.slice(2) : s;
  return rest.includes('.') && normalizeHost(rest) === rest;
}

/**
 * hostMatches says whether host (normalised) is pattern: equal to a plain host name, or for
 * "*.suffix" any host under suffix (one or more labels more; not suffix itself).
 */
export function hostMatches(pattern, host) {
  const h = normalizeHost(host);
  if (!h || !isHostPattern(pattern)) return false;
  return pattern.startsWith('*.') ? h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1 : h === pattern;
}

/** hostRegex is the regular expression (source, JS and RE2) of a host or a host pattern. */
export function hostRegex(pattern) {
  return pattern.startsWith('*.') ? `[a-z0-9-]+(\\.[a-z0-9-]+)*\\.${escapeRegex(pattern.slice(2))}` : escapeRegex(pattern);
}

/** apiHostOf says whether host is one of platform p's API hosts (api_hosts, patterns allowed). */
export function apiHostOf(p, host) {
  return (p.api_hosts || []).some((pat) => hostMatches(pat, host));
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
    if (p.media.content_id !== undefined && p.media.content_id !== 'cid_raw_sha256') throw new Error(`platform table: ${p.id}: media.content_id ${JSON.stringify(p.media.content_id)}: the only content address known is cid_raw_sha256`);
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
  // A platform with API hosts (Bluesky's PDS hosts) publishes there, not on its pages' hosts.
  if (p.api_hosts && p.api_hosts.length) return p.api_hosts.map((h) => `^https://${hostRegex(h)}(:443)?${path}`);
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
 * urlEndpoints lists the publishing endpoints of platform p that method+url is, by URL alone
 * (endpoints told apart by their body share a URL).
 */
export function urlEndpoints(p, method, url, instances = []) {
  const m = String(method || '').toUpperCase();
  return p.publish.filter((e) => e.method === m && endpointRegexes(p, e, instances).some((src) => new RegExp(src, 'i').test(url)));
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
 * parseBody reads a request body as webRequest reports it ({raw: [{bytes}]} or {formData}):
 * {json} for a JSON body, {form} for form fields, or null when there is none to read.
 * @param {any} requestBody
 * @returns {{json?: any, form?: Record<string, string[]>}|null}
 */
export function parseBody(requestBody) {
  if (!requestBody) return null;
  if (requestBody.formData) return { form: requestBody.formData };
  if (!Array.isArray(requestBody.raw)) return null;
  const parts = requestBody.raw.filter((r) => r && r.bytes).map((r) => new Uint8Array(r.bytes));
  if (!parts.length) return null;
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { all.set(p, off); off += p.length; }
  const raw = new TextDecoder().decode(all);
  try {
    return { json: JSON.parse(raw) };
  } catch {
    const form = {};
    for (const [k, v] of new URLSearchParams(raw)) (form[k] = form[k] || []).push(v);
    return { form };
  }
}

/**
 * valuesAt lists the values at a dotted path in v; a * segment stands for every element of an
 * array (and matches nothing else).
 * @param {any} v
 * @param {string} path
 * @returns {any[]}
 */
export function valuesAt(v, path) {
  let cur = [v];
  for (const k of path.split('.')) {
    const next = [];
    for (const c of cur) {
      if (k === '*') { if (Array.isArray(c)) next.push(...c); } else if (c && typeof c === 'object' && !Array.isArray(c) && Object.hasOwn(c, k)) next.push(c[k]);
    }
    cur = next;
  }
  return cur;
}

/**
 * bodyMatches says whether a parsed body fits an endpoint's body_match: at least one value at
 * the path equals `equals`, and every value there is `equals` or one of `also`. An endpoint
 * without body_match fits any body.
 */
export function bodyMatches(endpoint, parsed) {
  const m = endpoint && endpoint.body_match;
  if (!m) return true;
  if (!parsed || parsed.json === undefined) return false;
  const vals = valuesAt(parsed.json, m.path);
  const ok = new Set([m.equals, ...(m.also || [])]);
  return vals.includes(m.equals) && vals.every((x) => typeof x === 'string' && ok.has(x));
}

/**
 * textOf reads the post's text from a parsed body by the endpoint's body_text:
 *   {text}            found;
 *   {mismatch: why}   the path has a * and not exactly one text is there (a thread of several
 *                     posts in one request is not the approved post);
 *   null              the endpoint names no path, or the body has none there (the text checked
 *                     before the gate opened stands).
 */
export function textOf(endpoint, parsed) {
  const path = endpoint && endpoint.body_text;
  if (!path || !parsed) return null;
  if (parsed.form) {
    const v = parsed.form[path];
    return Array.isArray(v) && typeof v[0] === 'string' ? { text: v[0] } : null;
  }
  const vals = valuesAt(parsed.json, path).filter((x) => typeof x === 'string');
  if (path.split('.').includes('*')) return vals.length === 1 ? { text: vals[0] } : { mismatch: `${vals.length} texts in one request` };
  return vals.length ? { text: vals[0] } : null;
}

/**
 * bodyText reads the post's text out of a request body as webRequest reports it, following the
 * endpoint's body_text path. null when the endpoint names no path, the body does not have it,
 * or (a * path) not exactly one text is there.
 * @param {any} endpoint
 * @param {any} requestBody
 * @returns {string|null}
 */
export function bodyText(endpoint, requestBody) {
  const r = textOf(endpoint, parseBody(requestBody));
  return r && typeof r.text === 'string' ? r.text : null;
}

/**
 * throughGate reads what went through an open gate: {text} (the text found in the body, or none
 * to check), or {mismatch} when the body fits no endpoint of the opened action (a like sent
 * through a repost's createRecord) or does not hold exactly one text where the table says it
 * sits (a thread of several posts). A mismatch is reported to the daemon as another text.
 */
export function throughGate(opened, requestBody) {
  const parsed = parseBody(requestBody);
  const e = opened.find((x) => bodyMatches(x, parsed));
  if (!e) {
    const kinds = opened.filter((x) => x.body_match).map((x) => x.body_match.path);
    return { text: null, mismatch: `the request's body fits no endpoint of the approved action (${kinds.join(', ') || 'body'})` };
  }
  const r = textOf(e, parsed);
  if (r && r.mismatch) return { text: null, mismatch: r.mismatch };
  return { text: r ? r.text : null, endpoint: e };
}
