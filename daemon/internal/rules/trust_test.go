package rules

import (
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

func TestCheckTrustChange(t *testing.T) {
	anna := Approver{ID: "anna", OSUser: "anna", Confirmed: true}
	ben := Approver{ID: "ben", Confirmed: true}
	staffer := Approver{ID: "staffer", OSUser: "staff", Confirmed: true}
	pending := Approver{ID: "cem"}
	ghost := Approver{ID: "ghost", Confirmed: true, Unverified: true}
	disabled := Approver{ID: "dora", Confirmed: true, Throttle: Throttle{Disabled: true}}
	ch := func(k TrustKind, target, by string) TrustChange {
		return TrustChange{Kind: k, Target: target, By: by, Caller: "staff"}
	}
	cases := []struct {
		name      string
		ch        TrustChange
		as        []Approver
		bootstrap bool
		code      api.Code
		reason    string
		alarm     bool
	}{
		{"first approver", ch(TrustEnrol, "anna", ""), nil, true, "", "", false},
		{"only the first is free: not a second while the first is pending", ch(TrustEnrol, "ben", ""), []Approver{pending}, false, api.CodeSecondApprover, "none_confirmed", false},
		{"a pending approver cannot vouch", ch(TrustEnrol, "ben", "cem"), []Approver{pending}, false, api.CodeSecondApprover, "not_confirmed", false},
		{"a ghost ends the bootstrap and cannot vouch", ch(TrustEnrol, "ben", "ghost"), []Approver{ghost}, false, api.CodeSecondApprover, "not_confirmed", false},
		{"re-enrol the pending first approver", ch(TrustReenrol, "cem", ""), []Approver{pending}, false, api.CodeSecondApprover, "none_confirmed", false},
		{"no bootstrap while the trail has approvers the state lost", TrustChange{Kind: TrustEnrol, Target: "x", Caller: "staff", InTrail: 1}, nil, false, api.CodeSecondApprover, "lost", true},
		{"no bootstrap with approvers all unconfirmed by hand", ch(TrustReenrol, "anna", ""), []Approver{{ID: "anna", OSUser: "anna"}, {ID: "ben"}}, false, api.CodeSecondApprover, "none_confirmed", false},
		{"enrol without a code", ch(TrustEnrol, "carla", ""), []Approver{anna}, false, api.CodeSecondApprover, "missing", false},
		{"enrol vouched by anna", ch(TrustEnrol, "carla", "anna"), []Approver{anna}, false, "", "", false},
		{"vouched by an unknown id", ch(TrustEnrol, "carla", "zed"), []Approver{anna}, false, api.CodeSecondApprover, "unknown", false},
		{"vouched by a pending approver", ch(TrustEnrol, "carla", "cem"), []Approver{anna, pending}, false, api.CodeSecondApprover, "not_confirmed", false},
		{"vouched by a ghost", ch(TrustEnrol, "carla", "ghost"), []Approver{anna, ghost}, false, api.CodeSecondApprover, "not_confirmed", false},
		{"vouched by the caller's own approver", ch(TrustEnrol, "carla", "staffer"), []Approver{anna, staffer}, false, api.CodeSelfApproval, "trust", true},
		{"re-enrol oneself", ch(TrustReenrol, "anna", "anna"), []Approver{anna, ben}, false, api.CodeSecondApprover, "same", false},
		{"re-enrol vouched by ben", ch(TrustReenrol, "anna", "ben"), []Approver{anna, ben}, false, "", "", false},
		{"a disabled approver still ends the bootstrap", ch(TrustEnrol, "carla", ""), []Approver{disabled}, false, api.CodeSecondApprover, "missing", false},
		{"remove a confirmed one without a code", ch(TrustRemove, "ben", ""), []Approver{anna, ben}, false, api.CodeSecondApprover, "missing", false},
		{"remove oneself while others remain", ch(TrustRemove, "ben", "ben"), []Approver{anna, ben}, false, api.CodeSecondApprover, "same", false},
		{"the last one leaves with their own code", ch(TrustRemove, "anna", "anna"), []Approver{anna}, false, "", "", false},
		{"remove a pending one: nothing to vouch for", ch(TrustRemove, "cem", ""), []Approver{anna, pending}, false, "", "", false},
		{"remove a ghost: nothing to vouch for", ch(TrustRemove, "ghost", ""), []Approver{anna, ghost}, false, "", "", false},
		{"accept a ghost needs a code", ch(TrustAdopt, "ghost", ""), []Approver{anna, ghost}, false, api.CodeSecondApprover, "missing", false},
		{"a ghost cannot accept itself", ch(TrustAdopt, "ghost", "ghost"), []Approver{anna, ghost}, false, api.CodeSecondApprover, "same", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			boot, d := CheckTrustChange(c.ch, c.as)
			if boot != c.bootstrap {
				t.Errorf("bootstrap = %v, want %v", boot, c.bootstrap)
			}
			if c.code == "" {
				if !d.Allowed() {
					t.Fatalf("refused: %v", d.Refusal)
				}
				return
			}
			if d.Allowed() || d.Refusal.Code != c.code || d.Refusal.Reason != c.reason {
				t.Fatalf("decision %+v, want %s/%s", d.Refusal, c.code, c.reason)
			}
			if (d.Severity == High) != c.alarm {
				t.Errorf("alarm = %v, want %v", d.Severity == High, c.alarm)
			}
		})
	}
}

func TestUnverifiedApproversAndAccounts(t *testing.T) {
	c := Config{}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r := Request{ID: "r1", Account: "x:@m", Requester: "staff", State: Pending, Expires: t0.Add(10 * time.Minute)}
	if _, d := CanApprove(c, r, Approver{ID: "ghost", Confirmed: true, Unverified: true}, t0); d.Allowed() || d.Refusal.Code != api.CodeUnverified || d.Severity != High {
		t.Fatalf("an unverified approver: %+v", d)
	}
	if d := CanDeny(c, r, Approver{ID: "ghost", Confirmed: true, Unverified: true}, t0); d.Allowed() || d.Refusal.Code != api.CodeUnverified {
		t.Fatalf("an unverified approver denies: %+v", d)
	}
	if got := Offered(c, []string{"x:@m"}, "staff", []Approver{{ID: "ghost", Confirmed: true, Unverified: true}, {ID: "anna", Confirmed: true}}); len(got) != 1 || got[0] != "anna" {
		t.Fatalf("offered %v", got)
	}
	if d := AccountUsable("x:@m", true); d.Allowed() || d.Refusal.Code != api.CodeUnverified || d.Severity != High {
		t.Fatalf("unverified account: %+v", d)
	}
	if d := AccountUsable("x:@m", false); !d.Allowed() {
		t.Fatalf("verified account: %+v", d)
	}
}
