package rules

import (
	"time"

	"foureyes/daemon/internal/api"
)

// ThrottleConfig limits failed codes per approver.
type ThrottleConfig struct {
	MaxFailures    int           // failures within Window that trigger a lock-out
	Window         time.Duration // how far back failures count
	Lockout        time.Duration // first lock-out; doubles with each further one
	MaxLockout     time.Duration // cap of the growing back-off
	MaxConsecutive int           // consecutive failures after which the approver is disabled
}

// Throttle is one approver's failure record. It is persisted, so a restart does not reset it.
type Throttle struct {
	Failures    []time.Time `json:"failures,omitempty"` // failures inside the current window
	Consecutive int         `json:"consecutive"`        // failures since the last success
	Lockouts    int         `json:"lockouts"`           // lock-outs since the last success
	LockedUntil time.Time   `json:"locked_until"`       // no code is checked before this
	Disabled    bool        `json:"disabled,omitempty"` // MaxConsecutive reached: needs an administrator
}

// Check refuses (throttled) if the approver may not try a code now.
func (t Throttle) Check(now time.Time) *Refusal {
	if t.Disabled {
		return refuse(api.CodeThrottled, "disabled", Facts{})
	}
	if now.Before(t.LockedUntil) {
		return refuse(api.CodeThrottled, "locked_out", Facts{At: t.LockedUntil})
	}
	return nil
}

// Fail records a failed code at now and reports whether it started a lock-out or disabled the
// approver (both are high-severity audit events).
func (t *Throttle) Fail(c ThrottleConfig, now time.Time) (lockedOut bool) {
	t.Consecutive++
	if t.Consecutive >= c.MaxConsecutive {
		t.Disabled = true
		t.Failures = nil
		return true
	}
	// A new slice: the record this one was copied from must stay as it was (the engine undoes
	// a change by putting the old record back).
	kept := make([]time.Time, 0, len(t.Failures)+1)
	for _, f := range t.Failures {
		if now.Sub(f) < c.Window {
			kept = append(kept, f)
		}
	}
	t.Failures = append(kept, now)
	if len(t.Failures) < c.MaxFailures {
		return false
	}
	t.Lockouts++
	d := c.Lockout
	for i := 1; i < t.Lockouts && d < c.MaxLockout; i++ {
		d *= 2
	}
	if d > c.MaxLockout {
		d = c.MaxLockout
	}
	t.LockedUntil = now.Add(d)
	t.Failures = nil
	return true
}

// Succeed returns the record after an accepted code: clear.
func (t Throttle) Succeed() Throttle {
	return Throttle{}
}

// Unlock ends a lock-out early (an administrator's act). It keeps the count of consecutive
// failures and of lock-outs, so unlocking again and again never buys more than the
// MaxConsecutive guesses in total, and the next lock-out is as long as it would have been. A
// disabled approver cannot be unlocked: guessing may have come close to the secret, so only a
// new secret (re-enrolment) helps.
func (t Throttle) Unlock() (Throttle, Decision) {
	if t.Disabled {
		return t, refused(api.CodeNotPermitted, "disabled", Facts{})
	}
	t.LockedUntil = time.Time{}
	t.Failures = nil
	return t, Decision{Event: "approver_unlocked", Severity: High}
}
