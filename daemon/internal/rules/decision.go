package rules

import (
	"time"

	"foureyes/daemon/internal/api"
)

// Severity is an audit event's severity.
type Severity string

// Severities. High events are alarms: IT's log system should page someone.
const (
	Info Severity = "info"
	High Severity = "high"
)

// Decision is what a rule decided: the audit event to record (none when Event is empty) and,
// when the operation is refused, why. A refusal may still carry an event (an alarm) and a new
// state (a failed code counts against the approver): the engine records and persists those
// before it answers with the refusal.
type Decision struct {
	Event    string
	Severity Severity
	Refusal  *Refusal
}

// Allowed reports whether the decision lets the operation go ahead.
func (d Decision) Allowed() bool { return d.Refusal == nil }

// Refusal says why a rule refused, as a stable code and the facts behind it. It carries no
// wording for people: the engine's transports word it (with the policy's time zone).
type Refusal struct {
	Code api.Code
	// Reason names which rule refused, where one code has several (e.g. "blank", "author_mark").
	Reason string
	Facts  Facts
}

// Facts are the details a refusal's wording may need. Only the ones that apply are set.
type Facts struct {
	Request     string
	Approver    string
	Requester   string
	Account     string
	Action      string
	UsedAccount string
	UsedAction  string
	State       string
	Value       string // the offending input, for input refusals
	Open, Limit int
	At          time.Time // when something expired, or when a lock-out ends
}

func (r *Refusal) Error() string {
	if r.Reason != "" {
		return string(r.Code) + ": " + r.Reason
	}
	return string(r.Code)
}

func refuse(code api.Code, reason string, f Facts) *Refusal {
	return &Refusal{Code: code, Reason: reason, Facts: f}
}

func refused(code api.Code, reason string, f Facts) Decision {
	return Decision{Refusal: refuse(code, reason, f)}
}

// alarm is a refusal that is also a high-severity audit event.
func alarm(event string, code api.Code, reason string, f Facts) Decision {
	return Decision{Event: event, Severity: High, Refusal: refuse(code, reason, f)}
}

func allowed(event string) Decision { return Decision{Event: event, Severity: Info} }
