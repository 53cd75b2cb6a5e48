// Plain words for every refusal a staff member can meet. Pure module.
//
// Codes are the daemon's stable error codes (daemon/internal/api/errors.go) plus the few the
// extension raises itself (approval_needed, page_not_understood, grant_invalid).

/** hhmm formats an RFC 3339 time as local HH:MM. */
export function hhmm(rfc3339, tz) {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, ...(tz ? { timeZone: tz } : {}) });
}

export const DAEMON_DOWN = 'foureyes daemon is not running: start it with `foureyes daemon`.';
export const APPROVAL_NEEDED = 'This account needs approval from a press officer before posting.';

/**
 * explain turns an error {code, message, until} into one sentence for people.
 * @param {{code?: string, message?: string, until?: string}} err
 * @param {{tz?: string}} [opts]
 */
export function explain(err, opts = {}) {
  const code = err && err.code;
  switch (code) {
    case 'approval_needed': return APPROVAL_NEEDED;
    case 'daemon_unavailable': return DAEMON_DOWN;
    case 'bad_code': return 'That code is wrong. Check the approver picked and their current code.';
    case 'replayed': return 'That code was already used. Wait for the next code on the phone (at most 30 seconds).';
    case 'throttled': {
      const t = err.until ? hhmm(err.until, opts.tz) : '';
      return t ? `Too many wrong codes for this approver: try again after ${t}.` : 'Too many wrong codes for this approver: try again later.';
    }
    case 'self_approval': return 'You cannot approve your own post: another person must give the code.';
    case 'not_authorised': return 'This approver is not authorised for this account.';
    case 'outside_hours': return 'Posting is not allowed outside posting hours for this account.';
    case 'expired': return 'The approval ran out of time. Request a new approval.';
    case 'already_used': return 'This approval was already used for one post. Request a new approval.';
    case 'locked': return 'All approvals were revoked ("Lock now"). Request a new approval.';
    case 'denied': return 'The press officer denied this post.';
    case 'digest_mismatch': return 'The text was changed after approval. A new approval is needed for the new text.';
    case 'scope_mismatch': return 'The approval was for another account or another kind of post. Request approval for this one.';
    case 'no_keyring': return 'foureyes cannot reach the keyring of this computer. Ask IT.';
    case 'keyring_locked': return 'The keyring of this computer is locked: unlock it (log in again) and retry.';
    case 'audit_unavailable': return 'The audit log cannot be written, so nothing can be approved. Ask IT.';
    case 'invalid_policy': return 'The foureyes policy on this computer is invalid, so nothing can be approved. Ask IT.';
    case 'not_found': return 'The daemon does not know this request or account any more. Request a new approval.';
    case 'not_confirmed': return 'This approver has not finished enrolment yet.';
    case 'too_many_requests': return 'You have too many open requests. Cancel some first.';
    case 'forbidden': return 'The daemon refused this browser. Ask IT to allow the extension (`foureyes extension allow`).';
    case 'unsupported': return 'The extension and the daemon versions do not match. Ask IT to update foureyes.';
    case 'page_not_understood': return 'foureyes does not understand this page, so it cannot send the post. Nothing was published.';
    case 'grant_invalid': return 'The approval could not be verified, so nothing was published. Request a new approval.';
    case 'timeout': return 'The daemon did not answer in time. Try again.';
    default: return (err && err.message) ? `Not published: ${err.message}` : 'Not published: an unexpected error occurred.';
  }
}
