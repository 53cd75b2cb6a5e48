package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
)

// line finds the first audit line of event and returns its severity and fields.
func auditLine(t *testing.T, f *fixture, event string) (string, map[string]any) {
	t.Helper()
	for _, l := range strings.Split(readAudit(t, f), "\n") {
		var rec struct {
			Event, Severity string
			Fields          map[string]any
		}
		if json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimSpace(l), ",")), &rec) == nil && rec.Event == event {
			return rec.Severity, rec.Fields
		}
	}
	return "", nil
}

func TestFirstApproverIsTheBootstrap(t *testing.T) {
	f := newFixture(t)
	f.enrol("anna", "anna")
	sev, fields := auditLine(t, f, "approver_enrolled")
	if sev != "high" || fields["bootstrap"] != true {
		t.Fatalf("first enrolment: severity %q fields %v, want high with bootstrap", sev, fields)
	}
}

// Tried as the staff member would: enrol an approver of their own, or re-enrol a real one on
// their own phone, with no other approver's code.
func TestTrustChangesNeedASecondApprover(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.enrol("anna", "anna")
	f.enrol("ben", "ben")
	f.enrol("staffer", "staff") // the staff member is an approver too (of other things)
	f.clk.Advance(30 * time.Second)
	annaCode := func() string { return f.codeFor("anna", f.clk.Now()) }
	keysBefore := len(f.store.m)

	cases := []struct {
		name string
		op   func() error
		want api.Code
	}{
		{"enrol without a code", func() error {
			_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "carla", Name: "Carla"})
			return err
		}, api.CodeSecondApprover},
		{"re-enrol without a code", func() error {
			_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"})
			return err
		}, api.CodeSecondApprover},
		{"re-enrol vouched by herself", func() error {
			_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna", By: api.Authority{Approver: "anna", Code: annaCode()}})
			return err
		}, api.CodeSecondApprover},
		{"enrol vouched by the caller's own approver", func() error {
			_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "carla", Name: "Carla",
				By: api.Authority{Approver: "staffer", Code: f.codeFor("staffer", f.clk.Now())}})
			return err
		}, api.CodeSelfApproval},
		{"enrol vouched by nobody known", func() error {
			_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "carla", Name: "Carla", By: api.Authority{Approver: "zed", Code: "123456"}})
			return err
		}, api.CodeSecondApprover},
		{"enrol with a wrong code", func() error {
			_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "carla", Name: "Carla", By: api.Authority{Approver: "anna", Code: "000000"}})
			return err
		}, api.CodeBadCode},
		{"remove without a code", func() error { return f.admin().RemoveApprover(ctx, "ben", api.Authority{}) }, api.CodeSecondApprover},
		{"remove vouched by the removed", func() error {
			return f.admin().RemoveApprover(ctx, "ben", api.Authority{Approver: "ben", Code: f.codeFor("ben", f.clk.Now())})
		}, api.CodeSecondApprover},
	}
	for _, c := range cases {
		wantCode(t, c.op(), c.want)
		as, _ := f.admin().ListApprovers(ctx)
		if len(as) != 3 {
			t.Fatalf("%s: approvers now %+v", c.name, as)
		}
		if len(f.store.m) != keysBefore {
			t.Fatalf("%s: the keyring changed", c.name)
		}
	}
	if sev, fields := auditLine(t, f, "trust_change_refused"); sev != "high" || fields["authorised_by"] != "staffer" {
		t.Errorf("self-vouching: %q %v, want a high-severity line", sev, fields)
	}
	if _, fields := auditLine(t, f, "code_failed"); fields["purpose"] != "authorise enrol" {
		t.Errorf("the wrong vouching code is not recorded as such: %v", fields)
	}

	// With anna's current code, it works, and the line says who vouched.
	f.clk.Advance(30 * time.Second)
	if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "carla", Name: "Carla", By: api.Authority{Approver: "anna", Code: annaCode()}}); err != nil {
		t.Fatal(err)
	}
	if sev, fields := auditLine(t, f, "approver_enrolled"); sev != "high" {
		t.Errorf("enrolment severity %q (%v)", sev, fields)
	}
	if !strings.Contains(readAudit(t, f), `"approver":"carla","approver_os_user":"","authorised_by":"anna"`) {
		t.Errorf("the enrolment line does not name who vouched:\n%s", readAudit(t, f))
	}
	// The same code again is a replay, also for vouching.
	wantCode(t, f.admin().RemoveApprover(ctx, "ben", api.Authority{Approver: "anna", Code: annaCode()}), api.CodeReplayed)
	// A pending approver (who never approved anything) can be removed without a code.
	if err := f.admin().RemoveApprover(ctx, "carla", api.Authority{}); err != nil {
		t.Fatalf("removing a pending enrolment: %v", err)
	}
}

// The last approver may remove themselves with their own code; then the next is a bootstrap.
func TestLastApproverMayLeave(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.enrol("anna", "anna")
	wantCode(t, f.admin().RemoveApprover(ctx, "anna", api.Authority{}), api.CodeSecondApprover)
	if err := f.admin().RemoveApprover(ctx, "anna", f.vouch("anna")); err != nil {
		t.Fatal(err)
	}
	if sev, _ := auditLine(t, f, "approver_removed"); sev != "high" {
		t.Errorf("approver_removed severity %q, want high", sev)
	}
}

// editState changes the state file while the daemon is stopped, as a staff member could.
func editState(t *testing.T, f *fixture, edit func(st map[string]any)) {
	t.Helper()
	p := filepath.Join(f.home, StateFile)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	out, _ := json.Marshal(st)
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A ghost approver: added to state.json by hand (with a secret in the keyring the staff member
// can write) while the daemon was stopped.
func TestGhostApproverIsAnAlarmAndUseless(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.enrol("anna", "anna")
	f.ensureAccount("x:@ministry")
	editState(t, f, func(st map[string]any) {
		st["approvers"].(map[string]any)["ghost"] = map[string]any{"id": "ghost", "name": "Ghost", "confirmed": true, "enrolled": t0}
		// And anna's confirmation reset and forged back would look like this: covered below.
	})
	if err := f.store.Set(custody.ApproverKey("ghost"), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"); err != nil {
		t.Fatal(err)
	}
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	sev, fields := auditLine(t, f, "approver_unverified")
	if sev != "high" || fields["approver"] != "ghost" {
		t.Fatalf("no alarm for the ghost: %q %v\n%s", sev, fields, readAudit(t, f))
	}
	r := f.request("vom Geist genehmigt")
	_, err := f.staff().Approve(ctx, r.ID, "ghost", f.codeFor("ghost", f.clk.Now()))
	wantCode(t, err, api.CodeUnverified)
	offered, _ := f.staff().OfferedApprovers(ctx, "")
	for _, a := range offered {
		if a.ID == "ghost" {
			t.Fatal("the ghost is offered to staff")
		}
	}
	// It cannot vouch either.
	_, err = f.admin().EnrollApprover(ctx, api.NewApprover{ID: "carla", Name: "Carla", By: api.Authority{Approver: "ghost", Code: f.codeFor("ghost", f.clk.Now())}})
	wantCode(t, err, api.CodeSecondApprover)
	// Removing the flag from the file by hand does not help: every start decides it again.
	editState(t, f, func(st map[string]any) {
		delete(st["approvers"].(map[string]any)["ghost"].(map[string]any), "unverified")
	})
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	as, _ := f.admin().ListApprovers(ctx)
	for _, a := range as {
		if a.ID == "ghost" && !a.Unverified {
			t.Fatal("the ghost is verified after its flag was removed from the file")
		}
	}
	// IT accepts it with anna's code: usable now, and after the next start too.
	f.clk.Advance(30 * time.Second)
	if _, err := f.admin().AcceptApprover(ctx, "ghost", api.Authority{Approver: "anna", Code: f.codeFor("anna", f.clk.Now())}); err != nil {
		t.Fatal(err)
	}
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	as, _ = f.admin().ListApprovers(ctx)
	for _, a := range as {
		if a.Unverified {
			t.Fatalf("after acceptance: %+v", a)
		}
	}
}

func TestForgedConfirmationAndGhostAccount(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.enrol("anna", "anna")
	if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "carla", Name: "Carla", By: f.vouch("carla")}); err != nil {
		t.Fatal(err)
	}
	f.ensureAccount("x:@ministry")
	editState(t, f, func(st map[string]any) {
		st["approvers"].(map[string]any)["carla"].(map[string]any)["confirmed"] = true
		st["accounts"].(map[string]any)["x:@private"] = map[string]any{"id": "x:@private", "platform": "x", "handle": "@private", "username": "me"}
	})
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	if _, fields := auditLine(t, f, "approver_unverified"); fields["approver"] != "carla" {
		t.Fatalf("a confirmation the trail never saw is not flagged: %v", fields)
	}
	if sev, fields := auditLine(t, f, "account_unverified"); sev != "high" || fields["account"] != "x:@private" {
		t.Fatalf("ghost account: %q %v", sev, fields)
	}
	_, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "x:@private", Action: "post", Text: "privat"})
	wantCode(t, err, api.CodeUnverified)
	if _, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "x:@ministry", Action: "post", Text: "ok"}); err != nil {
		t.Fatalf("a verified account: %v", err)
	}
	if _, err := f.admin().AcceptAccount(ctx, "x:@private", f.vouch("")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "x:@private", Action: "post", Text: "privat"}); err != nil {
		t.Fatalf("after acceptance: %v", err)
	}
}

// Deleting the approvers from the state file must not open the bootstrap again.
func TestRemovedByHandIsNoBootstrap(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.enrol("anna", "anna")
	editState(t, f, func(st map[string]any) { st["approvers"] = map[string]any{} })
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	if sev, fields := auditLine(t, f, "approver_missing"); sev != "high" || fields["approver"] != "anna" {
		t.Fatalf("approver_missing: %q %v", sev, fields)
	}
	_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "mine", Name: "Mine"})
	wantCode(t, err, api.CodeSecondApprover)
	as, _ := f.admin().ListApprovers(ctx)
	if len(as) != 0 {
		t.Fatalf("approvers: %+v", as)
	}
}

// Ways round the bootstrap, each with one edit of a file the staff member
// owns while the daemon is stopped.
func TestStateEditsDoNotReopenTheBootstrap(t *testing.T) {
	ctx := context.Background()
	t.Run("approvers set back to pending", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "anna")
		f.enrol("ben", "ben")
		editState(t, f, func(st map[string]any) {
			for _, a := range st["approvers"].(map[string]any) {
				a.(map[string]any)["confirmed"] = false
			}
		})
		f.start()
		if err := f.eng.Start(); err != nil {
			t.Fatal(err)
		}
		if _, fields := auditLine(t, f, "approver_unverified"); !strings.Contains(fmt.Sprint(fields["reason"]), "the audit trail has the confirmation") {
			t.Fatalf("no alarm: %v", fields)
		}
		_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"})
		wantCode(t, err, api.CodeSecondApprover)
	})
	t.Run("audit trail deleted", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "anna")
		f.ensureAccount("x:@ministry")
		_ = f.log.Close()
		if err := os.Remove(filepath.Join(f.home, "audit.jsonl")); err != nil {
			t.Fatal(err)
		}
		f.start()
		if err := f.eng.Start(); err != nil {
			t.Fatal(err)
		}
		if _, fields := auditLine(t, f, "approver_unverified"); !strings.Contains(fmt.Sprint(fields["reason"]), "empty or missing") {
			t.Fatalf("no alarm: %v", fields)
		}
		_, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "mine", Name: "Mine"})
		wantCode(t, err, api.CodeSecondApprover)
		_, err = f.admin().AcceptAccount(ctx, "x:@ministry", api.Authority{})
		wantCode(t, err, api.CodeSecondApprover)
	})
	t.Run("own approver's OS user cleared", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "anna")
		f.enrol("staffer", "staff")
		editState(t, f, func(st map[string]any) {
			delete(st["approvers"].(map[string]any)["staffer"].(map[string]any), "os_user")
		})
		f.start()
		if err := f.eng.Start(); err != nil {
			t.Fatal(err)
		}
		r := f.request("selbst genehmigt")
		_, err := f.staff().Approve(ctx, r.ID, "staffer", f.codeFor("staffer", f.clk.Now()))
		wantCode(t, err, api.CodeUnverified)
	})
	t.Run("a record under another id", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "anna")
		editState(t, f, func(st map[string]any) {
			as := st["approvers"].(map[string]any)
			as["anna"].(map[string]any)["id"] = "ben"
		})
		_ = f.log.Close()
		_, err := New(Options{Home: f.home, Store: f.store, Audit: f.audit, Policy: f.pol, Clock: f.clk, LookupUser: testUsers})
		if err == nil || !strings.Contains(err.Error(), `approver "anna" has the record of "ben"`) {
			t.Fatalf("a state file with a misfiled record: %v", err)
		}
	})
}

// Lines after a long one are read: the trail's long lines are read whole.
func TestLongTrailLinesAreRead(t *testing.T) {
	f := newFixture(t)
	f.enrol("anna", "anna")
	// A post longer than the reader's buffer (20,000 four-byte characters), then an enrolment.
	f.request(strings.Repeat("🙂", 20000))
	f.enrol("ben", "ben")
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	as, _ := f.admin().ListApprovers(context.Background())
	if len(as) != 2 || as[0].Unverified || as[1].Unverified {
		t.Fatalf("%+v", as)
	}
}

// A start after a run that ended without its closing lines says so; after a clean stop it does
// not.
func TestUncleanStopIsNoted(t *testing.T) {
	f := newFixture(t)
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	f.enrol("anna", "anna")
	f.start() // killed: no daemon_stopped line
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readAudit(t, f), `"last_event":"approver_confirmed"`) || !strings.Contains(readAudit(t, f), `"unclean_stop":true`) {
		t.Fatalf("no note of the unclean stop:\n%s", readAudit(t, f))
	}
	f.eng.stop()
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(readAudit(t, f), `"unclean_stop":true`); n != 1 {
		t.Fatalf("%d unclean stops noted, want 1 (the second start followed a clean stop)", n)
	}
}
