package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
)

// oneTimeFixture is a daemon whose policy puts every account under custody one_time.
func oneTimeFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	p, err := policy.Parse([]byte(`{"version":1,"default_approvers":["*"],"custody":"one_time"}`))
	if err != nil {
		t.Fatal(err)
	}
	f.pol = p
	f.start()
	return f
}

var xAsk = func(s *api.Session) api.CredentialAsk {
	return api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"}
}

// A posting session that signed the browser in ends; then, once, the password changes to one
// the daemon generates, and the keyring holds it.
func TestOneTimeRotatesAfterTheSession(t *testing.T) {
	ctx := context.Background()
	f := oneTimeFixture(t)
	r, s := approvedSession(t, f, "ein Beitrag")
	accs, _ := f.admin().ListAccounts(ctx)
	if accs[0].Custody != policy.CustodyOneTime {
		t.Fatalf("custody %q", accs[0].Custody)
	}
	if _, err := signIn(f).ReleaseCredentials(ctx, xAsk(s)); err != nil {
		t.Fatal(err)
	}
	// Not while the session is open: the change follows its end.
	_, err := signIn(f).ReleaseRotation(ctx, xAsk(s))
	wantCode(t, err, api.CodeBadRequest)
	if _, err := f.staff().Consume(ctx, api.Use{SessionID: s.ID, Account: "x:@ministry", Action: api.ActionPost, Digest: r.Digest, ManifestDigest: r.ManifestDigest}); err != nil {
		t.Fatal(err)
	}
	// Another host or account is an alarm and releases nothing.
	_, err = signIn(f).ReleaseRotation(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "evil.example"})
	wantCode(t, err, api.CodeScopeMismatch)
	ro, err := signIn(f).ReleaseRotation(ctx, xAsk(s))
	if err != nil || ro.Password != "correct horse" || len(ro.NewPassword) != NewPasswordLength || ro.Username != "press@example.org" {
		t.Fatalf("rotation %+v %v", ro, err)
	}
	if got := f.secret(custody.AccountNextPasswordKey("x:@ministry")); got != ro.NewPassword {
		t.Fatal("the new password does not wait in the keyring beside the old one")
	}
	_, err = signIn(f).ReleaseRotation(ctx, xAsk(s))
	wantCode(t, err, api.CodeAlreadyUsed)
	if err := signIn(f).ReportRotated(ctx, api.Rotated{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}); err != nil {
		t.Fatal(err)
	}
	if got := f.secret(custody.AccountPasswordKey("x:@ministry")); got != ro.NewPassword {
		t.Fatalf("the keyring holds %q, want the new password", got)
	}
	if f.secret(custody.AccountNextPasswordKey("x:@ministry")) != "" {
		t.Fatal("the spare password is still stored")
	}
	if err := signIn(f).ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}); err != nil {
		t.Fatal(err)
	}
	trail := readAudit(t, f)
	for _, want := range []string{`"event":"rotation_release","severity":"info","fields":{"account":"x:@ministry"`, `"reason":"after_session"`, `"event":"password_rotated"`, `"event":"signed_out"`, `"event":"credential_release_refused","severity":"high"`} {
		if !strings.Contains(trail, want) {
			t.Errorf("trail lacks %s", want)
		}
	}
	if strings.Contains(trail, "rotation_skipped") || strings.Contains(trail, ro.NewPassword) || strings.Contains(trail, "correct horse") {
		t.Fatalf("trail:\n%s", trail)
	}
	accs, _ = f.admin().ListAccounts(ctx)
	if accs[0].RotationPending || accs[0].PasswordChanged.IsZero() {
		t.Fatalf("account %+v", accs[0])
	}
	// The next session signs in with the new password.
	_, s2 := approvedSessionAgain(t, f, "der nächste")
	c, err := signIn(f).ReleaseCredentials(ctx, xAsk(s2))
	if err != nil || c.Password != ro.NewPassword {
		t.Fatalf("next sign-in %+v %v", c, err)
	}
}

// approvedSessionAgain asks for and approves one more post on x:@ministry.
func approvedSessionAgain(t *testing.T, f *fixture, text string) (api.Request, *api.Session) {
	t.Helper()
	ctx := context.Background()
	f.clk.Advance(30 * time.Second)
	r, err := f.staff().CreateRequest(ctx, api.NewRequest{Account: "x:@ministry", Action: "post", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil || ap.Session == nil {
		t.Fatalf("approve: %+v %v", ap, err)
	}
	return r, ap.Session
}

// A failed change keeps the old password; the trail has the alarm.
func TestOneTimeFailureKeepsTheOldPassword(t *testing.T) {
	ctx := context.Background()
	f := oneTimeFixture(t)
	_, s := approvedSession(t, f, "ein Beitrag")
	if _, err := signIn(f).ReleaseCredentials(ctx, xAsk(s)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin().Lock(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := signIn(f).ReleaseRotation(ctx, xAsk(s)); err != nil {
		t.Fatal(err)
	}
	if err := signIn(f).ReportRotated(ctx, api.Rotated{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", Error: "the platform refused"}); err != nil {
		t.Fatal(err)
	}
	if got := f.secret(custody.AccountPasswordKey("x:@ministry")); got != "correct horse" {
		t.Fatalf("keyring %q after a failed change", got)
	}
	if f.secret(custody.AccountNextPasswordKey("x:@ministry")) != "" {
		t.Fatal("the spare password stays after a failure")
	}
	if err := signIn(f).ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}); err != nil {
		t.Fatal(err)
	}
	trail := readAudit(t, f)
	if !strings.Contains(trail, `"event":"rotation_failed","severity":"high"`) || strings.Contains(trail, "rotation_skipped") {
		t.Fatalf("trail:\n%s", trail)
	}
}

// No change came before the sign-out: the trail says why, at high severity.
func TestOneTimeSkippedIsRecorded(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, reason string
		signIn, late bool
	}{
		{"never signed in", "not_signed_in", false, false},
		{"signed in, no change asked", "not_released", true, false},
		{"asked too late", "not_released", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := oneTimeFixture(t)
			_, s := approvedSession(t, f, "ein Beitrag")
			if c.signIn {
				if _, err := signIn(f).ReleaseCredentials(ctx, xAsk(s)); err != nil {
					t.Fatal(err)
				}
			}
			if c.late {
				f.clk.Advance(20 * time.Minute) // past its time and the grace after it
				_, err := signIn(f).ReleaseRotation(ctx, xAsk(s))
				wantCode(t, err, api.CodeExpired)
			} else if _, err := f.admin().Lock(ctx, "test"); err != nil {
				t.Fatal(err)
			}
			if !c.signIn {
				_, err := signIn(f).ReleaseRotation(ctx, xAsk(s))
				wantCode(t, err, api.CodeBadRequest)
			}
			if err := signIn(f).ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}); err != nil {
				t.Fatal(err)
			}
			trail := readAudit(t, f)
			if !strings.Contains(trail, `"event":"rotation_skipped","severity":"high","fields":{"account":"x:@ministry","reason":"`+c.reason+`"`) {
				t.Fatalf("trail:\n%s", trail)
			}
			if got := f.secret(custody.AccountPasswordKey("x:@ministry")); got != "correct horse" || f.secret(custody.AccountNextPasswordKey("x:@ministry")) != "" {
				t.Fatal("the keyring changed without a change")
			}
		})
	}
}

// Under strict custody nothing of this happens: no change after a session, no skipped line.
func TestStrictCustodyHasNoChangeAfterTheSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, s := approvedSession(t, f, "ein Beitrag")
	if _, err := signIn(f).ReleaseCredentials(ctx, xAsk(s)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin().Lock(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	_, err := signIn(f).ReleaseRotation(ctx, xAsk(s))
	wantCode(t, err, api.CodeScopeMismatch)
	if err := signIn(f).ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(readAudit(t, f), "rotation_") {
		t.Fatal("a rotation line under strict custody")
	}
}

// A top-level one_time holds Bluesky at strict, and the policy_loaded line says so.
func TestOneTimeHeldAtStrictIsRecorded(t *testing.T) {
	ctx := context.Background()
	f := oneTimeFixture(t)
	if err := f.eng.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: "bluesky", Handle: "@ministry.bsky.social", Username: "press@example.org", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	accs, _ := f.admin().ListAccounts(ctx)
	if accs[0].Custody != policy.CustodyStrict {
		t.Fatalf("Bluesky custody %q, want strict", accs[0].Custody)
	}
	trail := readAudit(t, f)
	if !strings.Contains(trail, `"custody_held_strict":["custody one_time does not apply on Bluesky`) {
		t.Fatalf("trail:\n%s", trail)
	}
}

// Without its audit line the change after the session releases nothing and stores nothing.
func TestOneTimeReleaseWithoutItsLine(t *testing.T) {
	ctx := context.Background()
	f := oneTimeFixture(t)
	_, s := approvedSession(t, f, "ein Beitrag")
	if _, err := signIn(f).ReleaseCredentials(ctx, xAsk(s)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin().Lock(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	f.audit.fail.Store(true)
	ro, err := signIn(f).ReleaseRotation(ctx, xAsk(s))
	wantCode(t, err, api.CodeAuditUnavailable)
	f.audit.fail.Store(false)
	if ro.NewPassword != "" || f.secret(custody.AccountNextPasswordKey("x:@ministry")) != "" {
		t.Fatal("a new password went out or stayed in the keyring without its line")
	}
	accs, _ := f.admin().ListAccounts(ctx)
	if accs[0].RotationPending {
		t.Fatal("a rotation is pending without its line")
	}
	// It can be asked again: nothing was released.
	if _, err := signIn(f).ReleaseRotation(ctx, xAsk(s)); err != nil {
		t.Fatal(err)
	}
}
