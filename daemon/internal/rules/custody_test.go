package rules

import (
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

func TestCanRelease(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	active := Session{ID: "s1", Account: "x:@m", Action: "post", State: Active, Expires: now.Add(time.Minute)}
	hosts := []string{"x.com", "twitter.com"}
	with := func(f func(*Session)) Session { s := active; f(&s); return s }
	cases := []struct {
		name    string
		s       Session
		account string
		host    string
		code    api.Code
		reason  string
		alarm   bool
	}{
		{"active, its account, the platform's host", active, "x:@m", "x.com", "", "", false},
		{"host compared without case", active, "x:@m", "X.COM", "", "", false},
		{"another account", active, "x:@other", "x.com", api.CodeScopeMismatch, "release_account", true},
		{"another host", active, "x:@m", "evil.example", api.CodeScopeMismatch, "release_host", true},
		{"a look-alike host", active, "x:@m", "x.com.evil.example", api.CodeScopeMismatch, "release_host", true},
		{"released before", with(func(s *Session) { s.Released = true }), "x:@m", "x.com", api.CodeAlreadyUsed, "released", true},
		{"spent", with(func(s *Session) { s.State = Consumed }), "x:@m", "x.com", api.CodeAlreadyUsed, "session_spent", false},
		{"revoked", with(func(s *Session) { s.State = Revoked }), "x:@m", "x.com", api.CodeLocked, "session", false},
		{"past its time", with(func(s *Session) { s.Expires = now }), "x:@m", "x.com", api.CodeExpired, "session", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns, d := CanRelease(c.s, c.account, c.host, hosts, now)
			if c.code == "" {
				if !d.Allowed() || d.Event != "credential_release" || !ns.Released {
					t.Fatalf("%+v %+v", d, ns)
				}
				return
			}
			if d.Allowed() || d.Refusal.Code != c.code || d.Refusal.Reason != c.reason || (d.Severity == High) != c.alarm {
				t.Fatalf("decision %+v (%v), want %s/%s alarm=%v", d, d.Refusal, c.code, c.reason, c.alarm)
			}
			if ns.Released != c.s.Released {
				t.Fatal("a refusal marked the session released")
			}
		})
	}
}

func TestSignedOut(t *testing.T) {
	s := Session{ID: "s1", Account: "x:@m"}
	if d := SignedOut(s, "x:@m", true); !d.Allowed() || d.Event != "signed_out" || d.Severity != Info {
		t.Fatalf("%+v", d)
	}
	if d := SignedOut(s, "x:@m", false); !d.Allowed() || d.Event != "sign_out_failed" || d.Severity != High {
		t.Fatalf("%+v", d)
	}
	if d := SignedOut(s, "x:@other", true); d.Allowed() || d.Refusal.Code != api.CodeScopeMismatch {
		t.Fatalf("%+v", d)
	}
}
