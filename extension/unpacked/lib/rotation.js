// Rotation of an account's password (shared/protocol/PROTOCOL.md §2.5 "Rotation"), the pure
// part: where the platform's change-password form is, which page may receive the passwords, and
// how the platform's answer reads. Everything comes from the platform table's `password`.

import { normalizeHost } from './platforms.js';

/**
 * rotatesUnattended says whether the extension can change the platform's password with nobody
 * at the browser: the table describes its change-password form and no step of it needs a
 * person. The daemon's twin is platforms.Platform.RotatesUnattended; custody one_time runs only
 * where this holds.
 * @param {any} p platform entry
 */
export function rotatesUnattended(p) {
  const pw = p && p.password;
  if (!pw || typeof pw !== 'object') return false;
  const steps = Array.isArray(pw.steps) ? pw.steps : [];
  return !steps.some((st) => st && typeof st === 'object' && ('person' in st || st.type === 'person' || st.kind === 'person'));
}

/** passwordUrl is the change-password page on host, or null without table data. */
export function passwordUrl(p, host) {
  const pw = p && p.password;
  if (!pw || !host) return null;
  return pw.url || `https://${host}${pw.path}`;
}

/**
 * isPasswordPage says whether url is the change-password page on host (https, that exact host,
 * that path). Only such a page's top frame may receive the passwords.
 */
export function isPasswordPage(p, host, url) {
  const want = passwordUrl(p, host);
  if (!want) return false;
  let u;
  try { u = new URL(url); } catch { return false; }
  return u.protocol === 'https:' && !u.port && normalizeHost(u.host) === host && u.pathname === new URL(want).pathname;
}

/**
 * verdict reads what the page showed after the submit ({url, success, error, form, complete},
 * collected in the page by pageState): ok only when the platform's confirmation is on the
 * platform's own host. Returns {done:false} while nothing conclusive shows.
 */
export function verdict(p, host, seen) {
  if (!seen || typeof seen.url !== 'string') return { done: false };
  let h;
  try { h = normalizeHost(new URL(seen.url).host); } catch { return { done: false }; }
  if (h !== host) return { done: true, ok: false, error: `the change-password page went to another site (${h})` };
  const pw = p.password;
  if (typeof seen.success === 'string' && (!pw.success_text || new RegExp(pw.success_text, 'i').test(seen.success))) return { done: true, ok: true };
  if (typeof seen.error === 'string') return { done: true, ok: false, error: `the platform refused the change: ${seen.error.replace(/\s+/g, ' ').trim().slice(0, 200) || 'an error without text'}` };
  if (seen.complete && !seen.form) return { done: true, ok: false, error: `the platform answered with a page that confirms nothing (${String(seen.title || 'no title').slice(0, 100)})` };
  return { done: false };
}

/** pageState runs inside the page (scripting.executeScript): what it shows now. */
export function pageState(success, error, current) {
  const q = (s) => { try { return document.querySelector(s); } catch { return null; } };
  const s = q(success);
  const e = q(error);
  return {
    url: location.href,
    title: document.title,
    complete: document.readyState === 'complete',
    form: !!q(current),
    success: s ? s.textContent || '' : null,
    error: e ? e.textContent || '' : null,
  };
}
