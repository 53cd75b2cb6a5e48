package rules

import (
	"slices"
	"time"

	"foureyes/daemon/internal/api"
)

// UsedCode is a code the organisation's OTP server accepted for an approver, and when. The
// server gives no TOTP step, so replays are refused by remembering the code itself.
type UsedCode struct {
	Code string    `json:"code"`
	At   time.Time `json:"at"`
}

// Verdict is the OTP server's answer about a code.
type Verdict int

// Verdicts.
const (
	NotAsked Verdict = iota // the server has not been asked yet
	Accepted                // Access-Accept
	Rejected                // Access-Reject
)

// CheckRemoteCode is CheckCode for an approver whose codes the organisation's OTP server checks:
// the daemon's own rules come first (the throttle, well-formedness, a code remembered as
// accepted within c.RemoteWindow is a replay), and only a code that passes them is worth asking
// the server about: then, with v NotAsked, ask is true and nothing changed. With the server's
// verdict it returns the new record and the outcome, like CheckCode. The caller persists the
// record whatever the answer.
func CheckRemoteCode(c Config, a Approver, code string, v Verdict, now time.Time) (na Approver, out CodeOutcome, ref *Refusal, ask bool) {
	if ref := a.Throttle.Check(now); ref != nil {
		ref.Facts.Approver = a.ID
		return a, CodeOutcome{}, ref, false
	}
	if !WellFormedCode(code) {
		out := CodeOutcome{Failed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		return a, out, refuse(api.CodeBadCode, "malformed", Facts{Approver: a.ID}), false
	}
	// A new slice: the engine undoes a change by putting the old record back. A clock set back
	// keeps what it remembers (fails closed).
	a.Used = slices.DeleteFunc(slices.Clone(a.Used), func(u UsedCode) bool { return now.Sub(u.At) >= c.RemoteWindow })
	if slices.ContainsFunc(a.Used, func(u UsedCode) bool { return u.Code == code }) {
		out := CodeOutcome{Failed: true, Replayed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		next := time.Unix(int64(Step(now)+1)*StepSeconds, 0)
		return a, out, refuse(api.CodeReplayed, "", Facts{Approver: a.ID, At: next}), false
	}
	switch v {
	case NotAsked:
		return a, CodeOutcome{}, nil, true
	case Accepted:
		a.Used = append(a.Used, UsedCode{Code: code, At: now})
		a.Throttle = a.Throttle.Succeed()
		return a, CodeOutcome{}, nil, false
	default:
		out := CodeOutcome{Failed: true, LockedOut: a.Throttle.Fail(c.Throttle, now)}
		return a, out, refuse(api.CodeBadCode, "wrong", Facts{Approver: a.ID}), false
	}
}
