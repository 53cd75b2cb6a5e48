package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
)

// memStore is a map-backed custody store for logic tests; the real keyring is tested in
// custody and end to end.
type memStore struct {
	mu sync.Mutex
	m  map[string]string
	// fail makes every call fail with this error.
	fail error
	// slowGet, when set, is waited on by Get before it answers (a keyring behind a slow D-Bus).
	slowGet chan struct{}
}

func (s *memStore) Set(k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.m[k] = v
	return nil
}

func (s *memStore) Get(k string) (string, error) {
	s.mu.Lock()
	slow := s.slowGet
	s.mu.Unlock()
	if slow != nil {
		<-slow
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	v, ok := s.m[k]
	if !ok {
		return "", custody.ErrNotFound
	}
	return v, nil
}

func (s *memStore) Delete(k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	delete(s.m, k)
	return nil
}

// failingAudit fails when told to.
type failingAudit struct {
	Auditor
	fail atomic.Bool
}

func (a *failingAudit) Record(user, event, severity string, fields map[string]any) error {
	if a.fail.Load() {
		return errors.New("disk full")
	}
	return a.Auditor.Record(user, event, severity, fields)
}

type fixture struct {
	t    *testing.T
	home string
	clk  *clock.Fake
	// engineClock, when set, is the engine's clock instead of clk (clk still moves the wall
	// time under it).
	engineClock clock.Clock
	store       *memStore
	audit       *failingAudit
	log         *audit.Log
	eng         *Engine
	pol         *policy.Policy
	// reload is what a policy reload reads (nil: pol again).
	reload func() (*policy.Policy, string, error)
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, home: t.TempDir(), clk: clock.NewFake(t0), store: &memStore{m: map[string]string{}}, pol: policy.Default()}
	f.start()
	return f
}

// start (re)starts the engine on the same home, store and audit file: a daemon restart.
func (f *fixture) start() {
	f.t.Helper()
	if f.log != nil {
		_ = f.log.Close()
	}
	l, err := audit.Open(filepath.Join(f.home, "audit.jsonl"), audit.Options{Now: f.clk.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = l.Close() })
	f.log = l
	f.audit = &failingAudit{Auditor: l}
	var clk clock.Clock = f.clk
	if f.engineClock != nil {
		clk = f.engineClock
	}
	e, err := New(Options{Home: f.home, Store: f.store, Audit: f.audit, Policy: f.pol, PolicySource: "test", Clock: clk,
		LookupUser: testUsers,
		LoadPolicy: func() (*policy.Policy, string, error) {
			if f.reload != nil {
				return f.reload()
			}
			return f.pol, "test", nil
		}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.eng = e
}

// testUsers are the OS users of the tests' laptop.
func testUsers(name string) error {
	switch name {
	case "staff", "anna", "ben", "staffer":
		return nil
	}
	return errors.New("unknown user")
}

// staff is the staff member's browser: the staff half, as the bridge holds it.
func (f *fixture) staff() api.Staff {
	return f.eng.Staff(api.Caller{OSUser: "staff", Via: "bridge"})
}

// admin is the staff member at the foureyes command or the tray: everything.
func (f *fixture) admin() api.Backend {
	return f.eng.Owner(api.Caller{OSUser: "staff", Via: "admin"})
}

// codeFor computes an approver's current code from the secret in the store.
func (f *fixture) codeFor(id string, at time.Time) string {
	f.t.Helper()
	secret, err := f.store.Get(custody.ApproverKey(id))
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := rules.CodeAt(secret, rules.Step(at))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// enrol enrols and confirms an approver, then moves the clock to the next step so the
// confirming code's step is spent.
func (f *fixture) enrol(id, osUser string) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: id, Name: strings.ToUpper(id), OSUser: osUser, By: f.vouch(id)}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.admin().ConfirmApprover(ctx, id, f.codeFor(id, f.clk.Now())); err != nil {
		f.t.Fatal(err)
	}
	f.clk.Advance(30 * time.Second)
}

// vouch returns another confirmed approver's current code for a change to target (none while
// there is no confirmed approver: the bootstrap).
func (f *fixture) vouch(target string) api.Authority {
	f.t.Helper()
	f.clk.Advance(30 * time.Second) // a fresh step: the voucher's last code may be spent
	as, err := f.admin().ListApprovers(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	self := false
	for _, a := range as {
		if a.ID != target && a.Confirmed && !a.Unverified && !a.Disabled && a.OSUser != "staff" {
			return api.Authority{Approver: a.ID, Code: f.codeFor(a.ID, f.clk.Now())}
		}
		self = self || (a.ID == target && a.Confirmed)
	}
	if self { // the last approver, who may only remove themselves
		return api.Authority{Approver: target, Code: f.codeFor(target, f.clk.Now())}
	}
	return api.Authority{}
}

func (f *fixture) request(text string) api.Request {
	f.t.Helper()
	f.ensureAccount("x:@ministry")
	r, err := f.staff().CreateRequest(context.Background(), api.NewRequest{Account: "x:@ministry", Action: "post", Text: text})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// ensureAccount takes x:HANDLE into custody unless it is there already.
func (f *fixture) ensureAccount(id string) {
	f.t.Helper()
	accs, err := f.admin().ListAccounts(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, a := range accs {
		if a.ID == id {
			return
		}
	}
	platform, handle, _ := strings.Cut(id, ":")
	if _, err := f.admin().AddAccount(context.Background(), api.NewAccount{Platform: platform, Handle: handle, Username: "press", Password: "pw-" + handle}); err != nil {
		f.t.Fatal(err)
	}
}

// use is what the extension names when it spends a session on the approved post (with the
// given text digest; the whole post's manifest digest as approved).
func use(s *api.Session, digest string) api.Use {
	return api.Use{SessionID: s.ID, Account: s.Account, Action: s.Action, Digest: digest, ManifestDigest: s.ManifestDigest}
}

func wantCode(t *testing.T, err error, want api.Code) {
	t.Helper()
	if got := api.CodeOf(err); got != want {
		t.Fatalf("error code %q (%v), want %q", got, err, want)
	}
}

func (f *fixture) verifyAudit() audit.Result {
	f.t.Helper()
	res, err := audit.VerifyFile(filepath.Join(f.home, "audit.jsonl"))
	if err != nil {
		f.t.Fatalf("audit log does not verify: %v", err)
	}
	return res
}

func TestApproveFlowAndReplayAcrossRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "anna")
	r := f.request("Guten Morgen, Niedersachsen!")
	if r.Digest != digest.Sum("Guten Morgen, Niedersachsen!") {
		t.Fatal("request digest is not the content digest")
	}
	code := f.codeFor("anna", f.clk.Now())
	ap, err := f.staff().Approve(ctx, r.ID, "anna", code)
	if err != nil {
		t.Fatal(err)
	}
	if ap.Session == nil || ap.Session.Digest != r.Digest || ap.Session.Account != r.Account {
		t.Fatalf("no session bound to the request: %+v", ap)
	}

	// The same code on a new request: replayed.
	r2 := f.request("Zweiter Beitrag")
	_, err = f.staff().Approve(ctx, r2.ID, "anna", code)
	wantCode(t, err, api.CodeReplayed)

	// Restart the daemon: the last accepted step survives.
	f.start()
	r3 := f.request("Dritter Beitrag")
	_, err = f.staff().Approve(ctx, r3.ID, "anna", code)
	wantCode(t, err, api.CodeReplayed)
	// Sessions do not survive a restart: they fail closed.
	_, err = f.staff().Consume(ctx, use(ap.Session, r.Digest))
	wantCode(t, err, api.CodeNotFound)

	// A fresh code in the next step works.
	f.clk.Advance(30 * time.Second)
	if _, err := f.staff().Approve(ctx, r3.ID, "anna", f.codeFor("anna", f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	res := f.verifyAudit()
	if res.Lines < 10 {
		t.Fatalf("too few audit lines: %d", res.Lines)
	}
}

func TestSelfApprovalRefused(t *testing.T) {
	f := newFixture(t)
	f.enrol("staffer", "staff")
	r := f.request("Hallo")
	_, err := f.staff().Approve(context.Background(), r.ID, "staffer", f.codeFor("staffer", f.clk.Now()))
	wantCode(t, err, api.CodeSelfApproval)
	// The refused attempt did not spend the code or count as a failure.
	a, _ := f.admin().ListApprovers(context.Background())
	if a[0].Failures != 0 {
		t.Fatal("self-approval must be refused before the code is checked")
	}
}

func TestThrottlePersistsAcrossRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	r := f.request("Hallo")
	for i := 0; i < 4; i++ {
		_, err := f.staff().Approve(ctx, r.ID, "anna", "000000")
		if api.CodeOf(err) != api.CodeBadCode && api.CodeOf(err) != api.CodeReplayed {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	f.start() // a restart must not reset the counter
	r = f.request("Hallo")
	_, err := f.staff().Approve(ctx, r.ID, "anna", "000001")
	wantCode(t, err, api.CodeBadCode)
	_, err = f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	wantCode(t, err, api.CodeThrottled)

	data := readAudit(t, f)
	if !strings.Contains(data, `"event":"approver_throttled","severity":"high"`) {
		t.Fatal("a lock-out must be a high-severity audit event")
	}
	if strings.Contains(data, "000001") {
		t.Fatal("a code must never appear in the audit log")
	}
}

func readAudit(t *testing.T, f *fixture) string {
	t.Helper()
	var b strings.Builder
	if err := audit.ExportWith(openFile(t, filepath.Join(f.home, "audit.jsonl")), &b, audit.ExportOptions{Format: "json"}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSingleUseUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	r := f.request("Nur einmal")
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var wins, used atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.staff().Consume(ctx, use(ap.Session, r.Digest))
			switch api.CodeOf(err) {
			case "":
				wins.Add(1)
			case api.CodeAlreadyUsed:
				used.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != 63 {
		t.Fatalf("wins=%d already_used=%d, want exactly one winner", wins.Load(), used.Load())
	}
}

func TestDigestMismatchHeldBackAndAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	r := f.request("Approved text")
	ap, _ := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	_, err := f.staff().Consume(ctx, use(ap.Session, digest.Sum("Edited text")))
	wantCode(t, err, api.CodeDigestMismatch)
	// The approved text can still go out once.
	if _, err := f.staff().Consume(ctx, use(ap.Session, r.Digest)); err != nil {
		t.Fatal(err)
	}
	// A publish report of something else is an alarm.
	err = f.staff().ReportPublished(ctx, ap.Session.ID, digest.Sum("Edited text"), r.ManifestDigest)
	wantCode(t, err, api.CodeDigestMismatch)
	// A report of another text does not use up the report: the genuine one still counts.
	if err := f.staff().ReportPublished(ctx, ap.Session.ID, r.Digest, r.ManifestDigest); err != nil {
		t.Fatalf("the genuine report after a wrong one: %v", err)
	}
	// One session, one report: a second one, which could pass for the real one, is refused
	// and is itself an alarm; the first stays in the trail.
	err = f.staff().ReportPublished(ctx, ap.Session.ID, r.Digest, r.ManifestDigest)
	wantCode(t, err, api.CodeAlreadyUsed)
	trail := readAudit(t, f)
	for _, want := range []string{`"event":"publish_mismatch","severity":"high"`, `"event":"publish_repeated","severity":"high"`} {
		if strings.Count(trail, want) != 1 {
			t.Errorf("audit should have one %s", want)
		}
	}
	data := readAudit(t, f)
	for _, want := range []string{`"reason":"digest_mismatch"`, `"event":"publish_mismatch","severity":"high"`} {
		if !strings.Contains(data, want) {
			t.Errorf("audit lacks %s", want)
		}
	}
}

func TestAuditFailureIssuesNoSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	r := f.request("Hallo")
	f.audit.fail.Store(true)
	_, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	wantCode(t, err, api.CodeAuditUnavailable)
	f.audit.fail.Store(false)
	ss, _ := f.admin().ListSessions(ctx)
	if len(ss) != 0 {
		t.Fatalf("a session exists although its audit line failed: %+v", ss)
	}
	rs, _ := f.admin().ListRequests(ctx)
	if rs[0].State != api.RequestPending || len(rs[0].ApprovedBy) != 0 {
		t.Fatalf("request changed although the audit line failed: %+v", rs[0])
	}
	// No request is created without its audit line either.
	f.audit.fail.Store(true)
	_, err = f.staff().CreateRequest(ctx, api.NewRequest{Account: "x:@ministry", Action: "post", Text: "x"})
	wantCode(t, err, api.CodeAuditUnavailable)
	st, _ := f.admin().Status(ctx)
	if st.AuditError == "" {
		t.Fatal("status must report the audit problem")
	}
}

func TestLockRevokesEverything(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	r := f.request("eins")
	ap, _ := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	pending := f.request("zwei")
	res, err := f.admin().Lock(ctx, "test")
	if err != nil || res.Sessions != 1 || res.Requests != 1 {
		t.Fatalf("lock: %+v %v", res, err)
	}
	_, err = f.staff().Consume(ctx, use(ap.Session, r.Digest))
	wantCode(t, err, api.CodeLocked)
	f.clk.Advance(30 * time.Second)
	_, err = f.staff().Approve(ctx, pending.ID, "anna", f.codeFor("anna", f.clk.Now()))
	wantCode(t, err, api.CodeLocked)
}

func TestSessionTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	r := f.request("eins")
	ap, _ := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	f.clk.Advance(10 * time.Minute)
	f.eng.Tick()
	_, err := f.staff().Consume(ctx, use(ap.Session, r.Digest))
	wantCode(t, err, api.CodeExpired)
	if !strings.Contains(readAudit(t, f), `"session_expired"`) {
		t.Fatal("expiry must be audited")
	}
}

func TestTwoApproversOutsideHours(t *testing.T) {
	f := newFixture(t)
	p, err := policy.Parse([]byte(`{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","days":["mon","tue","wed","thu","fri"],"start":"07:00","end":"20:00","outside":"two_approvers"}}`))
	if err != nil {
		t.Fatal(err)
	}
	f.pol = p
	f.clk.Set(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)) // a Sunday
	f.start()
	ctx := context.Background()
	f.enrol("anna", "")
	f.enrol("ben", "")
	r := f.request("Sonntagsgruß")
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil || ap.Session != nil || ap.Request.ApprovalsNeeded != 2 {
		t.Fatalf("first approval outside hours must not issue a session: %+v %v", ap, err)
	}
	_, err = f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now().Add(30*time.Second)))
	wantCode(t, err, api.CodeAlreadyApproved) // same approver twice
	ap, err = f.staff().Approve(ctx, r.ID, "ben", f.codeFor("ben", f.clk.Now()))
	if err != nil || ap.Session == nil || len(ap.Session.ApprovedBy) != 2 {
		t.Fatalf("second approver must issue the session: %+v %v", ap, err)
	}
}

func TestBridgeMayNotAdminister(t *testing.T) {
	f := newFixture(t)
	// The bridge holds the staff half: no conversion reaches enrolment, accounts or tokens.
	var b any = f.staff()
	if _, ok := b.(api.Admin); ok {
		t.Fatal("the staff half can be asserted to the admin half")
	}
	if _, ok := b.(api.Backend); ok {
		t.Fatal("the staff half can be asserted to the whole backend")
	}
	var o any = f.admin()
	if _, ok := o.(api.Admin); !ok {
		t.Fatal("the owner's half lacks administration")
	}
}

func TestAccountsNeverLeakSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const pw = "S3cr3t-Passw0rt!"
	acc, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: "X", Handle: "@ministry", Username: "press@example.org", Password: pw, TOTPSeed: "JBSW Y3DP EHPK 3PXP"})
	if err != nil {
		t.Fatal(err)
	}
	if acc.ID != "x:@ministry" || !acc.Has2FA {
		t.Fatalf("account: %+v", acc)
	}
	if got, _ := f.store.Get(custody.AccountPasswordKey("x:@ministry")); got != pw {
		t.Fatal("password not in the store")
	}
	_, err = f.admin().AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@ministry", Username: "u", Password: "p"})
	wantCode(t, err, api.CodeExists)
	if err := f.admin().SetAccountPassword(ctx, "x:@ministry", "new-pw"); err != nil {
		t.Fatal(err)
	}
	data := readAudit(t, f)
	if strings.Contains(data, pw) || strings.Contains(data, "new-pw") || strings.Contains(data, "JBSW") {
		t.Fatal("a secret reached the audit log")
	}
	if err := f.admin().RemoveAccount(ctx, "x:@ministry"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Get(custody.AccountPasswordKey("x:@ministry")); !errors.Is(err, custody.ErrNotFound) {
		t.Fatal("password left in the keyring after remove")
	}
}

func TestNoKeyring(t *testing.T) {
	f := newFixture(t)
	f.store.fail = custody.ErrNoKeyring
	_, err := f.admin().EnrollApprover(context.Background(), api.NewApprover{ID: "anna", Name: "Anna"})
	wantCode(t, err, api.CodeNoKeyring)
	f.store.fail = custody.ErrLocked
	_, err = f.admin().AddAccount(context.Background(), api.NewAccount{Platform: "x", Handle: "@m", Username: "u", Password: "p"})
	wantCode(t, err, api.CodeKeyringLocked)
	accs, _ := f.admin().ListAccounts(context.Background())
	if len(accs) != 0 {
		t.Fatal("an account half-added despite the keyring error")
	}
}

func TestInvalidPolicyRefuses(t *testing.T) {
	f := newFixture(t)
	f.reload = func() (*policy.Policy, string, error) {
		return nil, "/etc/foureyes/policy.json", errors.New("throttle.max_failures: -1")
	}
	if err := f.eng.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readAudit(t, f), `"event":"policy_invalid","severity":"high"`) {
		t.Error("an invalid policy after a reload must be a high-severity line")
	}
	_, err := f.staff().CreateRequest(context.Background(), api.NewRequest{Account: "x:@m", Action: "post", Text: "x"})
	wantCode(t, err, api.CodeInvalidPolicy)
}

func TestRemoveApproverDropsPendingApprovals(t *testing.T) {
	f := newFixture(t)
	p, _ := policy.Parse([]byte(`{"version":1,"posting_hours":{"time_zone":"UTC","days":["mon"],"start":"07:00","end":"08:00"}}`))
	f.pol = p
	f.start()
	ctx := context.Background()
	f.enrol("anna", "")
	r := f.request("x")
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil || len(ap.Request.ApprovedBy) != 1 {
		t.Fatalf("%+v %v", ap, err)
	}
	if err := f.admin().RemoveApprover(ctx, "anna", f.vouch("anna")); err != nil {
		t.Fatal(err)
	}
	rs, _ := f.admin().ListRequests(ctx)
	if len(rs[0].ApprovedBy) != 0 {
		t.Fatal("a removed approver's approval still counts")
	}
}

func TestWatchGetsEvents(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := f.admin().Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.request("x")
	// Taking the account into custody announces itself first (a status event); the request follows.
	for got := false; !got; {
		select {
		case ev := <-ch:
			switch {
			case ev.Kind == api.EventRequest && ev.Request != nil && ev.Request.Text == "x":
				got = true
			case ev.Kind != api.EventStatus:
				t.Fatalf("event %+v", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no request event")
		}
	}
	cancel()
	for range ch {
	}
}

func openFile(t *testing.T, p string) *os.File {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fh.Close() })
	return fh
}

func TestRequestNeedsAccountInCustody(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "x:@nobody", Action: "post", Text: "Hallo"})
	wantCode(t, err, api.CodeNotFound)
	rs, _ := f.admin().ListRequests(ctx)
	if len(rs) != 0 {
		t.Fatalf("a request exists for an account not in custody: %+v", rs)
	}
}

func TestConsumeChecksAccountAndAction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "anna")
	f.ensureAccount("x:@other")
	r := f.request("Nur für dieses Konto")
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []api.Use{
		{SessionID: ap.Session.ID, Account: "x:@other", Action: api.ActionPost, Digest: r.Digest},
		{SessionID: ap.Session.ID, Account: r.Account, Action: api.ActionReply, Digest: r.Digest},
		{SessionID: ap.Session.ID, Account: r.Account, Action: api.ActionRepost, Digest: r.Digest},
	} {
		_, err := f.staff().Consume(ctx, u)
		wantCode(t, err, api.CodeScopeMismatch)
	}
	// Refused uses leave the session for the approved one, and each is a high-severity line.
	if _, err := f.staff().Consume(ctx, use(ap.Session, r.Digest)); err != nil {
		t.Fatalf("the approved use after refused ones: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(f.home, "audit.jsonl"))
	if n := strings.Count(string(data), `"scope_mismatch"`); n != 3 {
		t.Fatalf("audit has %d scope_mismatch lines, want 3", n)
	}
}

func TestReenrolmentKeepsMappingAndDropsApprovals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.pol = policy.Default()
	f.enrol("anna", "anna")
	f.enrol("ben", "ben")
	// Two approvers needed: anna's approval waits for a second one.
	f.eng.mu.Lock()
	f.eng.cfg.Within = func(time.Time) bool { return false }
	f.eng.mu.Unlock()
	r := f.request("Außerhalb der Zeiten")
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if ap.Session != nil || len(ap.Request.ApprovedBy) != 1 {
		t.Fatalf("want one approval of two: %+v", ap)
	}
	if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna (new phone)", By: f.vouch("anna")}); err != nil {
		t.Fatal(err)
	}
	as, _ := f.admin().ListApprovers(ctx)
	for _, a := range as {
		if a.ID == "anna" && (a.OSUser != "anna" || a.Confirmed) {
			t.Fatalf("re-enrolled anna = %+v, want os user kept and pending", a)
		}
	}
	rs, _ := f.admin().ListRequests(ctx)
	if len(rs) != 1 || len(rs[0].ApprovedBy) != 0 {
		t.Fatalf("the old secret's approval still counts: %+v", rs)
	}
}

func TestSlowKeyringDoesNotStallOthers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "anna")
	r := f.request("Langsamer Schlüsselbund")
	code := f.codeFor("anna", f.clk.Now())
	slow := make(chan struct{})
	f.store.mu.Lock()
	f.store.slowGet = slow
	f.store.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := f.staff().Approve(ctx, r.ID, "anna", code)
		done <- err
	}()
	// While the approval waits for the keyring, the daemon still answers everyone else.
	st := make(chan error, 1)
	go func() { _, err := f.admin().Status(ctx); st <- err }()
	select {
	case err := <-st:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Status waited for a keyring read of another caller")
	}
	f.store.mu.Lock()
	f.store.slowGet = nil
	f.store.mu.Unlock()
	close(slow)
	if err := <-done; err != nil {
		t.Fatalf("approval after the slow read: %v", err)
	}
}

func TestNextExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if !f.eng.NextExpiry().IsZero() {
		t.Fatal("nothing open, yet a next expiry")
	}
	f.enrol("anna", "anna")
	r1 := f.request("eins")
	f.clk.Advance(time.Minute)
	r2 := f.request("zwei")
	if got := f.eng.NextExpiry(); !got.Equal(r1.Expires) {
		t.Fatalf("next expiry %v, want the first request's %v", got, r1.Expires)
	}
	if _, err := f.staff().Cancel(ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.eng.NextExpiry(); !got.Equal(r2.Expires) {
		t.Fatalf("next expiry %v, want the second request's %v", got, r2.Expires)
	}
	f.clk.Advance(r2.Expires.Sub(f.clk.Now()))
	f.eng.Tick()
	if !f.eng.NextExpiry().IsZero() {
		t.Fatal("an expired request still counts")
	}
}

func TestExpiryNoticedByAnyOperationIsAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.request("läuft ab")
	f.clk.Advance(11 * time.Minute)
	// No Tick: the listing is the first to notice.
	rs, _ := f.admin().ListRequests(ctx)
	if len(rs) != 1 || rs[0].State != api.RequestExpired {
		t.Fatalf("requests %+v", rs)
	}
	f.eng.Tick()
	if n := strings.Count(readAudit(t, f), `"event":"request_expired"`); n != 1 {
		t.Fatalf("audit has %d request_expired lines, want exactly 1", n)
	}
}

func TestRemovalWithdrawsWhatRestsOnIt(t *testing.T) {
	ctx := context.Background()
	approve := func(f *fixture, text string) (api.Request, *api.Session) {
		t.Helper()
		r := f.request(text)
		ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(30 * time.Second)
		return r, ap.Session
	}
	t.Run("account removed", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "anna")
		r, s := approve(f, "Sitzung")
		pending := f.request("wartet")
		if err := f.admin().RemoveAccount(ctx, r.Account); err != nil {
			t.Fatal(err)
		}
		_, err := f.staff().Consume(ctx, use(s, r.Digest))
		wantCode(t, err, api.CodeLocked)
		_, err = f.staff().Approve(ctx, pending.ID, "anna", f.codeFor("anna", f.clk.Now()))
		if err == nil {
			t.Fatal("a request for a removed account was approved")
		}
		if !strings.Contains(readAudit(t, f), `"event":"account_removed","severity":"info","fields":{"account":"x:@ministry","requests_revoked":1,"sessions_revoked":1}`) {
			t.Errorf("account_removed line lacks the counts:\n%s", readAudit(t, f))
		}
	})
	t.Run("approver re-enrolled", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "anna")
		f.enrol("ben", "ben")
		r, s := approve(f, "mit altem Telefon")
		if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna", By: f.vouch("anna")}); err != nil {
			t.Fatal(err)
		}
		_, err := f.staff().Consume(ctx, use(s, r.Digest))
		wantCode(t, err, api.CodeLocked)
	})
	t.Run("approver removed", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "anna")
		r, s := approve(f, "ohne Anna")
		if err := f.admin().RemoveApprover(ctx, "anna", f.vouch("anna")); err != nil {
			t.Fatal(err)
		}
		_, err := f.staff().Consume(ctx, use(s, r.Digest))
		wantCode(t, err, api.CodeLocked)
	})
}

func TestRemovalWithoutAuditLineChangesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "anna")
	f.ensureAccount("x:@ministry")
	f.audit.fail.Store(true)
	wantCode(t, f.admin().RemoveAccount(ctx, "x:@ministry"), api.CodeAuditUnavailable)
	wantCode(t, f.admin().RemoveApprover(ctx, "anna", f.vouch("anna")), api.CodeAuditUnavailable)
	f.audit.fail.Store(false)
	f.start() // what is on disk, too
	accs, _ := f.admin().ListAccounts(ctx)
	as, _ := f.admin().ListApprovers(ctx)
	if len(accs) != 1 || len(as) != 1 {
		t.Fatalf("after failed removals: accounts %+v, approvers %+v", accs, as)
	}
	if _, err := f.store.Get(custody.ApproverKey("anna")); err != nil {
		t.Fatalf("the approver's secret went although the removal failed: %v", err)
	}
}

// A session is the requester's: another OS user who learnt its id (every user of a service may
// list the sessions) can neither take the account's credentials nor open the gate nor report on
// it. Each attempt is an alarm, and the requester's session is untouched.
func TestSessionIsTheRequesters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "anna")
	r := f.request("Nur für die, die gefragt hat")
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	s := ap.Session
	other := f.eng.Staff(api.Caller{OSUser: "colleague", Via: "bridge"})
	si := other.(api.SignIn)
	ask := api.CredentialAsk{SessionID: s.ID, Account: s.Account, Host: "x.com"}
	for name, try := range map[string]func() error{
		"credentials": func() error { _, err := si.ReleaseCredentials(ctx, ask); return err },
		"rotation":    func() error { _, err := si.ReleaseRotation(ctx, ask); return err },
		"open":        func() error { _, err := other.Consume(ctx, use(s, r.Digest)); return err },
		"published":   func() error { return other.ReportPublished(ctx, s.ID, r.Digest, r.ManifestDigest) },
		"signed out": func() error {
			return si.ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: s.Account, Host: "x.com"})
		},
		"rotated": func() error {
			return si.ReportRotated(ctx, api.Rotated{SessionID: s.ID, Account: s.Account, Host: "x.com"})
		},
	} {
		err := try()
		if api.CodeOf(err) != api.CodeNotPermitted || !strings.Contains(err.Error(), "only the person who asked") {
			t.Errorf("%s by a colleague: %v", name, err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(f.home, "audit.jsonl"))
	if n := strings.Count(string(data), `"event":"session_refused","severity":"high"`); n != 6 {
		t.Errorf("%d session_refused alarms, want 6", n)
	}
	if !strings.Contains(string(data), `"user":"colleague"`) {
		t.Errorf("the alarms do not name the colleague:\n%s", data)
	}
	// The requester's session is as it was: its credentials go out once, its gate opens once.
	cr, err := f.staff().(api.SignIn).ReleaseCredentials(ctx, ask)
	if err != nil || cr.Password == "" {
		t.Fatalf("the requester's credentials after the colleague's attempts: %v", err)
	}
	if _, err := f.staff().Consume(ctx, use(s, r.Digest)); err != nil {
		t.Fatalf("the requester's use after the colleague's attempts: %v", err)
	}
}
