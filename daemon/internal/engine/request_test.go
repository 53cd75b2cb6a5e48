package engine

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/policy"
)

// What is known when a request is made is said then, not after the approver typed a code.
func TestRequestRefusalsBeforeAnyCode(t *testing.T) {
	ctx := context.Background()
	hours := func(outside string) *policy.Policy {
		p, err := policy.Parse([]byte(`{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","days":["mon","tue","wed","thu","fri"],"start":"07:00","end":"20:00","outside":"` + outside + `"}}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		pol    *policy.Policy
		at     time.Time
		text   string
		code   api.Code
		says   string // in the message
		needed int    // approvals needed, when created
	}{
		{name: "outside hours, refused with when they begin", pol: hours("refuse"), at: saturday, text: "Hallo",
			code: api.CodeOutsideHours, says: "begin again at Mon 07:00 CET"},
		{name: "outside hours, two approvers from the start", pol: hours("two_approvers"), at: saturday, text: "Hallo", needed: 2},
		{name: "inside hours", pol: hours("refuse"), at: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), text: "Hallo", needed: 1},
		{name: "not UTF-8", text: "Gr\xfc\xdfe", code: api.CodeBadRequest, says: "not valid UTF-8"},
		{name: "only control and zero-width characters", text: "\u200b\t\u0007\u200e", code: api.CodeBadRequest, says: "empty"},
		{name: "only white space after the canonical form", text: " \r\n \u3000", code: api.CodeBadRequest, says: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.pol != nil {
				f.pol = tt.pol
			}
			if !tt.at.IsZero() {
				f.clk.Set(tt.at)
			}
			f.start()
			f.ensureAccount("x:@ministry")
			r, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "x:@ministry", Action: "post", Text: tt.text})
			if tt.code != "" {
				wantCode(t, err, tt.code)
				if !strings.Contains(err.Error(), tt.says) {
					t.Errorf("message %q does not say %q", err, tt.says)
				}
				if rs, _ := f.admin().ListRequests(ctx); len(rs) != 0 {
					t.Errorf("a refused request exists: %+v", rs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ApprovalsNeeded != tt.needed {
				t.Errorf("approvals needed %d, want %d", r.ApprovalsNeeded, tt.needed)
			}
		})
	}
}

// The code that confirmed the enrolment cannot approve; the answer says when the next one comes.
func TestEnrolmentCodeThenApprovalSaysWhenTheNextCodeComes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.clk.Set(time.Date(2026, 11, 23, 10, 0, 10, 0, time.UTC)) // 20 s left in this step
	if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"}); err != nil {
		t.Fatal(err)
	}
	code := f.codeFor("anna", f.clk.Now())
	if _, err := f.admin().ConfirmApprover(ctx, "anna", code); err != nil {
		t.Fatal(err)
	}
	r := f.request("Erster Beitrag")
	_, err := f.staff().Approve(ctx, r.ID, "anna", code)
	wantCode(t, err, api.CodeReplayed)
	if !strings.Contains(err.Error(), "new code in 20 seconds") {
		t.Errorf("message %q does not say when the next code comes", err)
	}
	f.clk.Advance(20 * time.Second)
	if _, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now())); err != nil {
		t.Fatalf("the next code must approve: %v", err)
	}
}

// --os-user must name a user of this computer: a typo would switch off the self-approval rule.
func TestEnrolmentRefusesUnknownOSUser(t *testing.T) {
	f := newFixture(t)
	_, err := f.admin().EnrollApprover(context.Background(), api.NewApprover{ID: "anna", Name: "Anna", OSUser: "anan"})
	wantCode(t, err, api.CodeBadRequest)
	if !strings.Contains(err.Error(), `no OS user "anan"`) {
		t.Errorf("message %q does not name the unknown user", err)
	}
	if as, _ := f.admin().ListApprovers(context.Background()); len(as) != 0 {
		t.Fatalf("enrolled despite the unknown OS user: %+v", as)
	}
}

// Monitoring reads problems off the status; a reload over the admin interface reports the
// policy in force.
func TestStatusProblemsAndReload(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st, err := f.admin().Status(ctx)
	if err != nil || len(st.Problems()) != 0 {
		t.Fatalf("a healthy daemon has problems: %v %v", st.Problems(), err)
	}
	f.eng.SetBridgeError(errors.New("listening on 127.0.0.1:47617: address already in use"))
	f.eng.SetBridgeError(errors.New("listening on 127.0.0.1:47617: address already in use")) // a retry: no second alarm
	if trail := readAudit(t, f); strings.Count(trail, `"event":"bridge_down","severity":"high"`) != 1 {
		t.Errorf("want one bridge_down alarm:\n%s", trail)
	}
	f.reload = func() (*policy.Policy, string, error) {
		return nil, "/etc/foureyes/policy.json", errors.New("version: missing")
	}
	st, err = f.admin().ReloadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(st.Problems(), "\n")
	for _, want := range []string{"policy invalid: version: missing", "browser bridge down: listening on 127.0.0.1:47617"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	// The port is free again: the problem goes, and the trail says so.
	f.eng.SetBridgeError(nil)
	if st, _ := f.admin().Status(ctx); st.BridgeError != "" || !strings.Contains(readAudit(t, f), `"event":"bridge_up"`) {
		t.Errorf("after the bridge came up: status %q, trail without bridge_up", st.BridgeError)
	}
}

// The extension asks for approvers before the account is chosen: it is offered whoever may
// approve an account in custody, per-account approvers included; with the account, only those.
func TestOfferedApproversPerAccount(t *testing.T) {
	f := newFixture(t)
	p, err := policy.Parse([]byte(`{"version":1,"default_approvers":["anna"],"accounts":{"x:@agency":{"approvers":["ben"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	f.pol = p
	f.start()
	ctx := context.Background()
	f.enrol("anna", "anna")
	f.enrol("ben", "ben")
	f.ensureAccount("x:@ministry")
	f.ensureAccount("x:@agency")
	ids := func(account string) string {
		as, err := f.staff().OfferedApprovers(ctx, account)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return strings.Join(out, ",")
	}
	for account, want := range map[string]string{"": "anna,ben", "x:@agency": "ben", "x:@ministry": "anna"} {
		if got := ids(account); got != want {
			t.Errorf("offered for %q = %s, want %s", account, got, want)
		}
	}
}

// Accounts only on governed platforms; texts no longer than the platform takes.
func TestPlatformTableDecides(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct{ platform, says string }{
		{"myspace", `unknown platform "myspace"`},
		{"facebook", "Facebook is not governed yet"},
	} {
		_, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: tt.platform, Handle: "@m", Username: "u", Password: "p"})
		wantCode(t, err, api.CodeBadRequest)
		if !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: message %q does not say %q", tt.platform, err, tt.says)
		}
	}
	if accs, _ := f.admin().ListAccounts(ctx); len(accs) != 0 {
		t.Fatalf("accounts on ungoverned platforms were taken into custody: %+v", accs)
	}
	if _, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: "mastodon", Handle: "@press@social.example", Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("ä", 501)
	_, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "mastodon:@press@social.example", Action: "post", Text: long})
	wantCode(t, err, api.CodeBadRequest)
	if !strings.Contains(err.Error(), "501 characters, more than the 500") {
		t.Errorf("message %q does not say the limit", err)
	}
	if _, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "mastodon:@press@social.example", Action: "post", Text: long[:len(long)-2]}); err != nil {
		t.Fatalf("500 characters: %v", err)
	}
}

type refusingForwarder struct{}

func (refusingForwarder) Forward(audit.Record) error { return errors.New("no system log socket") }

// A forwarding failure is a problem of the status and a line of the trail.
func TestForwardingFailureInStatusAndTrail(t *testing.T) {
	f := newFixture(t)
	l, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"), audit.Options{Forwarders: []audit.Forwarder{refusingForwarder{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	e, err := New(Options{Home: f.home, Store: f.store, Audit: l, Policy: f.pol, Clock: f.clk, LookupUser: testUsers})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := e.Owner(api.Caller{OSUser: "staff"}).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(st.Problems(), "\n"); !strings.Contains(p, "system log forwarding failing") || !strings.Contains(p, "no system log socket") {
		t.Fatalf("problems %q do not name the forwarding failure", p)
	}
	var b strings.Builder
	if err := audit.ExportWith(openFile(t, l.Path()), &b, audit.ExportOptions{Format: "json"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"event":"forwarding_failed","severity":"high"`) {
		t.Fatal("the trail does not record the forwarding failure")
	}

	// The policy turns forwarding off: its line says so, and the problem is gone.
	off, err := policy.Parse([]byte(`{"version":1,"audit":{"syslog":false}}`))
	if err != nil {
		t.Fatal(err)
	}
	e.opts.LoadPolicy = func() (*policy.Policy, string, error) { return off, "test", nil }
	if err := e.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	st, err = e.Owner(api.Caller{OSUser: "staff"}).Status(context.Background())
	if err != nil || len(st.Problems()) != 0 {
		t.Fatalf("forwarding off by policy, yet problems %q (%v)", st.Problems(), err)
	}
}

// A policy put in force is recorded with its digest and what changed; loosening the rules is an
// alarm, whether by a reload or while the daemon was stopped; turning off the copy to the
// system log has a line of its own first.
func TestPolicyChangesAreRecorded(t *testing.T) {
	f := newFixture(t)
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	weaker, err := policy.Parse([]byte(`{"version":1,"throttle":{"max_failures":50},"audit":{"syslog":false}}`))
	if err != nil {
		t.Fatal(err)
	}
	f.reload = func() (*policy.Policy, string, error) { return weaker, "/home/staff/.config/foureyes/policy.json", nil }
	if err := f.eng.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	trail := readAudit(t, f)
	i, j := strings.Index(trail, `"event":"audit_forwarding_off","severity":"high"`), strings.LastIndex(trail, `"event":"policy_loaded","severity":"high"`)
	if i < 0 || j < 0 || i > j {
		t.Fatalf("want audit_forwarding_off, then a high policy_loaded:\n%s", trail)
	}
	for _, want := range []string{`"key":"throttle.max_failures","old":"5","new":"50","weakens":true`, `"digest":"` + policy.Digest(weaker) + `"`} {
		if !strings.Contains(trail, want) {
			t.Errorf("trail lacks %s", want)
		}
	}

	// Stopped, the file edited back to the default, started: the change is seen at the start.
	f.pol = policy.Default()
	f.start()
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	trail = readAudit(t, f)
	last := trail[strings.LastIndex(trail, `"event":"policy_loaded"`):]
	if !strings.Contains(last, `"key":"throttle.max_failures","old":"50","new":"5"}`) || strings.Contains(last[:60], `"high"`) {
		t.Errorf("the start does not record the tightening since the last run: %s", last[:min(len(last), 400)])
	}
}

// A reload that loosens the rules does not take effect when its line cannot be written; one that
// tightens them does (failing closed), and both answer audit_unavailable.
func TestLooseningReloadNeedsItsLine(t *testing.T) {
	f := newFixture(t)
	looser, _ := policy.Parse([]byte(`{"version":1,"totp_skew_steps":2}`))
	stricter, _ := policy.Parse([]byte(`{"version":1,"session_ttl_seconds":60}`))
	f.audit.fail.Store(true)
	f.reload = func() (*policy.Policy, string, error) { return looser, "looser", nil }
	wantCode(t, f.eng.ReloadPolicy(), api.CodeAuditUnavailable)
	if p, src, _ := f.eng.Policy(); p.TOTPSkewSteps != 1 || src == "looser" {
		t.Fatalf("a loosening reload took effect without its line: skew %d from %s", p.TOTPSkewSteps, src)
	}
	f.reload = func() (*policy.Policy, string, error) { return stricter, "stricter", nil }
	wantCode(t, f.eng.ReloadPolicy(), api.CodeAuditUnavailable)
	if p, _, _ := f.eng.Policy(); p.SessionTTLSeconds != 60 {
		t.Fatalf("a stricter policy must stand even without its line: ttl %d", p.SessionTTLSeconds)
	}
	f.audit.fail.Store(false)
	// Now recorded: the loosening since the last recorded policy shows.
	f.reload = func() (*policy.Policy, string, error) { return looser, "looser", nil }
	if err := f.eng.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readAudit(t, f), `"key":"totp_skew_steps","old":"1","new":"2","weakens":true`) {
		t.Error("the recorded reload does not list the loosening")
	}
}

// A re-enrolment undone puts back a new record, so a code check that read a secret meanwhile
// reads it again instead of using a discarded one.
func TestUndoneReenrolmentIsANewRecord(t *testing.T) {
	f := newFixture(t)
	f.enrol("anna", "anna")
	f.enrol("ben", "ben")
	before := f.eng.st.Approvers["anna"]
	by := f.vouch("anna")
	f.audit.fail.Store(true)
	_, err := f.admin().EnrollApprover(context.Background(), api.NewApprover{ID: "anna", Name: "Anna", By: by})
	wantCode(t, err, api.CodeAuditUnavailable)
	after := f.eng.st.Approvers["anna"]
	if after == before || !reflect.DeepEqual(*after, *before) {
		t.Fatalf("undone re-enrolment: record %p %+v, before %p %+v: want an equal copy", after, *after, before, *before)
	}
}

// With an invalid policy no approval is possible, but a code checked meanwhile (confirming an
// enrolment) counts with the default numbers: one wrong code does not disable the approver.
func TestInvalidPolicyKeepsSaneCodeNumbers(t *testing.T) {
	f := newFixture(t)
	f.pol = nil
	f.start()
	f.eng.locked(func() { f.eng.setPolicy(nil, "/etc/foureyes/policy.json", errors.New("version: missing")) })
	ctx := context.Background()
	if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.admin().ConfirmApprover(ctx, "anna", "000000")
	if c := api.CodeOf(err); c != api.CodeBadCode && c != api.CodeReplayed {
		t.Fatalf("a wrong code: %v", err)
	}
	as, _ := f.admin().ListApprovers(ctx)
	if len(as) != 1 || as[0].Disabled || as[0].Failures != 1 {
		t.Fatalf("after one wrong code under an invalid policy: %+v", as)
	}
}

// While the bridge is down the native host's hello names the bridge's real problem (the daemon
// does run), and once it is up the bridge answers.
func TestBridgeHelloWhileBridgeDown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.admin().BridgeHello(ctx, "chrome-extension://x")
	wantCode(t, err, api.CodeBridgeDown)
	held := errors.New("port 127.0.0.1:47617 is held by another program (PID 99 nc, user mallory): address already in use")
	f.eng.SetBridgeError(held)
	_, err = f.admin().BridgeHello(ctx, "chrome-extension://x")
	wantCode(t, err, api.CodeBridgeDown)
	for _, want := range []string{"the foureyes daemon runs", "port 127.0.0.1:47617 is held by another program (PID 99 nc, user mallory)", "keeps trying"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("hello while the port is held: %q lacks %q", err, want)
		}
	}
	f.eng.SetBridgeHello(func(string) (api.BridgeHello, error) { return api.BridgeHello{Port: 47617}, nil })
	f.eng.SetBridgeError(nil)
	if h, err := f.admin().BridgeHello(ctx, "chrome-extension://x"); err != nil || h.Port != 47617 {
		t.Fatalf("hello once the bridge is up: %+v %v", h, err)
	}
}
