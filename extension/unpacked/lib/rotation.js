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
  return !steps.some((st) => st && typeof st === 'object' && 'person' in st);
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

/**
 * passwordSteps is the table's change-password form as steps in order: its own `steps`, or the
 * one form (current, new, confirm, submit) as four steps. Null without table data.
 */
export function passwordSteps(p) {
  const pw = p && p.password;
  if (!pw) return null;
  if (Array.isArray(pw.steps)) return pw.steps;
  return [{ current: pw.current }, { new: pw.new }, { confirm: pw.confirm }, { submit: pw.submit }];
}

/** formField is the selector whose presence means the form is still on the page (pageState's `form`). */
export function formField(p) {
  const steps = passwordSteps(p) || [];
  const s = steps.find((x) => x.current) || steps.find((x) => x.new);
  return s ? (s.current || s.new) : null;
}

/**
 * personReady says whether what a person typed into a person step's field completes it: the
 * step's pattern matches (else: any text), and it was typed (a trusted input event), not set by
 * a script.
 */
export function personReady(step, value, typed) {
  if (!step || !step.person || !typed || typeof value !== 'string') return false;
  const v = value.trim();
  if (!v) return false;
  if (!step.pattern) return true;
  try { return new RegExp(step.pattern).test(v); } catch { return false; }
}

/** The report must reach the daemon while the rotate session lives: the wait ends this early. */
export const REPORT_MARGIN_MS = 30000;

/**
 * personWait is how long a person step waits (ms): the step's timeout_s, cut short so the
 * rotation is still reported inside its session (expiresMs; NaN: not known). 0 when no time is
 * left: the rotation then fails at once instead of outliving its session unreported.
 */
export function personWait(step, expiresMs, now) {
  const want = step && Number.isInteger(step.timeout_s) && step.timeout_s > 0 ? step.timeout_s * 1000 : 0;
  if (!Number.isFinite(expiresMs)) return want;
  return Math.max(0, Math.min(want, expiresMs - REPORT_MARGIN_MS - now));
}

/**
 * overdue says why a rotation waiting for a person (phase `person`, with its `deadline` in ms)
 * has failed by now: nobody typed the code in time. Null while there is time left, or when the
 * rotation waits for no person.
 */
export function overdue(e, now) {
  if (!e || e.phase !== 'person' || typeof e.deadline !== 'number') return null;
  if (now < e.deadline) return null;
  return `nobody typed the code the platform e-mailed within ${Math.round((e.waitMs || 0) / 1000)} s; the old password stays`;
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
