// The whole post beyond its text: the links in it (what the approver must see about each), the
// attachments and the target post the composer shows, what a publishing request carries, and the
// comparison of all of it with the approved post. Pure module: no browser APIs.

import { canonical } from './digest.js';
import { validateManifest, LIMITS } from './manifest.js';

// ---- links --------------------------------------------------------------------------------

// An address as people write it: with a scheme, or a bare host name with a dot and a TLD of
// letters (platforms make those links too). Trailing punctuation belongs to the sentence.
const LINK = /\bhttps?:\/\/[^\s<>"']+|(?<![\p{L}\p{N}@._-])(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})(?::\d{1,5})?(?:\/[^\s<>"']*)?/giu;
const TRAILING_PUNCT = /[.,;:!?)\]}'"»”’]+$/u;

/**
 * extractLinks finds every address in text and says where it really goes: the host the
 * browser would contact (ASCII, punycode), the same host as people read it (Unicode), its
 * domain (the last two labels) and flags: "punycode" (a label is xn--), "mixed_script"
 * (letters of two scripts in one label, e.g. Cyrillic in a Latin name), "lookalike" (a label
 * entirely of Cyrillic or Greek letters that look Latin).
 * @param {string} text
 * @returns {{text: string, href: string, host: string, display: string, domain: string, flags: string[]}[]}
 */
export function extractLinks(text) {
  if (typeof text !== 'string') return [];
  const out = [];
  for (const m of canonical(text).matchAll(LINK)) {
    const raw = m[0].replace(TRAILING_PUNCT, '');
    let u;
    try { u = new URL(/^https?:\/\//i.test(raw) ? raw : `https://${raw}`); } catch { continue; }
    if (!u.hostname.includes('.')) continue;
    const host = u.hostname;
    const labels = host.split('.');
    const display = labels.map((l) => (l.startsWith('xn--') ? punycodeDecode(l.slice(4)) ?? l : l)).join('.');
    const flags = new Set();
    // What was typed counts too: a Unicode name the browser turned into xn-- is the same trick.
    if (labels.some((l) => l.startsWith('xn--'))) flags.add('punycode');
    for (const l of display.split('.')) {
      const f = labelFlags(l);
      for (const x of f) flags.add(x);
    }
    out.push({ text: raw, href: u.href, host, display, domain: labels.slice(-2).join('.'), flags: [...flags] });
  }
  return out;
}

// Letters of these scripts that look like Latin ones (Unicode confusables, the common part).
const LATIN_LOOKING = new Set([...'аеорсухіјѕԁӏԛԝАВЕКМНОРСТУХІЈЅԌԚԜ', ...'αβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ']);
// Tried in order: "other" is any letter of a script not named before it.
/** @type {[string, RegExp][]} */
const SCRIPTS = [['latin', /\p{Script=Latin}/u], ['cyrillic', /\p{Script=Cyrillic}/u], ['greek', /\p{Script=Greek}/u],
  ['armenian', /\p{Script=Armenian}/u], ['other', /\p{L}/u]];

/**
 * labelFlags flags one host label (Unicode form): mixed_script when letters of two scripts meet
 * in it, lookalike when it is entirely Cyrillic or Greek letters that pass for Latin.
 * @param {string} label
 * @returns {string[]}
 */
export function labelFlags(label) {
  const seen = new Set();
  let letters = 0, looking = 0;
  for (const ch of label) {
    for (const [name, re] of SCRIPTS) {
      if (re.test(ch)) { seen.add(name); letters++; if (LATIN_LOOKING.has(ch)) looking++; break; }
    }
  }
  const flags = [];
  if (seen.size > 1) flags.push('mixed_script');
  if (seen.size === 1 && (seen.has('cyrillic') || seen.has('greek')) && letters > 0 && looking === letters) flags.push('lookalike');
  return flags;
}

/**
 * punycodeDecode decodes the part of an IDNA label after "xn--" (RFC 3492); null when it is not
 * valid punycode.
 * @param {string} input
 * @returns {string|null}
 */
export function punycodeDecode(input) {
  const base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700;
  let n = 128, i = 0, bias = 72;
  const d = input.lastIndexOf('-');
  const output = d > 0 ? [...input.slice(0, d)].map((c) => c.codePointAt(0)) : [];
  if (output.some((c) => c >= 0x80)) return null;
  const adapt = (delta, numPoints, first) => {
    delta = first ? Math.floor(delta / damp) : delta >> 1;
    delta += Math.floor(delta / numPoints);
    let k = 0;
    while (delta > ((base - tMin) * tMax) >> 1) { delta = Math.floor(delta / (base - tMin)); k += base; }
    return k + Math.floor(((base - tMin + 1) * delta) / (delta + skew));
  };
  for (let pos = d > 0 ? d + 1 : 0; pos < input.length;) {
    const oldi = i;
    for (let w = 1, k = base; ; k += base) {
      if (pos >= input.length) return null;
      const c = input.charCodeAt(pos++);
      const digit = c >= 48 && c < 58 ? c - 22 : c >= 65 && c < 91 ? c - 65 : c >= 97 && c < 123 ? c - 97 : base;
      if (digit >= base) return null;
      i += digit * w;
      const t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias;
      if (digit < t) break;
      w *= base - t;
      if (w > 0x7fffffff) return null;
    }
    bias = adapt(i - oldi, output.length + 1, oldi === 0);
    n += Math.floor(i / (output.length + 1));
    i %= output.length + 1;
    if (n > 0x10ffff) return null;
    output.splice(i++, 0, n);
  }
  return String.fromCodePoint(...output);
}

// ---- targets ------------------------------------------------------------------------------

/**
 * targetId reads a post's id from an address or path with the platform's id_regex; a bare id
 * (digits, letters, - and _) is taken as it is. null when there is none.
 * @param {any} p platform entry
 * @param {unknown} value
 * @returns {string|null}
 */
export function targetId(p, value) {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string' || !value) return null;
  if (/^[A-Za-z0-9_-]{1,64}$/.test(value)) return value;
  if (!p || !p.target) return null;
  let path = value;
  try { path = new URL(value, 'https://invalid.example').pathname; } catch { /* keep value */ }
  const m = new RegExp(p.target.id_regex).exec(path);
  return m && m[1] ? m[1] : null;
}

/**
 * targetUrl is a post's canonical address, from the platform's url_template.
 * @param {any} p platform entry
 * @param {string} id
 * @param {string} instance the page's host (Mastodon)
 */
export function targetUrl(p, id, instance) {
  if (!p || !p.target || !id) return null;
  return p.target.url_template.replace('{id}', encodeURIComponent(id)).replace('{instance}', instance || '');
}

// ---- media ids that are content addresses --------------------------------------------------

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
// CIDv1, raw codec (0x55), SHA-256 multihash (0x12, 32 bytes): Bluesky's blob CID.
const CID_RAW_SHA256 = [0x01, 0x55, 0x12, 0x20];

/**
 * cidOfSha256 is the content address (CIDv1, raw codec, SHA-256, base32 with the multibase
 * prefix b) of a file whose SHA-256 is hex; null when hex is not one.
 * @param {string} hex
 * @returns {string|null}
 */
export function cidOfSha256(hex) {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) return null;
  const bytes = [...CID_RAW_SHA256, ...hex.match(/../g).map((h) => parseInt(h, 16))];
  let out = 'b', acc = 0, bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b; bits += 8;
    while (bits >= 5) { out += B32[(acc >>> (bits - 5)) & 31]; bits -= 5; }
    acc &= (1 << bits) - 1;
  }
  if (bits) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * sha256OfCid reads the SHA-256 (hex) out of a content address as cidOfSha256 makes it; null for
 * anything else (another codec, hash or encoding, or not a CID at all).
 * @param {unknown} cid
 * @returns {string|null}
 */
export function sha256OfCid(cid) {
  if (typeof cid !== 'string' || !/^b[a-z2-7]{58}$/.test(cid)) return null;
  const bytes = [];
  let acc = 0, bits = 0;
  for (const c of cid.slice(1)) {
    acc = (acc << 5) | B32.indexOf(c); bits += 5;
    if (bits >= 8) { bytes.push((acc >>> (bits - 8)) & 255); bits -= 8; acc &= (1 << bits) - 1; }
  }
  if (bytes.length !== 36 || acc !== 0 || CID_RAW_SHA256.some((b, i) => bytes[i] !== b)) return null;
  const hex = bytes.slice(4).map((b) => b.toString(16).padStart(2, '0')).join('');
  return cidOfSha256(hex) === cid ? hex : null;
}

/**
 * mediaSha says which bytes a media id of a publishing request stands for: the SHA-256 in the id
 * itself when the platform's ids are content addresses (media.content_id), else what the upload
 * observer saw for it; null when neither knows.
 * @param {any} p platform entry
 * @param {string} id
 * @param {Record<string, string>} idToSha
 */
export function mediaSha(p, id, idToSha) {
  if (p && p.media && p.media.content_id === 'cid_raw_sha256') return sha256OfCid(id);
  return Object.hasOwn(idToSha, id) ? idToSha[id] : null;
}

// ---- what a publishing request carries ----------------------------------------------------

/** rawBody turns webRequest's requestBody into {form} or {text}. */
function rawBody(requestBody) {
  if (!requestBody) return null;
  if (requestBody.formData) return { form: requestBody.formData };
  if (!Array.isArray(requestBody.raw)) return null;
  const parts = requestBody.raw.filter((r) => r && r.bytes).map((r) => new Uint8Array(r.bytes));
  if (!parts.length) return null;
  const all = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let off = 0;
  for (const x of parts) { all.set(x, off); off += x.length; }
  return { text: new TextDecoder().decode(all) };
}

/**
 * valuesAt follows a dotted path in a JSON value; "*" stands for every element of an array.
 * @returns {unknown[]}
 */
export function valuesAt(obj, path) {
  let cur = [obj];
  for (const k of path.split('.')) {
    const next = [];
    for (const v of cur) {
      if (k === '*') { if (Array.isArray(v)) next.push(...v); } else if (v && typeof v === 'object' && Object.hasOwn(v, k)) next.push(v[k]);
    }
    cur = next;
  }
  return cur;
}

/** mediaPaths lists an endpoint's body_media: one path, or a list of them. */
const mediaPaths = (endpoint) => [].concat(endpoint.body_media || []).filter((x) => typeof x === 'string' && x);

/** formValues reads a form field, repeated or with [] (Rails), as a list of strings. */
function formValues(get, path) {
  const name = path.replace(/\.\*$/, '');
  return [...get(name), ...get(`${name}[]`)];
}

/**
 * bodyFields reads what a publishing request carries, following the endpoint's body_text,
 * body_media, body_target and url_target: {text, mediaIds, targetId}. text and targetId are null
 * when absent; mediaIds is [] when the request names none.
 * @param {any} p platform entry
 * @param {any} endpoint
 * @param {any} requestBody webRequest's requestBody
 * @param {string} url the request's URL
 */
export function bodyFields(p, endpoint, requestBody, url) {
  const out = { text: null, mediaIds: [], targetId: null };
  const body = rawBody(requestBody);
  /** @type {((k: string) => string[]) | null} */
  let get = (k) => [];
  if (body && body.form) get = (k) => (Array.isArray(body.form[k]) ? body.form[k].filter((v) => typeof v === 'string') : []);
  else if (body) {
    let json;
    try { json = JSON.parse(body.text); } catch { json = undefined; }
    if (json !== undefined) {
      const at = (path) => valuesAt(json, path);
      if (endpoint.body_text) { const v = at(endpoint.body_text)[0]; out.text = typeof v === 'string' ? v : null; }
      if (endpoint.body_media) out.mediaIds = mediaPaths(endpoint).flatMap((path) => at(path)).map((v) => (typeof v === 'number' ? String(v) : v)).filter((v) => typeof v === 'string');
      for (const path of endpoint.body_target || []) {
        const id = targetId(p, at(path)[0]);
        if (id) { out.targetId = id; break; }
      }
      get = null;
    } else {
      const q = new URLSearchParams(body.text);
      get = (k) => q.getAll(k);
    }
  }
  if (get) {
    if (endpoint.body_text) out.text = get(endpoint.body_text)[0] ?? null;
    if (endpoint.body_media) out.mediaIds = mediaPaths(endpoint).flatMap((path) => formValues(get, path));
    for (const path of endpoint.body_target || []) {
      const id = targetId(p, get(path)[0]);
      if (id) { out.targetId = id; break; }
    }
  }
  if (endpoint.url_target && !out.targetId) {
    let path = url;
    try { path = new URL(url).pathname; } catch { /* keep */ }
    const m = new RegExp(endpoint.url_target).exec(path);
    if (m && m[1]) out.targetId = m[1];
  }
  return out;
}

// ---- comparing with the approved post -----------------------------------------------------

/**
 * compareAttachments says how the composer's attachments and target differ from the approved
 * post's, most telling first, as notice codes: media_added, media_removed, media_changed (other
 * bytes or another order), alt_changed, and <action>_target_changed. [] when they agree.
 * @param {{media: {sha256: string, alt?: string}[], target: {url: string}|null, action: string}} approved
 * @param {{media: {sha256: string, alt?: string}[], target: {url: string}|null}} now
 * @returns {string[]}
 */
export function compareAttachments(approved, now) {
  const out = [];
  const a = approved.media || [];
  const b = now.media || [];
  const count = (list) => list.reduce((m, f) => m.set(f.sha256, (m.get(f.sha256) || 0) + 1), new Map());
  const ca = count(a), cb = count(b);
  const added = [...cb].some(([k, n]) => n > (ca.get(k) || 0));
  const removed = [...ca].some(([k, n]) => n > (cb.get(k) || 0));
  if (added) out.push('media_added');
  if (removed) out.push('media_removed');
  if (!added && !removed && a.some((f, i) => f.sha256 !== b[i].sha256)) out.push('media_changed');
  if (!out.length && a.some((f, i) => canonical(f.alt || '') !== canonical(b[i].alt || ''))) out.push('alt_changed');
  const ta = approved.target ? approved.target.url : null;
  const tb = now.target ? now.target.url : null;
  // A target the page did not show at approval (today's requests may lack one) cannot be compared.
  if (ta !== null && ta !== tb) out.push(`${['reply', 'quote', 'repost'].includes(approved.action) ? approved.action : 'reply'}_target_changed`);
  return out;
}

/**
 * seenPost is the post a publishing request actually carried, as a manifest to hash: its text
 * (null: the approved text, when the request does not show it), its media in request order
 * (each id mapped to the bytes the upload observer saw for it, or read from the id itself where
 * ids are content addresses; an id nobody saw uploaded counts as unknown bytes), and its target
 * (the approved address when the id is the same).
 * @param {any} p platform entry
 * @param {{account: string, action: string, text: string, media: any[], target: any}} approved
 * @param {{text: string|null, mediaIds: string[], targetId: string|null}} seen
 * @param {Record<string, string>} idToSha media id -> sha256
 * @param {string} instance
 * @param {(s: string) => Promise<string>} sha256hex
 */
export async function seenPost(p, approved, seen, idToSha, instance, sha256hex) {
  const alts = new Map((approved.media || []).map((f) => [f.sha256, f.alt || '']));
  const media = [];
  for (const id of seen.mediaIds) {
    const sha = mediaSha(p, id, idToSha) || await sha256hex(`foureyes-unknown-media:${id}`);
    media.push({ sha256: sha, size: 0, type: 'application/octet-stream', alt: alts.get(sha) || '' });
  }
  let target = null;
  const approvedId = approved.target ? targetId(p, approved.target.url) : null;
  if (seen.targetId && seen.targetId === approvedId) target = { url: approved.target.url };
  else if (seen.targetId) target = { url: targetUrl(p, seen.targetId, instance) };
  else if (approved.target && !p.publish.some((e) => (e.body_target && e.body_target.length) || e.url_target)) target = { url: approved.target.url };
  return { account: approved.account, action: approved.action, text: seen.text === null ? approved.text : seen.text, media, target };
}

// ---- what a content script reports ---------------------------------------------------

const HEX64 = /^[0-9a-f]{64}$/;
const THUMB = /^data:image\/(jpeg|png);base64,[A-Za-z0-9+/=]{1,200000}$/;

/**
 * postParts takes the attachments, target and upload ids a content script reports, keeping only
 * well-formed entries: the page is untrusted, and what is dropped here fails the checks later.
 * null when the message cannot describe a post (then nothing is published).
 */
export function postParts(msg) {
  const media = [];
  if (msg.media !== undefined && msg.media !== null && !Array.isArray(msg.media)) return null;
  for (const f of msg.media || []) {
    if (!f || typeof f !== 'object' || !HEX64.test(f.sha256)) return null;
    media.push({
      sha256: f.sha256,
      size: Number.isSafeInteger(f.size) && f.size >= 0 ? f.size : 0,
      type: typeof f.type === 'string' && /^[a-z]+\/[a-z0-9.+-]+$/.test(f.type) ? f.type : 'application/octet-stream',
      name: typeof f.name === 'string' ? f.name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, LIMITS.name) : '',
      alt: typeof f.alt === 'string' ? f.alt.slice(0, LIMITS.alt) : '',
      thumb: typeof f.thumb === 'string' && THUMB.test(f.thumb) ? f.thumb : null,
    });
  }
  if (media.length > LIMITS.media) return null;
  let target = null;
  const t = msg.target;
  if (t && typeof t === 'object' && typeof t.url === 'string') {
    target = { url: t.url, author: typeof t.author === 'string' ? t.author.slice(0, LIMITS.author) : '', excerpt: typeof t.excerpt === 'string' ? [...t.excerpt].slice(0, 280).join('') : '' };
    try { validateManifest({ account: 'a', action: 'reply', target }); } catch { return null; }
  }
  const uploads = {};
  if (msg.uploads && typeof msg.uploads === 'object') {
    for (const [id, sha] of Object.entries(msg.uploads).slice(0, 200)) if (/^[A-Za-z0-9_-]{1,64}$/.test(id) && HEX64.test(sha)) uploads[id] = sha;
  }
  return { media, target, uploads };
}

