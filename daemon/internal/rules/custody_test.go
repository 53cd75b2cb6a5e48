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

func TestCanReleaseAfterSession(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ended := Session{ID: "s1", Account: "x:@m", Action: "post", State: Consumed, Released: true, Expires: now.Add(time.Minute)}
	hosts := []string{"x.com"}
	on := OneTime{On: true}
	with := func(f func(*Session)) Session { s := ended; f(&s); return s }
	cases := []struct {
		name    string
		s       Session
		ot      OneTime
		account string
		host    string
		at      time.Time
		code    api.Code
		reason  string
		alarm   bool
	}{
		{"consumed, signed in, its account and host", ended, on, "x:@m", "x.com", now, "", "", false},
		{"revoked (Lock now)", with(func(s *Session) { s.State = Revoked }), on, "x:@m", "x.com", now, "", "", false},
		{"expired", with(func(s *Session) { s.State = Expired; s.Expires = now.Add(-time.Minute) }), on, "x:@m", "x.com", now, "", "", false},
		{"active but past its time: expires now", with(func(s *Session) { s.State = Active; s.Expires = now }), on, "x:@m", "x.com", now, "", "", false},
		{"the last moment of the grace", with(func(s *Session) { s.Expires = now.Add(-AfterSessionGrace) }), on, "x:@m", "x.com", now, "", "", false},
		{"custody not one_time", ended, OneTime{}, "x:@m", "x.com", now, api.CodeScopeMismatch, "not_one_time", false},
		{"still open", with(func(s *Session) { s.State = Active }), on, "x:@m", "x.com", now, api.CodeBadRequest, "session_open", false},
		{"never signed in", with(func(s *Session) { s.Released = false }), on, "x:@m", "x.com", now, api.CodeBadRequest, "not_signed_in", false},
		{"too late", with(func(s *Session) { s.Expires = now.Add(-AfterSessionGrace - time.Second) }), on, "x:@m", "x.com", now, api.CodeExpired, "rotation_late", false},
		{"another rotation waits", ended, OneTime{On: true, Pending: true}, "x:@m", "x.com", now, api.CodeExists, "rotation_pending", false},
		{"another account", ended, on, "x:@other", "x.com", now, api.CodeScopeMismatch, "release_account", true},
		{"another host", ended, on, "x:@m", "evil.example", now, api.CodeScopeMismatch, "release_host", true},
		{"a second time", with(func(s *Session) { s.RotationReleased = true }), on, "x:@m", "x.com", now, api.CodeAlreadyUsed, "released", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns, d := CanReleaseAfterSession(c.s, c.ot, c.account, c.host, hosts, c.at)
			if c.code == "" {
				if !d.Allowed() || d.Event != "rotation_release" || !ns.RotationReleased || ns.State == Active {
					t.Fatalf("%+v %+v", d, ns)
				}
				return
			}
			if d.Allowed() || d.Refusal.Code != c.code || d.Refusal.Reason != c.reason || (d.Severity == High) != c.alarm {
				t.Fatalf("decision %+v (%v), want %s/%s alarm=%v", d, d.Refusal, c.code, c.reason, c.alarm)
			}
			if ns.RotationReleased != c.s.RotationReleased {
				t.Fatal("a refusal marked the rotation released")
			}
		})
	}
	// A rotate session keeps its own rule.
	rot := Session{ID: "s2", Account: "x:@m", Action: api.ActionRotate, State: Active, Expires: now.Add(time.Minute)}
	if _, d := CanReleaseAfterSession(rot, OneTime{}, "x:@m", "x.com", hosts, now); !d.Allowed() || d.Event != "rotation_release" {
		t.Fatalf("rotate session: %+v", d)
	}
}

func TestRotatedAfterSession(t *testing.T) {
	s := Session{ID: "s1", Account: "x:@m", Action: "post", State: Consumed, Released: true}
	if _, d := Rotated(s, "x:@m", true); d.Allowed() || d.Refusal.Reason != "not_rotation" {
		t.Fatalf("an outcome without a release: %+v", d)
	}
	s.RotationReleased = true
	ns, d := Rotated(s, "x:@m", true)
	if !d.Allowed() || d.Event != "password_rotated" || !ns.RotationReported || ns.State != Consumed {
		t.Fatalf("%+v %+v", d, ns)
	}
	if _, d := Rotated(ns, "x:@m", false); d.Allowed() || d.Event != "rotation_failed" || d.Severity != High {
		t.Fatalf("a second report: %+v", d)
	}
	if ns, d := Rotated(s, "x:@m", false); !d.Allowed() || d.Event != "rotation_failed" || d.Severity != High || !ns.RotationReported {
		t.Fatalf("failure: %+v", d)
	}
}

func TestRotationSkipped(t *testing.T) {
	base := Session{ID: "s1", Account: "x:@m", Action: "post", State: Consumed}
	with := func(f func(*Session)) Session { s := base; f(&s); return s }
	cases := []struct {
		name    string
		s       Session
		oneTime bool
		reason  string // "" : no event
	}{
		{"not one_time", with(func(s *Session) { s.Released = true }), false, ""},
		{"never signed in", base, true, "not_signed_in"},
		{"signed in, no change asked", with(func(s *Session) { s.Released = true }), true, "not_released"},
		{"released, no outcome", with(func(s *Session) { s.Released, s.RotationReleased = true, true }), true, "not_reported"},
		{"changed", with(func(s *Session) { s.Released, s.RotationReleased, s.RotationReported = true, true, true }), true, ""},
		{"a rotate session", with(func(s *Session) { s.Action = api.ActionRotate }), true, ""},
	}
	for _, c := range cases {
		d, why := RotationSkipped(c.s, c.oneTime)
		if c.reason == "" {
			if d.Event != "" {
				t.Errorf("%s: %+v", c.name, d)
			}
			continue
		}
		if d.Event != "rotation_skipped" || d.Severity != High || why != c.reason {
			t.Errorf("%s: %+v %q, want rotation_skipped/high %q", c.name, d, why, c.reason)
		}
	}
}
