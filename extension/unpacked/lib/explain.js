// Plain words for every refusal a staff member can meet. Pure module.
//
// Codes are the daemon's stable error codes (shared/protocol/errors.json) plus the few the
// extension raises itself (approval_needed, page_not_understood, grant_invalid, timeout). The
// texts live in shared/notices.json; lib/notices.js is generated from it, as is the page gate's
// copy in content/gate.js.

import { NOTICES } from './notices.js';

/** hhmm formats an RFC 3339 time as local HH:MM. */
export function hhmm(rfc3339, tz) {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, ...(tz ? { timeZone: tz } : {}) });
}

export const DAEMON_DOWN = NOTICES.daemon_unavailable;
export const APPROVAL_NEEDED = NOTICES.approval_needed;

// Situations that are not refusals: they have notices for the page gate, never an explanation.
const NOT_REFUSALS = new Set(['approved', 'published', 'published_mismatch', 'throttled_until']);

/**
 * explain turns an error {code, message, until} into one sentence for people.
 * @param {{code?: string, message?: string, until?: string}} err
 * @param {{tz?: string}} [opts]
 */
export function explain(err, opts = {}) {
  const code = err && err.code;
  if (code === 'throttled') {
    const t = err.until ? hhmm(err.until, opts.tz) : '';
    return t ? NOTICES.throttled_until.replace('{time}', t) : NOTICES.throttled;
  }
  if (typeof code === 'string' && Object.hasOwn(NOTICES, code) && !NOT_REFUSALS.has(code)) return NOTICES[code];
  return (err && err.message) ? `Not published: ${err.message}` : 'Not published: an unexpected error occurred.';
}
