// Package audit keeps the daemon's audit trail: an append-only file of JSON lines, each line
// hash-chained to the one before, written and fsynced before the caller may act on the event.
//
// A line looks like this (keys always in this order, one object per line):
//
//	{"seq":1,"time":"2026-11-23T09:14:03.5Z","user":"alice","event":"approval","severity":"info","fields":{...},"prev":"000…0","hash":"9f2c…"}
//
// prev is the hash of the line before (64 zeros on the first line). hash is the lowercase hex
// SHA-256 of the line's exact bytes without its `,"hash":"…"` member, that is everything before
// `,"hash":` followed by `}`. Because the hash is taken over the bytes as written, verification
// ([Verify]) never re-encodes anything.
//
// Every value is encoded with encoding/json, so no user name or field value can break a line or
// forge a member. Field keys that name secrets are refused ([ErrSecretField]): codes, seeds and
// passwords must never reach the log.
//
// A process that crashes while writing leaves a torn last line. [Open] refuses such a file
// ([ErrTorn]) instead of building on it; [Repair] moves the torn bytes into a side file and
// records that it did, so nothing is dropped silently.
package audit

import (
	"errors"
	"time"
)

// Sentinel errors. Check them with errors.Is.
var (
	// ErrTorn means the log ends in a torn line, the trace of a crash in the middle of a write.
	// Open returns a *[TornError] that matches it; [Repair] fixes the file.
	ErrTorn = errors.New("audit log ends in a torn line")
	// ErrUnavailable means an event could not be made durable (the write or the fsync failed, or
	// the log is closed). The event did not happen as far as the log is concerned: the caller
	// must not go ahead with what it was about to record.
	ErrUnavailable = errors.New("audit log unavailable")
	// ErrSecretField means an event carried a field whose key names a secret (see
	// [SecretKeys]). Such events are refused whole.
	ErrSecretField = errors.New("audit event carries a secret field")
	// ErrBroken means the log does not verify. Every *[VerifyError] matches it.
	ErrBroken = errors.New("audit log does not verify")
)

// Severities of an event. High-severity events are alarms (a publish that matches no approval,
// a repaired log) and are forwarded to the system log as warnings.
const (
	SeverityInfo = "info"
	SeverityHigh = "high"
)

// SecretKeys are the field keys Append refuses, compared case-insensitively at any depth of the
// fields. They are a second line of defence: callers must not put secrets into events at all.
var SecretKeys = []string{"code", "secret", "seed", "password", "token", "otp"}

// Field keys that [Export] turns into CSV columns of their own. Events that carry these facts
// should use these keys so that an export answers "who approved what" without reading JSON.
const (
	FieldAccount   = "account"
	FieldAction    = "action"
	FieldApprover  = "approver" // a string, or a list of strings when two approvers were needed
	FieldRequester = "requester"
	FieldRequestID = "request_id"
	FieldSessionID = "session_id"
	FieldDigest    = "digest"
	FieldText      = "text" // the approved or published text, kept because it is public by intent
	// The rest of the post manifest: what an approval covers besides the text.
	FieldManifestDigest = "manifest_digest"
	FieldMedia          = "media"         // a list of {name, size, type, sha256, alt_sha256}, never bytes
	FieldTargetURL      = "target_url"    // the post a reply, quote or repost answers
	FieldTargetAuthor   = "target_author" // its author as the page showed it
	// FieldMediaKept lists, comma-separated, the SHA-256 of each attached file the daemon's
	// media store holds a copy of (policy keep_media): <state dir>/media/<sha256>.
	FieldMediaKept = "media_kept"
)

// Events lists the event names the daemon writes, so that every part of it (and the people
// who query the log) use the same words. The engine owns when each is written.
var Events = []string{
	"request",                   // a staff member asked for approval of one exact text
	"request_expired",           // a request ran out of time unanswered
	"request_denied",            // an approver denied a request
	"request_cancelled",         // the requester withdrew a request
	"code_failed",               // an approver's TOTP code was wrong
	"code_replayed",             // an approver's TOTP code had been used before
	"approver_throttled",        // an approver hit the failed-code throttle
	"approval",                  // an approver accepted a request with a valid code
	"approval_refused",          // self-approval, an approver not authorised, or outside posting hours (an alarm)
	"session_issued",            // a one-time posting session was opened
	"session_consumed",          // a session was spent on one publish
	"session_expired",           // a session ran out of time unused
	"credential_release",        // an account's credentials went into a login form
	"published",                 // the extension reported what actually went out
	"publish_mismatch",          // what went out is not what was approved (an alarm)
	"publish_repeated",          // a second report for one session (an alarm)
	"blocked",                   // the extension held back an attempt to publish
	"lock",                      // "Lock now": every session and request revoked
	"policy_loaded",             // a policy came into force
	"policy_invalid",            // a policy was refused
	"approver_enrolled",         // an approver was given a new TOTP secret
	"approver_confirmed",        // an approver confirmed enrolment with a first code
	"approver_reenrolled",       // an approver's secret was replaced
	"approver_removed",          // an approver was removed
	"approver_unlocked",         // an administrator cleared an approver's throttle
	"account_added",             // an official account was taken into custody
	"account_changed",           // an account's credentials or metadata changed
	"account_removed",           // an account left custody
	"extension_allowed",         // an extension id was pinned as a permitted client
	"daemon_started",            // the daemon started
	"daemon_stopped",            // the daemon stopped cleanly
	"audit_repaired",            // a torn tail was moved aside (see Repair)
	"forwarding_queue_repaired", // the collector's queue ended in a torn record, cut off (an alarm)
}

// Known reports whether name is one of [Events].
func Known(name string) bool {
	for _, e := range Events {
		if e == name {
			return true
		}
	}
	return false
}

// Event is what a caller records.
type Event struct {
	User     string         // who acted: an OS user or an approver id
	Event    string         // the event name, one of Events by convention ([a-z0-9_], 1 to 64 bytes)
	Severity string         // SeverityInfo (the default when empty) or SeverityHigh
	Fields   map[string]any // event details, encoded with encoding/json
}

// Record is one line of the log, as written or as read back.
type Record struct {
	Seq      uint64
	Time     time.Time
	User     string
	Event    string
	Severity string
	// Fields holds the decoded fields, numbers as json.Number. Treat it as read-only: it is
	// shared with every forwarder.
	Fields map[string]any
	Prev   string
	Hash   string
	// Raw is the exact line without its newline; its bytes are what the hash covers.
	Raw []byte
}

// Forwarder receives each record after it is durable in the log, to keep a copy elsewhere
// (the system log, a SIEM). Forward runs while the log is locked, so that copies arrive in
// order; it must not block for long.
type Forwarder interface {
	Forward(rec Record) error
}

// Options configure a [Log].
type Options struct {
	// Now is the clock that stamps events; time.Now when nil.
	Now func() time.Time
	// Forwarders get every record after it is durable. Their failures never fail an Append;
	// see [Log.ForwardErr].
	Forwarders []Forwarder

	// wrap lets tests put a failing file under the log.
	wrap func(file) file
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
