package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
)

// approvedSession enrols anna, takes x:@ministry into custody (with a two-factor seed) and
// returns an approved request and its session.
func approvedSession(t *testing.T, f *fixture, text string) (api.Request, *api.Session) {
	t.Helper()
	ctx := context.Background()
	f.enrol("anna", "anna")
	if _, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@ministry", Username: "press@example.org",
		Password: "correct horse", TOTPSeed: "jbsw y3dp ehpk 3pxp"}); err != nil {
		t.Fatal(err)
	}
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

func signIn(f *fixture) api.SignIn { return f.staff().(api.SignIn) }

func TestCredentialsOncePerSessionForItsAccountAndPlatform(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r, s := approvedSession(t, f, "Guten Morgen")

	// Refused before anything is released: another account, another host. Each is an alarm.
	_, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@other", Host: "x.com"})
	wantCode(t, err, api.CodeScopeMismatch)
	_, err = signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "evil.example"})
	wantCode(t, err, api.CodeScopeMismatch)
	_, err = signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: "nope", Account: "x:@ministry", Host: "x.com"})
	wantCode(t, err, api.CodeNotFound)

	cr, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "X.com"})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := rules.CodeAt("JBSWY3DPEHPK3PXP", rules.Step(f.clk.Now()))
	if cr.Username != "press@example.org" || cr.Password != "correct horse" || cr.Code != want {
		t.Fatalf("credentials %+v, want the stored ones and code %s", cr, want)
	}
	// Once per session.
	_, err = signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
	wantCode(t, err, api.CodeAlreadyUsed)

	trail := readAudit(t, f)
	if n := strings.Count(trail, `"event":"credential_release_refused","severity":"high"`); n != 3 {
		t.Errorf("%d credential_release_refused alarms, want 3:\n%s", n, trail)
	}
	if n := strings.Count(trail, `"event":"credential_release"`); n != 1 {
		t.Errorf("%d credential_release lines, want 1", n)
	}
	if strings.Contains(trail, "correct horse") || strings.Contains(trail, cr.Code) || strings.Contains(trail, "JBSW") {
		t.Fatal("a secret is in the audit trail")
	}
	// The session is still good for its one post.
	if _, err := f.staff().Consume(ctx, use(s, r.Digest)); err != nil {
		t.Fatalf("consume after sign-in: %v", err)
	}
	// A spent session releases nothing.
	_, err = signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
	wantCode(t, err, api.CodeAlreadyUsed)
}

func TestCredentialsNotForEndedSessions(t *testing.T) {
	ctx := context.Background()
	t.Run("expired", func(t *testing.T) {
		f := newFixture(t)
		_, s := approvedSession(t, f, "zu spät")
		f.clk.Advance(11 * time.Minute)
		_, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
		wantCode(t, err, api.CodeExpired)
	})
	t.Run("lock now", func(t *testing.T) {
		f := newFixture(t)
		_, s := approvedSession(t, f, "gesperrt")
		if _, err := f.staff().Lock(ctx, "test"); err != nil {
			t.Fatal(err)
		}
		_, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
		wantCode(t, err, api.CodeLocked)
	})
	t.Run("audit line fails: nothing handed out, still releasable", func(t *testing.T) {
		f := newFixture(t)
		_, s := approvedSession(t, f, "ohne Zeile")
		f.audit.fail.Store(true)
		cr, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
		wantCode(t, err, api.CodeAuditUnavailable)
		if cr.Password != "" {
			t.Fatal("a password was handed out without its line")
		}
		f.audit.fail.Store(false)
		if _, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"}); err != nil {
			t.Fatalf("after the audit log recovered: %v", err)
		}
	})
	t.Run("locked keyring", func(t *testing.T) {
		f := newFixture(t)
		_, s := approvedSession(t, f, "Schlüsselbund")
		f.store.mu.Lock()
		delete(f.store.m, custody.AccountPasswordKey("x:@ministry"))
		f.store.mu.Unlock()
		_, err := signIn(f).ReleaseCredentials(ctx, api.CredentialAsk{SessionID: s.ID, Account: "x:@ministry", Host: "x.com"})
		wantCode(t, err, api.CodeNotFound)
		if strings.Contains(readAudit(t, f), `"event":"credential_release"`) {
			t.Fatal("a release was recorded although nothing was handed out")
		}
	})
}

func TestMastodonSignsInOnItsInstance(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.enrol("anna", "anna")
	if _, err := f.admin().AddAccount(ctx, api.NewAccount{Platform: "mastodon", Handle: "@presse@social.example", Username: "presse@example.org", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	r, _ := f.staff().CreateRequest(ctx, api.NewRequest{Account: "mastodon:@presse@social.example", Action: "post", Text: "Moin"})
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ask := api.CredentialAsk{SessionID: ap.Session.ID, Account: "mastodon:@presse@social.example"}
	ask.Host = "mastodon.social"
	_, err = signIn(f).ReleaseCredentials(ctx, ask)
	wantCode(t, err, api.CodeScopeMismatch)
	ask.Host = "social.example"
	cr, err := signIn(f).ReleaseCredentials(ctx, ask)
	if err != nil || cr.Password != "pw" || cr.Code != "" {
		t.Fatalf("%+v %v", cr, err)
	}
}

func TestSignedOutIsRecorded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, s := approvedSession(t, f, "abmelden")
	if err := signIn(f).ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := signIn(f).ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: "x:@ministry", Host: "x.com", Error: "logout answered 500"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, signIn(f).ReportSignedOut(ctx, api.SignOut{SessionID: s.ID, Account: "x:@other", Host: "x.com", OK: true}), api.CodeScopeMismatch)
	trail := readAudit(t, f)
	if !strings.Contains(trail, `"event":"signed_out","severity":"info"`) || !strings.Contains(trail, `"event":"sign_out_failed","severity":"high","fields":{"account":"x:@ministry","error":"logout answered 500"`) {
		t.Fatalf("trail:\n%s", trail)
	}
}

// The bridge's value can sign in (the bridge asserts api.SignIn on it); the admin socket has no
// method for it (adminsock's TestNoSignInOverTheAdminSocket).
func TestBridgeValueSignsIn(t *testing.T) {
	f := newFixture(t)
	if _, ok := any(f.eng.Staff(api.Caller{OSUser: "staff", Via: "bridge"})).(api.SignIn); !ok {
		t.Fatal("the bridge's value cannot sign in")
	}
}

func TestPrivatePostsByPolicy(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, policy string
		want         api.Code
	}{
		{"block (the default)", `{"version":1}`, api.CodePrivateAccount},
		{"allow", `{"version":1,"private_accounts":"allow"}`, ""},
		{"allow, but an official account there stays signed in", `{"version":1,"private_accounts":"allow","accounts":{"x:@ministry":{"custody":"gated"}}}`, api.CodePrivateAccount},
		{"allow, a gated account on another platform", `{"version":1,"private_accounts":"allow","accounts":{"mastodon:@p@social.example":{"custody":"gated"}}}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			p, err := policy.Parse([]byte(c.policy))
			if err != nil {
				t.Fatal(err)
			}
			f.pol = p
			f.start()
			f.ensureAccount("x:@ministry")
			err = signIn(f).AllowPrivatePost(ctx, api.PrivatePost{Platform: "x", Host: "x.com", Handle: "@jemand"})
			wantCode(t, err, c.want)
			event := "private_post_allowed"
			if c.want != "" {
				event = "private_post_blocked"
			}
			if !strings.Contains(readAudit(t, f), `"event":"`+event+`"`) {
				t.Fatalf("no %s line", event)
			}
			accs, _ := f.admin().ListAccounts(ctx)
			if want := p.CustodyFor("x:@ministry"); accs[0].Custody != want {
				t.Fatalf("custody %q, want %q", accs[0].Custody, want)
			}
		})
	}
}
