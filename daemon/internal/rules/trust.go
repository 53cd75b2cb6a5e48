package rules

import "foureyes/daemon/internal/api"

// Who may approve is the trust root: a staff member who could enrol an approver on their own
// phone could approve their own posts. So every change to it needs the current code of another
// confirmed approver, except the very first enrolment (the bootstrap, marked as such in the
// trail).

// TrustKind is a kind of change to who may approve.
type TrustKind string

// The changes to who may approve.
const (
	TrustEnrol   TrustKind = "enrol"   // a new approver
	TrustReenrol TrustKind = "reenrol" // a new secret (phone) for an existing approver
	TrustRemove  TrustKind = "remove"  // an approver removed
	TrustAdopt   TrustKind = "adopt"   // an approver found in the state file without its trail, accepted
)

// TrustChange is one change to who may approve, as asked for.
type TrustChange struct {
	Kind   TrustKind
	Target string // the approver the change is about
	By     string // the approver whose code authorises it; "" when none was given
	Caller string // the OS user asking (the staff member at the keyboard)
	// InTrail counts the approvers the audit trail has enrolled and not removed: while there
	// are any, there is no bootstrap, whatever the state file says (it can be edited).
	InTrail int
}

// Counts reports whether a can vouch for others: confirmed and its enrolment in the trail.
// A disabled approver still counts here (it exists, so there is no bootstrap), but cannot give
// a code.
func (a Approver) counts() bool { return a.Confirmed && !a.Unverified }

// CheckTrustChange decides whether ch may go ahead, given every enrolled approver. bootstrap is
// true for the very first enrolment (then no code is needed, and the trail says so);
// otherwise, when the decision allows it, the caller must still check ch.By's code with
// [CheckCode] before making the change. Changes that only take rights away from nobody
// (removing an approver that never counted) need no code.
func CheckTrustChange(ch TrustChange, as []Approver) (bootstrap bool, d Decision) {
	f := Facts{Approver: ch.By, Value: ch.Target, Requester: ch.Caller, Action: string(ch.Kind)}
	var target, by *Approver
	vouchers := 0
	for i := range as {
		a := &as[i]
		if a.ID == ch.Target {
			target = a
		}
		if a.ID == ch.By {
			by = a
		}
		if a.counts() {
			vouchers++
		}
	}
	if ch.Kind == TrustRemove && (target == nil || !target.counts()) {
		return false, Decision{} // it never approved anything: nothing to vouch for
	}
	// Only the very first enrolment is free: no approver of any kind in the state file, and
	// none in the trail (editing the state file, or deleting the trail, must not reopen it).
	if len(as) == 0 && ch.Kind == TrustEnrol {
		if ch.InTrail > 0 {
			return false, alarm("trust_change_refused", api.CodeSecondApprover, "lost", f)
		}
		return true, Decision{}
	}
	if vouchers == 0 && ch.By == "" {
		return false, refused(api.CodeSecondApprover, "none_confirmed", f)
	}
	if ch.By == "" {
		return false, refused(api.CodeSecondApprover, "missing", f)
	}
	if by == nil {
		return false, refused(api.CodeSecondApprover, "unknown", f)
	}
	if ch.By == ch.Target {
		// The last approver may leave with their own code; everyone else needs a colleague.
		if !(ch.Kind == TrustRemove && vouchers == 1) {
			return false, refused(api.CodeSecondApprover, "same", f)
		}
	}
	if !by.counts() {
		return false, refused(api.CodeSecondApprover, "not_confirmed", f)
	}
	if by.OSUser != "" && by.OSUser == ch.Caller {
		// The staff member's own approver record vouching for a phone they hold would be one
		// pair of eyes.
		return false, alarm("trust_change_refused", api.CodeSelfApproval, "trust", f)
	}
	return false, Decision{}
}

// AccountUsable refuses requests on an account found in the state file without its
// account_added line in the audit trail: nobody answerable put it in custody.
func AccountUsable(id string, unverified bool) Decision {
	if unverified {
		return alarm("request_refused", api.CodeUnverified, "account", Facts{Account: id})
	}
	return Decision{}
}
