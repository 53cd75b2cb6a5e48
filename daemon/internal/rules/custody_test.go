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

func TestRotationRules(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rot := Session{ID: "s1", Account: "x:@m", Action: api.ActionRotate, State: Active, Expires: now.Add(time.Minute)}
	hosts := []string{"x.com"}
	// A sign-in before the rotation does not spend the rotation's release, nor the other way.
	rs, d := CanRelease(rot, "x:@m", "x.com", hosts, now)
	if !d.Allowed() {
		t.Fatal(d.Refusal)
	}
	rs, d = CanReleaseRotation(rs, "x:@m", "x.com", hosts, now)
	if !d.Allowed() || d.Event != "rotation_release" || !rs.RotationReleased || !rs.Released {
		t.Fatalf("%+v %+v", d, rs)
	}
	if _, d := CanReleaseRotation(rs, "x:@m", "x.com", hosts, now); d.Allowed() || d.Refusal.Code != api.CodeAlreadyUsed || d.Severity != High {
		t.Fatalf("second release: %+v", d)
	}
	post := rot
	post.Action = "post"
	if _, d := CanReleaseRotation(post, "x:@m", "x.com", hosts, now); d.Allowed() || d.Refusal.Reason != "not_rotation" {
		t.Fatalf("a post session: %+v", d)
	}
	if _, d := Rotated(rot, "x:@m", true); d.Allowed() || d.Refusal.Reason != "rotation_not_released" {
		t.Fatalf("a report before the release: %+v", d)
	}
	done, d := Rotated(rs, "x:@m", true)
	if !d.Allowed() || d.Event != "password_rotated" || done.State != Consumed || !done.RotationReported {
		t.Fatalf("%+v %+v", d, done)
	}
	if _, d := Rotated(done, "x:@m", true); d.Allowed() || d.Refusal.Code != api.CodeAlreadyUsed {
		t.Fatalf("a second report: %+v", d)
	}
	if _, d := Rotated(rs, "x:@m", false); !d.Allowed() || d.Event != "rotation_failed" || d.Severity != High {
		t.Fatalf("a failure: %+v", d)
	}
	late := rs
	late.State = Expired
	if _, d := Rotated(late, "x:@m", true); !d.Allowed() {
		t.Fatalf("a late report still settles the rotation: %+v", d)
	}
}

func TestPrivatePost(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	in := Config{Within: func(time.Time) bool { return true }}
	out := Config{Within: func(time.Time) bool { return false }}
	cases := []struct {
		name  string
		c     Config
		mode  string
		allow bool
	}{
		{"block", out, "block", false},
		{"an unknown mode blocks", out, "whatever", false},
		{"allow", in, "allow", true},
		{"allow outside hours, outside", out, "allow_outside_hours", true},
		{"allow outside hours, inside", in, "allow_outside_hours", false},
		{"allow outside hours, no posting hours", Config{}, "allow_outside_hours", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := PrivatePost(c.c, c.mode, "x", "@someone", false, now)
			if d.Allowed() != c.allow {
				t.Fatalf("%+v", d)
			}
			if !c.allow && (d.Refusal.Code != api.CodePrivateAccount || d.Event != "private_post_blocked") {
				t.Fatalf("%+v", d)
			}
			if c.allow && d.Event != "private_post_allowed" {
				t.Fatalf("%+v", d)
			}
		})
	}
}

// Where an official account stays signed in (gated custody), the page's word for which account
// is signed in cannot let a post through without approval.
func TestPrivatePostOnAGatedPlatform(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := PrivatePost(Config{}, "allow", "x", "@someone", true, now)
	if d.Allowed() || d.Refusal.Code != api.CodePrivateAccount || d.Refusal.Reason != "gated_platform" {
		t.Fatalf("%+v", d)
	}
}

// A session is used only by the OS user who asked for the post: anyone else is an alarm.
func TestUseSession(t *testing.T) {
	s := Session{ID: "s1", Account: "x:@m", Requester: "staff"}
	for _, tt := range []struct {
		name, caller string
		allowed      bool
	}{
		{"the requester", "staff", true},
		{"a colleague", "colleague", false},
		{"root", "root", false},
		{"no name", "", false},
		{"the name in another case", "Staff", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := UseSession(s, tt.caller)
			if d.Allowed() != tt.allowed {
				t.Fatalf("allowed %v, want %v", d.Allowed(), tt.allowed)
			}
			if tt.allowed {
				if d.Event != "" {
					t.Fatalf("an allowed use records %q", d.Event)
				}
				return
			}
			if d.Event != "session_refused" || d.Severity != High || d.Refusal.Code != api.CodeNotPermitted || d.Refusal.Reason != "session_other" || d.Refusal.Facts.Requester != "staff" {
				t.Fatalf("decision %+v %+v", d, d.Refusal)
			}
		})
	}
}
