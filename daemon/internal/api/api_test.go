package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Scripts read locked_until as "locked out until then": it is absent when nobody is.
func TestLockedUntilAbsentWhenNotLockedOut(t *testing.T) {
	b, err := json.Marshal(Approver{ID: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "locked_until") {
		t.Errorf("an approver who is not locked out: %s", b)
	}
	b, err = json.Marshal(Approver{ID: "anna", LockedUntil: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"locked_until":"2026-12-01T10:00:00Z"`) {
		t.Errorf("a locked-out approver: %s", b)
	}
}

func TestProblems(t *testing.T) {
	if p := (Status{}).Problems(); len(p) != 0 {
		t.Errorf("a healthy status has problems: %q", p)
	}
	p := Status{KeyringError: "locked", BridgeError: "port in use", ForwardError: "no socket", AuditError: "disk full", PolicyError: "bad"}.Problems()
	if len(p) != 5 || !strings.HasPrefix(p[0], "policy invalid: bad") || !strings.HasPrefix(p[1], "keyring unavailable: locked") {
		t.Errorf("problems = %q", p)
	}
}
