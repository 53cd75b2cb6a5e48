// Package rules holds the four-eyes rules: who may approve what, when a TOTP code counts, and
// the life of a request and a session. It is plain Go with no I/O: the caller passes the time,
// the policy's numbers and the state, and persists what changed. The engine calls it under its
// lock; every rule has a named table test here.
package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
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
	// MayApprove reports whether the policy authorises approver for account.
	MayApprove func(account, approver string) bool
}

// DefaultConfig is the embedded default policy's numbers.
func DefaultConfig() Config {
	return Config{
		Skew:       1,
		SessionTTL: 10 * time.Minute,
		RequestTTL: 10 * time.Minute,
		MaxOpen:    5,
		Throttle:   DefaultThrottle,
		MayApprove: func(string, string) bool { return true },
	}
}

// Approver is an enrolled approver as the rules see it.
type Approver struct {
	ID        string
	OSUser    string // the OS user this person logs in as, if mapped
	Confirmed bool
	LastStep  uint64 // last accepted TOTP step: a code at or before it is a replay
	Throttle  Throttle
}

// CodeOutcome says what a code check did to the approver's record, for the audit trail.
type CodeOutcome struct {
	Step      uint64 // the accepted step
	Failed    bool   // the code did not count (bad or replayed)
	Replayed  bool   // the code had been used before: an alarm
	LockedOut bool   // this failure started a lock-out or disabled the approver: an alarm
}

// CheckCode checks a code for approver a at now and updates a's record (last step, throttle).
// The caller persists a afterwards, whatever the answer, so neither replays nor failure counts
// are forgotten across restarts.
func CheckCode(c Config, a *Approver, secret, code string, now time.Time) (CodeOutcome, error) {
	if err := a.Throttle.Check(now); err != nil {
		return CodeOutcome{}, err
	}
	if !WellFormedCode(code) {
		out := CodeOutcome{Failed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		return out, api.Errorf(api.CodeBadCode, "the code must be the 6 digits shown in the approver's authenticator app")
	}
	step, m, err := matchStep(secret, code, now, c.Skew, a.LastStep)
	if err != nil {
		return CodeOutcome{}, fmt.Errorf("computing codes for approver %s: %w", a.ID, err)
	}
	switch m {
	case matchFresh:
		a.LastStep = step
		a.Throttle.Succeed()
		return CodeOutcome{Step: step}, nil
	case matchReplay:
		out := CodeOutcome{Failed: true, Replayed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		return out, api.Errorf(api.CodeReplayed, "this code was already used: wait for the next code in the authenticator app")
	default:
		out := CodeOutcome{Failed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		return out, api.Errorf(api.CodeBadCode, "wrong code for approver %s: check the app shows the account %q and the phone's clock is right", a.ID, a.ID)
	}
}

// NewRequest makes a pending request. open is how many pending requests the requester has.
func NewRequest(c Config, id, requester string, r api.NewRequest, digest string, open int, now time.Time) (api.Request, error) {
	if !slices.Contains(api.Actions, r.Action) {
		return api.Request{}, api.Errorf(api.CodeBadRequest, "unknown action %q: use one of post, reply, quote, repost", r.Action)
	}
	if r.Account == "" {
		return api.Request{}, api.Errorf(api.CodeBadRequest, "the request names no account")
	}
	if digest == "" || strings.TrimSpace(r.Text) == "" {
		// A repost names what it reposts (the post's address), so a session for one repost is
		// never good for any other.
		return api.Request{}, api.Errorf(api.CodeBadRequest, "the text is empty: there is nothing to approve (for a repost, give the address of the post being reposted)")
	}
	if r.Digest != "" && r.Digest != digest {
		return api.Request{}, api.Errorf(api.CodeDigestMismatch, "the text's digest does not match the digest sent with it: the two sides canonicalised the text differently")
	}
	if open >= c.MaxOpen {
		return api.Request{}, api.Errorf(api.CodeTooManyRequests, "%s already has %d open requests: cancel one or wait for it to be decided", requester, open)
	}
	return api.Request{
		ID: id, Account: r.Account, Action: r.Action, Text: r.Text, Digest: digest,
		Requester: requester, Created: now, Expires: now.Add(c.RequestTTL),
		State: api.RequestPending, ApprovalsNeeded: 1,
	}, nil
}

// Expire moves a pending request past its time to expired and reports whether it did.
func Expire(r *api.Request, now time.Time) bool {
	if r.State == api.RequestPending && !now.Before(r.Expires) {
		r.State = api.RequestExpired
		return true
	}
	return false
}

// requestOpen returns the error for a request that can no longer be decided.
func requestOpen(r *api.Request, now time.Time) error {
	Expire(r, now)
	switch r.State {
	case api.RequestPending:
		return nil
	case api.RequestExpired:
		return api.Errorf(api.CodeExpired, "request %s expired at %s: ask for approval again", r.ID, r.Expires.Local().Format("15:04"))
	case api.RequestDenied:
		return api.Errorf(api.CodeDenied, "request %s was denied by an approver", r.ID)
	case api.RequestRevoked:
		return api.Errorf(api.CodeLocked, "request %s was revoked by Lock now", r.ID)
	default:
		return api.Errorf(api.CodeAlreadyUsed, "request %s is already %s", r.ID, r.State)
	}
}

// CanApprove checks everything about an approval except the code: the request is open, the
// approver is confirmed, is not the requester, has not approved this request already, is
// authorised for the account, and posting hours allow it. It returns how many approvals the
// request needs at now. Checked before the code, so a refused approval never spends a code.
func CanApprove(c Config, r *api.Request, a *Approver, now time.Time) (needed int, err error) {
	if err := requestOpen(r, now); err != nil {
		return 0, err
	}
	if !a.Confirmed {
		return 0, api.Errorf(api.CodeNotConfirmed, "approver %s has not confirmed enrolment yet: run foureyes approver confirm %s CODE", a.ID, a.ID)
	}
	if a.OSUser != "" && a.OSUser == r.Requester {
		return 0, api.Errorf(api.CodeSelfApproval, "approver %s is the requester (%s): someone else must approve", a.ID, r.Requester)
	}
	if slices.Contains(r.ApprovedBy, a.ID) {
		return 0, api.Errorf(api.CodeSelfApproval, "approver %s has already approved this request: a second, different approver is needed", a.ID)
	}
	if c.MayApprove != nil && !c.MayApprove(r.Account, a.ID) {
		return 0, api.Errorf(api.CodeNotAuthorised, "approver %s is not authorised for %s by the policy", a.ID, r.Account)
	}
	needed = 1
	if c.Within != nil && !c.Within(now) {
		if c.OutsideRefuse {
			return 0, api.Errorf(api.CodeOutsideHours, "posting is not allowed outside the posting hours set by the policy")
		}
		needed = 2
	}
	if r.ApprovalsNeeded > needed {
		needed = r.ApprovalsNeeded
	}
	return needed, nil
}

// RecordApproval adds approver id to r after a valid code and reports whether r is now fully
// approved (then the caller issues a session with [NewSession]).
func RecordApproval(r *api.Request, id string, needed int) bool {
	r.ApprovedBy = append(r.ApprovedBy, id)
	r.ApprovalsNeeded = needed
	if len(r.ApprovedBy) >= needed {
		r.State = api.RequestApproved
		return true
	}
	return false
}

// CanDeny checks a deny: the request is open and the approver may approve it.
func CanDeny(c Config, r *api.Request, a *Approver, now time.Time) error {
	if err := requestOpen(r, now); err != nil {
		return err
	}
	if !a.Confirmed {
		return api.Errorf(api.CodeNotConfirmed, "approver %s has not confirmed enrolment yet", a.ID)
	}
	if c.MayApprove != nil && !c.MayApprove(r.Account, a.ID) {
		return api.Errorf(api.CodeNotAuthorised, "approver %s is not authorised for %s by the policy", a.ID, r.Account)
	}
	return nil
}

// CanCancel checks that requester may cancel r.
func CanCancel(r *api.Request, requester string, now time.Time) error {
	if r.Requester != requester {
		return api.Errorf(api.CodeNotPermitted, "only %s, who asked, can cancel request %s", r.Requester, r.ID)
	}
	return requestOpen(r, now)
}

// NewSession issues the one-time posting session for a fully approved request.
func NewSession(c Config, id string, r *api.Request, now time.Time) api.Session {
	return api.Session{
		ID: id, RequestID: r.ID, Account: r.Account, Action: r.Action, Digest: r.Digest,
		Requester: r.Requester, ApprovedBy: slices.Clone(r.ApprovedBy),
		Issued: now, Expires: now.Add(c.SessionTTL), State: api.SessionActive,
	}
}

// ExpireSession moves an active session past its time to expired and reports whether it did.
func ExpireSession(s *api.Session, now time.Time) bool {
	if s.State == api.SessionActive && !now.Before(s.Expires) {
		s.State = api.SessionExpired
		return true
	}
	return false
}

// Consume spends s for the publish u describes. Another account, action or digest is refused
// and leaves the session unspent, so the approved post can still go out.
func Consume(s *api.Session, u api.Use, now time.Time) error {
	ExpireSession(s, now)
	switch s.State {
	case api.SessionActive:
	case api.SessionExpired:
		return api.Errorf(api.CodeExpired, "the posting session expired at %s: ask for approval again", s.Expires.Local().Format("15:04:05"))
	case api.SessionRevoked:
		return api.Errorf(api.CodeLocked, "the posting session was revoked (Lock now, or its approver or account was removed): ask for approval again")
	default:
		return api.Errorf(api.CodeAlreadyUsed, "the posting session was already used: each approval allows one post")
	}
	if u.Account != s.Account || u.Action != s.Action {
		return api.Errorf(api.CodeScopeMismatch, "the posting session was approved for a %s on %s, not a %s on %s: ask for approval of this one",
			s.Action, s.Account, orNone(u.Action), orNone(u.Account))
	}
	if u.Digest != s.Digest {
		return api.Errorf(api.CodeDigestMismatch, "the text is not the approved text: it was changed after approval, so it needs a new approval")
	}
	s.State = api.SessionConsumed
	return nil
}

// Revoke ends an active session (Lock now) and reports whether it did.
func Revoke(s *api.Session) bool {
	if s.State == api.SessionActive {
		s.State = api.SessionRevoked
		return true
	}
	return false
}

// RevokeRequest ends a pending request (Lock now, approver removed) and reports whether it did.
func RevokeRequest(r *api.Request) bool {
	if r.State == api.RequestPending {
		r.State = api.RequestRevoked
		return true
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
