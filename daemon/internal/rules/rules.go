// Package rules holds the four-eyes rules: what input is acceptable, who may approve what, when a
// TOTP code counts, the life of a request and a session, and which outcomes are alarms. It is
// plain Go with no I/O and its own types: the caller passes the time, the policy's numbers and
// the state, and gets back the new state and a [Decision] (the audit event, its severity, and a
// refusal with its code and facts). Wording for people is not here. Every rule has a named table
// test.
package rules

import (
	"errors"
	"iter"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/manifest"
)

// Config is the part of the policy the rules need, already validated.
type Config struct {
	Skew       int           // TOTP steps accepted each way of the current one
	SessionTTL time.Duration // lifetime of a posting session
	RequestTTL time.Duration // lifetime of a pending request
	MaxOpen    int           // open requests per requester
	Throttle   ThrottleConfig
	// Within reports whether t is inside posting hours; nil means no limit.
	Within func(t time.Time) bool
	// OutsideRefuse: outside posting hours refuse outright (true) or require two approvers.
	OutsideRefuse bool
	// NextOpen returns when posting hours next begin at or after t; nil: not known.
	NextOpen func(t time.Time) time.Time
	// MaxLength returns the longest text, in characters, that account's platform takes; 0 or
	// a nil func: no limit known.
	MaxLength func(account string) int
	// MayApprove reports whether the policy authorises approver for account; nil: anyone.
	MayApprove func(account, approver string) bool
	// AuthorMark reports whether a text carries the required author mark; nil: none required.
	AuthorMark func(text string) bool
	// RemoteWindow is how long a code the OTP server accepted is refused again.
	RemoteWindow time.Duration
}

// Approver is an enrolled approver as the rules see it.
type Approver struct {
	ID        string
	OSUser    string // the OS user this person logs in as, if mapped
	Confirmed bool
	// Unverified: found in the state file without its enrolment in the audit trail (added by
	// hand); it may do nothing until accepted with another approver's code.
	Unverified bool
	LastStep   uint64 // last accepted TOTP step: a code at or before it is a replay
	Throttle   Throttle
	// Used are the codes the OTP server accepted lately (approvers checked over RADIUS).
	Used []UsedCode
}

// Request states.
const (
	Pending   = "pending"
	Approved  = "approved"
	Denied    = "denied"
	Expired   = "expired"
	Cancelled = "cancelled"
	Revoked   = "revoked"
)

// Session states (Expired and Revoked as for requests).
const (
	Active   = "active"
	Consumed = "consumed"
)

// Request is a request for approval of one text on one account.
type Request struct {
	ID              string
	Account         string
	Action          string
	Text            string
	Digest          string
	ManifestDigest  string // the whole post: text, attachments, answered post
	Media           []manifest.Media
	Target          *manifest.Target
	Requester       string
	Created         time.Time
	Expires         time.Time
	State           string
	ApprovalsNeeded int
	ApprovedBy      []string
	SessionID       string
}

// Session is a one-time posting session.
type Session struct {
	ID        string
	RequestID string
	Account   string
	Action    string
	Digest    string
	// ManifestDigest is the approved whole post; a publish of anything else is an alarm.
	ManifestDigest string
	Media          []manifest.Media // for display, from the request
	Target         *manifest.Target
	Requester      string
	ApprovedBy     []string
	Issued         time.Time
	Expires        time.Time
	State          string
	Published      bool // what went out under it was reported
	// Released: the account's credentials went to the extension to sign in (once per session).
	Released bool
	// RotationReleased: the current and new password went out for a rotate session;
	// RotationReported: the outcome came back.
	RotationReleased, RotationReported bool
}

// Use is what a session is about to be spent on.
type Use struct {
	Account, Action, Digest string
	ManifestDigest          string
}

// CodeOutcome says what a code check did to the approver's record.
type CodeOutcome struct {
	Step      uint64 // the accepted step
	Failed    bool   // the code did not count (bad or replayed)
	Replayed  bool   // the code had been used before: an alarm
	LockedOut bool   // this failure started a lock-out or disabled the approver: an alarm
}

// Decisions returns the audit events of a code check, in order: the failure (if any), then the
// lock-out it caused (if any).
func (o CodeOutcome) Decisions() []Decision {
	var out []Decision
	switch {
	case o.Replayed:
		out = append(out, Decision{Event: "code_replayed", Severity: High})
	case o.Failed:
		out = append(out, Decision{Event: "code_failed", Severity: Info})
	}
	if o.LockedOut {
		out = append(out, Decision{Event: "approver_throttled", Severity: High})
	}
	return out
}

// CheckCode checks a code for approver a at now and returns a's new record (last step,
// throttle) with the outcome. The caller persists the new record whatever the answer, so neither
// replays nor failure counts are forgotten across restarts. A refusal from the throttle leaves
// the record as it was; err is set only when the secret cannot compute codes.
func CheckCode(c Config, a Approver, secret, code string, now time.Time) (Approver, CodeOutcome, *Refusal, error) {
	if ref := a.Throttle.Check(now); ref != nil {
		ref.Facts.Approver = a.ID
		return a, CodeOutcome{}, ref, nil
	}
	if !WellFormedCode(code) {
		out := CodeOutcome{Failed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		return a, out, refuse(api.CodeBadCode, "malformed", Facts{Approver: a.ID}), nil
	}
	step, m, err := matchStep(secret, code, now, c.Skew, a.LastStep)
	if err != nil {
		return a, CodeOutcome{}, nil, err
	}
	switch m {
	case matchFresh:
		a.LastStep = step
		a.Throttle = a.Throttle.Succeed()
		return a, CodeOutcome{Step: step}, nil, nil
	case matchReplay:
		out := CodeOutcome{Failed: true, Replayed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		// The app shows a fresh code at the next step: say when, so nobody retries the old one.
		next := time.Unix(int64(Step(now)+1)*StepSeconds, 0)
		return a, out, refuse(api.CodeReplayed, "", Facts{Approver: a.ID, At: next}), nil
	default:
		out := CodeOutcome{Failed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		return a, out, refuse(api.CodeBadCode, "wrong", Facts{Approver: a.ID}), nil
	}
}

// RequestInput is what a requester asks to have approved.
type RequestInput struct {
	Account, Action, Text string
	// Digest, when set, must equal the digest the daemon computed (both sides canonicalised
	// alike).
	Digest string
	// Media and Target complete the post manifest; none for the CLI and rotations.
	Media  []manifest.Media
	Target *manifest.Target
	// ManifestDigest, when set, must equal the manifest digest the daemon computes.
	ManifestDigest string
}

// CountOpen counts requester's pending requests that have not run out by now.
func CountOpen(rs iter.Seq[*Request], requester string, now time.Time) int {
	n := 0
	for r := range rs {
		if r.State == Pending && !Passed(now, r.Expires) && r.Requester == requester {
			n++
		}
	}
	return n
}

// NewRequest makes a pending request. digest is the daemon's digest of in.Text and canonical
// its canonical form; open is how many pending requests the requester has (CountOpen).
// Outside posting hours it is refused at once when the policy refuses then (the refusal says
// when posting hours begin), or made to need two approvers.
func NewRequest(c Config, id, requester string, in RequestInput, digest, canonical string, open int, now time.Time) (Request, Decision) {
	if ref := CheckAction(in.Action); ref != nil {
		return Request{}, Decision{Refusal: ref}
	}
	return newRequest(c, id, requester, in, digest, canonical, open, now)
}

// NewRotation makes the pending request to change in.Account's password (in.Action is
// ignored): the same rules as a post, except that its text is the daemon's own description, so
// neither a length limit nor an author mark applies.
func NewRotation(c Config, id, requester string, in RequestInput, digest, canonical string, open int, now time.Time) (Request, Decision) {
	in.Action = api.ActionRotate
	c.MaxLength, c.AuthorMark = nil, nil
	return newRequest(c, id, requester, in, digest, canonical, open, now)
}

func newRequest(c Config, id, requester string, in RequestInput, digest, canonical string, open int, now time.Time) (Request, Decision) {
	if in.Account == "" {
		return Request{}, refused(api.CodeBadRequest, "account_missing", Facts{})
	}
	if !utf8.ValidString(in.Text) {
		// Replacing the bad bytes would have the approver approve another text than was sent.
		return Request{}, refused(api.CodeBadRequest, "not_utf8", Facts{})
	}
	if digest == "" || Blank(canonical) {
		// A repost names what it reposts (the post's address), so a session for one repost is
		// never good for any other.
		return Request{}, refused(api.CodeBadRequest, "blank", Facts{Action: in.Action})
	}
	if in.Digest != "" && in.Digest != digest {
		return Request{}, refused(api.CodeDigestMismatch, "canonical_form", Facts{})
	}
	m := manifest.Manifest{Account: in.Account, Action: in.Action, Text: in.Text, Media: in.Media, Target: in.Target}
	md, err := m.Digest()
	if err != nil {
		// Refused, never hashed: the approver would be shown a post that cannot be checked.
		f := Facts{Value: err.Error()}
		if fe := (*manifest.FieldError)(nil); errors.As(err, &fe) {
			f.Value = fe.Field + ": " + fe.Reason
		}
		return Request{}, refused(api.CodeBadRequest, "manifest", f)
	}
	if in.ManifestDigest != "" && in.ManifestDigest != md {
		return Request{}, refused(api.CodeDigestMismatch, "manifest", Facts{})
	}
	if c.MaxLength != nil {
		if limit, n := c.MaxLength(in.Account), utf8.RuneCountInString(canonical); limit > 0 && n > limit {
			return Request{}, refused(api.CodeBadRequest, "too_long", Facts{Account: in.Account, Open: n, Limit: limit})
		}
	}
	if c.AuthorMark != nil && !c.AuthorMark(in.Text) {
		return Request{}, refused(api.CodeBadRequest, "author_mark", Facts{})
	}
	if open >= c.MaxOpen {
		return Request{}, refused(api.CodeTooManyRequests, "", Facts{Requester: requester, Open: open, Limit: c.MaxOpen})
	}
	needed := 1
	if c.Within != nil && !c.Within(now) {
		if c.OutsideRefuse {
			f := Facts{Account: in.Account}
			if c.NextOpen != nil {
				f.At = c.NextOpen(now)
			}
			return Request{}, refused(api.CodeOutsideHours, "request", f)
		}
		needed = 2
	}
	return Request{
		ID: id, Account: in.Account, Action: in.Action, Text: in.Text, Digest: digest,
		ManifestDigest: md, Media: slices.Clone(in.Media), Target: cloneTarget(in.Target),
		Requester: requester, Created: now, Expires: now.Add(c.RequestTTL),
		State: Pending, ApprovalsNeeded: needed,
	}, allowed("request")
}

func cloneTarget(t *manifest.Target) *manifest.Target {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// Blank reports whether text has nothing an approver could read: only white space, control
// and formatting characters (zero-width spaces, direction marks).
func Blank(text string) bool {
	for _, r := range text {
		if !unicode.IsSpace(r) && !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// Passed reports whether deadline has come by now, by either of the clock's two readings. Times
// from the system clock carry a monotonic reading besides the wall time, and Go compares
// those by the monotonic one alone: a wall clock set back (by hand, or by NTP) cannot extend a
// session. But the monotonic clock stands still while the laptop sleeps, so a session issued
// before the lid was closed would outlive its TTL by the length of the sleep; the wall time
// (Round(0) drops the monotonic reading) catches that. A wall clock set forward ends a
// session early: that fails closed.
func Passed(now, deadline time.Time) bool {
	return !now.Before(deadline) || !now.Round(0).Before(deadline.Round(0))
}

// Expire moves a pending request past its time to expired and reports whether it did.
func Expire(r Request, now time.Time) (Request, bool) {
	if r.State == Pending && Passed(now, r.Expires) {
		r.State = Expired
		return r, true
	}
	return r, false
}

// requestOpen refuses a request that can no longer be decided.
func requestOpen(r Request, now time.Time) *Refusal {
	r, _ = Expire(r, now)
	f := Facts{Request: r.ID, State: r.State}
	switch r.State {
	case Pending:
		return nil
	case Expired:
		f.At = r.Expires
		return refuse(api.CodeExpired, "request", f)
	case Denied:
		return refuse(api.CodeDenied, "", f)
	case Revoked:
		return refuse(api.CodeLocked, "request", f)
	default:
		return refuse(api.CodeAlreadyUsed, "request_decided", f)
	}
}

// CanApprove checks everything about an approval except the code: the request is open, the
// approver is confirmed, is not the requester, has not approved this request already, is
// authorised for the account, and posting hours allow it. It returns how many approvals the
// request needs at now. Checked before the code, so a refused approval never spends a code.
// Self-approval, a missing authorisation and posting hours are alarms.
func CanApprove(c Config, r Request, a Approver, now time.Time) (needed int, d Decision) {
	if ref := requestOpen(r, now); ref != nil {
		return 0, Decision{Refusal: ref}
	}
	f := Facts{Request: r.ID, Approver: a.ID, Requester: r.Requester, Account: r.Account}
	if !a.Confirmed {
		return 0, refused(api.CodeNotConfirmed, "", f)
	}
	if a.Unverified {
		return 0, alarm("approval_refused", api.CodeUnverified, "approver", f)
	}
	if a.OSUser != "" && a.OSUser == r.Requester {
		return 0, alarm("approval_refused", api.CodeSelfApproval, "", f)
	}
	if slices.Contains(r.ApprovedBy, a.ID) {
		return 0, refused(api.CodeAlreadyApproved, "", f)
	}
	if c.MayApprove != nil && !c.MayApprove(r.Account, a.ID) {
		return 0, alarm("approval_refused", api.CodeNotAuthorised, "", f)
	}
	needed = 1
	if c.Within != nil && !c.Within(now) {
		if c.OutsideRefuse {
			return 0, alarm("approval_refused", api.CodeOutsideHours, "", f)
		}
		needed = 2
	}
	if r.ApprovalsNeeded > needed {
		needed = r.ApprovalsNeeded
	}
	return needed, allowed("approval")
}

// RecordApproval adds approver id to r after a valid code and reports whether r is now fully
// approved (then the caller issues a session with [NewSession]).
func RecordApproval(r Request, id string, needed int) (Request, bool) {
	r.ApprovedBy = append(slices.Clone(r.ApprovedBy), id)
	r.ApprovalsNeeded = needed
	if len(r.ApprovedBy) >= needed {
		r.State = Approved
		return r, true
	}
	return r, false
}

// CanDeny checks a deny: the request is open and the approver may approve it.
func CanDeny(c Config, r Request, a Approver, now time.Time) Decision {
	if ref := requestOpen(r, now); ref != nil {
		return Decision{Refusal: ref}
	}
	f := Facts{Request: r.ID, Approver: a.ID, Account: r.Account}
	if !a.Confirmed {
		return refused(api.CodeNotConfirmed, "", f)
	}
	if a.Unverified {
		return refused(api.CodeUnverified, "approver", f)
	}
	if c.MayApprove != nil && !c.MayApprove(r.Account, a.ID) {
		return refused(api.CodeNotAuthorised, "", f)
	}
	return allowed("request_denied")
}

// Deny ends r as denied (after CanDeny and the approver's code).
func Deny(r Request) Request {
	r.State = Denied
	return r
}

// Cancel ends r as cancelled, if requester asked for it and it is still open.
func Cancel(r Request, requester string, now time.Time) (Request, Decision) {
	if r.Requester != requester {
		return r, refused(api.CodeNotPermitted, "cancel_other", Facts{Request: r.ID, Requester: r.Requester})
	}
	if ref := requestOpen(r, now); ref != nil {
		return r, Decision{Refusal: ref}
	}
	r.State = Cancelled
	return r, allowed("request_cancelled")
}

// NewSession issues the one-time posting session for a fully approved request.
func NewSession(c Config, id string, r Request, now time.Time) (Session, Decision) {
	return Session{
		ID: id, RequestID: r.ID, Account: r.Account, Action: r.Action, Digest: r.Digest,
		ManifestDigest: r.ManifestDigest, Media: slices.Clone(r.Media), Target: cloneTarget(r.Target),
		Requester: r.Requester, ApprovedBy: slices.Clone(r.ApprovedBy),
		Issued: now, Expires: now.Add(c.SessionTTL), State: Active,
	}, allowed("session_issued")
}

// ExpireSession moves an active session past its time to expired and reports whether it did.
func ExpireSession(s Session, now time.Time) (Session, bool) {
	if s.State == Active && Passed(now, s.Expires) {
		s.State = Expired
		return s, true
	}
	return s, false
}

// UseSession decides whether caller (an OS user) may use s: release its credentials, open its
// gate, report what happened under it. Only the user who asked for the post may: in service
// mode every user of the laptop can list the sessions, so another user's session id is no
// secret, and a colleague taking it over would get the account's password and sign-in code.
func UseSession(s Session, caller string) Decision {
	if caller == s.Requester {
		return Decision{}
	}
	return alarm("session_refused", api.CodeNotPermitted, "session_other", Facts{Request: s.ID, Requester: s.Requester, Account: s.Account})
}

// Consume spends s for the publish u describes. Another account, action, text digest or
// manifest digest (another attachment, another answered post) is refused as an alarm and leaves
// the session unspent, so the approved post can still go out.
func Consume(s Session, u Use, now time.Time) (Session, Decision) {
	s, _ = ExpireSession(s, now)
	f := Facts{Account: s.Account, Action: s.Action, At: s.Expires, State: s.State}
	switch s.State {
	case Active:
	case Expired:
		return s, refused(api.CodeExpired, "session", f)
	case Revoked:
		return s, refused(api.CodeLocked, "session", f)
	default:
		return s, refused(api.CodeAlreadyUsed, "session_spent", f)
	}
	if u.Account != s.Account || u.Action != s.Action {
		f.UsedAccount, f.UsedAction = u.Account, u.Action
		return s, alarm("blocked", api.CodeScopeMismatch, "scope_mismatch", f)
	}
	if u.Digest != s.Digest {
		return s, alarm("blocked", api.CodeDigestMismatch, "digest_mismatch", f)
	}
	if u.ManifestDigest != s.ManifestDigest {
		return s, alarm("blocked", api.CodeDigestMismatch, "manifest_mismatch", f)
	}
	s.State = Consumed
	return s, allowed("session_consumed")
}

// Published records the report of what went out under s. Every report of a consumed session is
// recorded: a text digest or manifest digest other than the approved one is a publish_mismatch
// alarm, a second report
// of the approved text a publish_repeated alarm (refusing it silently would let a quick "all is well" report drown
// the real one). Both alarms are also refusals, so the reporter hears of them.
func Published(s Session, dg, mdg string) (Session, Decision) {
	if s.State != Consumed {
		return s, refused(api.CodeBadRequest, "not_consumed", Facts{State: s.State})
	}
	switch {
	case dg != s.Digest:
		// Only the approved text marks the session reported: a report of another text (a
		// wrong or a forged one) must not turn the genuine report into a "repeat".
		return s, alarm("publish_mismatch", api.CodeDigestMismatch, "published_other", Facts{})
	case mdg != s.ManifestDigest:
		// The text went out as approved, but with other attachments or under another post.
		return s, alarm("publish_mismatch", api.CodeDigestMismatch, "published_other_manifest", Facts{})
	case s.Published:
		return s, alarm("publish_repeated", api.CodeAlreadyUsed, "reported_twice", Facts{})
	}
	s.Published = true
	return s, allowed("published")
}

// Revoke ends an active session (Lock now, a removal) and reports whether it did.
func Revoke(s Session) (Session, bool) {
	if s.State == Active {
		s.State = Revoked
		return s, true
	}
	return s, false
}

// RevokeRequest ends a pending request (Lock now, a removal) and reports whether it did.
func RevokeRequest(r Request) (Request, bool) {
	if r.State == Pending {
		r.State = Revoked
		return r, true
	}
	return r, false
}

// WithdrawApproval removes approver id's approval from a pending request and reports whether
// there was one: a removed or re-enrolled approver's approvals no longer count.
func WithdrawApproval(r Request, id string) (Request, bool) {
	if r.State != Pending || !slices.Contains(r.ApprovedBy, id) {
		return r, false
	}
	r.ApprovedBy = slices.DeleteFunc(slices.Clone(r.ApprovedBy), func(s string) bool { return s == id })
	return r, true
}

// Offered returns, of the approvers given, those worth offering for requester's request on one
// of accounts (the account, when it is known; else every account in custody): confirmed, not
// disabled, not the requester, and authorised by the policy for at least one of the accounts.
// The extension shows only these, so staff are not offered a name that can only be refused.
func Offered(c Config, accounts []string, requester string, as []Approver) []string {
	var out []string
	for _, a := range as {
		if !a.Confirmed || a.Unverified || a.Throttle.Disabled || (a.OSUser != "" && a.OSUser == requester) {
			continue
		}
		if c.MayApprove != nil && !slices.ContainsFunc(accounts, func(acc string) bool { return c.MayApprove(acc, a.ID) }) {
			continue
		}
		out = append(out, a.ID)
	}
	return out
}
