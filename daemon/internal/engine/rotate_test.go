package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
)

// rotation starts a rotation of x:@ministry and has anna approve it.
func rotation(t *testing.T, f *fixture) (api.Request, *api.Session) {
	t.Helper()
	ctx := context.Background()
	f.enrol("anna", "anna")
	if _, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@ministry", Username: "press", Password: "old-pw"}); err != nil {
		t.Fatal(err)
	}
	r, err := f.admin().RotateAccount(ctx, "x:@ministry")
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != api.ActionRotate || !strings.Contains(r.Text, "Change the password of x:@ministry") {
		t.Fatalf("rotation request %+v", r)
	}
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil || ap.Session == nil {
		t.Fatalf("approve: %+v %v", ap, err)
	}
	return r, ap.Session
}

func (f *fixture) secret(key string) string {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	return f.store.m[key]
}

func TestRotationSucceeds(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, s := rotation(t, f)
	next := f.secret(custody.AccountNextPasswordKey("x:@ministry"))
	if len(next) != NewPasswordLength || next == "old-pw" {
		t.Fatalf("new password %q", next)
	}
	// A rotate session is not a publish: open refuses it, and sign-in still works first.
	if _, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"}); err != nil {
		t.Fatalf("signing in for the rotation: %v", err)
	}
	ro, err := signIn(f).ReleaseRotation(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
	if err != nil || ro.Password != "old-pw" || ro.NewPassword != next || ro.Username != "press" {
		t.Fatalf("rotation %+v %v", ro, err)
	}
	_, err = signIn(f).ReleaseRotation(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
	wantCode(t, err, api.CodeAlreadyUsed)
	if err := signIn(f).ReportRotated(ctx, api.Rotated{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}); err != nil {
		t.Fatal(err)
	}
	if got := f.secret(custody.AccountPasswordKey("x:@ministry")); got != next {
		t.Fatalf("the keyring holds %q, want the new password", got)
	}
	if f.secret(custody.AccountNextPasswordKey("x:@ministry")) != "" {
		t.Fatal("the spare password is still stored")
	}
	accs, _ := f.admin().ListAccounts(ctx)
	if accs[0].RotationPending {
		t.Fatal("the rotation is still pending")
	}
	wantCode(t, signIn(f).ReportRotated(ctx, api.Rotated{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}), api.CodeAlreadyUsed)
	trail := readAudit(t, f)
	for _, want := range []string{`"event":"rotation_release"`, `"event":"password_rotated"`} {
		if !strings.Contains(trail, want) {
			t.Errorf("trail lacks %s", want)
		}
	}
	if strings.Contains(trail, next) || strings.Contains(trail, "old-pw") {
		t.Fatal("a password is in the audit trail")
	}
}

// On any failure the old password stays: a rotation never loses the only working password.
func TestRotationFailureKeepsTheOldPassword(t *testing.T) {
	ctx := context.Background()
	t.Run("the platform refused", func(t *testing.T) {
		f := newFixture(t)
		_, s := rotation(t, f)
		if _, err := signIn(f).ReleaseRotation(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"}); err != nil {
			t.Fatal(err)
		}
		if err := signIn(f).ReportRotated(ctx, api.Rotated{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", Error: "current password wrong"}); err != nil {
			t.Fatal(err)
		}
		if got := f.secret(custody.AccountPasswordKey("x:@ministry")); got != "old-pw" {
			t.Fatalf("keyring %q after a failed rotation", got)
		}
		if !strings.Contains(readAudit(t, f), `"event":"rotation_failed","severity":"high"`) {
			t.Fatal("no rotation_failed alarm")
		}
	})
	t.Run("the audit line fails", func(t *testing.T) {
		f := newFixture(t)
		_, s := rotation(t, f)
		if _, err := signIn(f).ReleaseRotation(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"}); err != nil {
			t.Fatal(err)
		}
		f.audit.fail.Store(true)
		wantCode(t, signIn(f).ReportRotated(ctx, api.Rotated{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}), api.CodeAuditUnavailable)
		f.audit.fail.Store(false)
		if got := f.secret(custody.AccountPasswordKey("x:@ministry")); got != "old-pw" {
			t.Fatalf("keyring %q after an unrecorded rotation", got)
		}
		if f.secret(custody.AccountNextPasswordKey("x:@ministry")) == "" {
			t.Fatal("the new password was dropped although the platform may have it")
		}
	})
	t.Run("no report before the session ends", func(t *testing.T) {
		f := newFixture(t)
		_, s := rotation(t, f)
		if _, err := signIn(f).ReleaseRotation(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(11 * time.Minute)
		if _, err := f.admin().ListAccounts(ctx); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(readAudit(t, f), `"event":"session_expired","severity":"high","fields":{"account":"x:@ministry","rotation_unconfirmed":true`) {
			t.Fatalf("no unconfirmed-rotation alarm:\n%s", readAudit(t, f))
		}
		if f.secret(custody.AccountPasswordKey("x:@ministry")) != "old-pw" || f.secret(custody.AccountNextPasswordKey("x:@ministry")) == "" {
			t.Fatal("an unconfirmed rotation must keep both passwords")
		}
		_, err := f.admin().RotateAccount(ctx, "x:@ministry")
		wantCode(t, err, api.CodeExists)
		// IT settles it by storing the password that works.
		if err := f.admin().SetAccountPassword(ctx, "x:@ministry", "what works"); err != nil {
			t.Fatal(err)
		}
		if f.secret(custody.AccountNextPasswordKey("x:@ministry")) != "" {
			t.Fatal("settling kept the spare password")
		}
		if _, err := f.admin().RotateAccount(ctx, "x:@ministry"); err != nil {
			t.Fatalf("a new rotation after settling: %v", err)
		}
	})
}

func TestRotationOnlyForRotateSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, s := approvedSession(t, f, "ein Beitrag")
	_, err := signIn(f).ReleaseRotation(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
	wantCode(t, err, api.CodeScopeMismatch)
	// And a rotate session is not a publish.
	f2 := newFixture(t)
	r, s2 := rotation(t, f2)
	_, err = f2.staff().Consume(ctx, api.Use{SessionID: s2.ID, Account: "x:@ministry", Action: api.ActionPost, Digest: r.Digest})
	wantCode(t, err, api.CodeScopeMismatch)
}

// Bluesky changes a password with a code it e-mails to the account: the table describes that as
// steps with a person in them, and a rotation there is asked for like any other: a new password
// waits in the keyring and a request waits for approval.
func TestRotationOnBlueskyIsAskedFor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: "bluesky", Handle: "@ministry.bsky.social", Username: "press@example.org", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	r, err := f.admin().RotateAccount(ctx, "bluesky:@ministry.bsky.social")
	if err != nil || r.Action != "rotate" {
		t.Fatalf("RotateAccount on Bluesky = %+v, %v", r, err)
	}
	if v := f.secret(custody.AccountNextPasswordKey("bluesky:@ministry.bsky.social")); len(v) != NewPasswordLength {
		t.Errorf("the new password waiting in the keyring has %d characters", len(v))
	}
	for _, p := range []string{"x", "mastodon", "bluesky"} {
		if err := Rotatable(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := Rotatable("facebook"); err == nil || !strings.Contains(err.Error(), "no change-password form") {
		t.Errorf("facebook: %v, want a refusal naming why", err)
	}
}
