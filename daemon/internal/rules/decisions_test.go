package rules

import (
	"slices"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

// Named table tests for every decision the rules make that rules_test.go does not already
// cover: the author mark, the open-request limit, which code outcomes are alarms, publish
// reports, deny and cancel, withdrawal, revocation, expiry, what is offered, and that no function
// changes its caller's value.

func TestAuthorMark(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	marked := func(text string) bool { return strings.HasSuffix(strings.TrimSpace(text), "^AB") }
	for _, tt := range []struct {
		name   string
		mark   func(string) bool
		text   string
		code   api.Code
		reason string
	}{
		{"no mark required", nil, "Hallo", "", ""},
		{"mark present", marked, "Hallo ^AB", "", ""},
		{"mark missing", marked, "Hallo", api.CodeBadRequest, "author_mark"},
		{"mark elsewhere is not the mark", marked, "^AB Hallo", api.CodeBadRequest, "author_mark"},
		{"blank is refused as blank first", marked, " ", api.CodeBadRequest, "blank"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.AuthorMark = tt.mark
			in := RequestInput{Account: testAccount, Action: api.ActionPost, Text: tt.text}
			r, d := NewRequest(c, "r1", "staff", in, testDigest, in.Text, 0, now)
			if tt.code == "" {
				wantDecision(t, d, "request", Info, "", "")
				if r.State != Pending || r.Text != tt.text {
					t.Fatalf("request = %+v", r)
				}
				return
			}
			wantDecision(t, d, "", "", tt.code, tt.reason)
		})
	}
}

func TestOpenRequestLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	in := RequestInput{Account: testAccount, Action: api.ActionPost, Text: "Hallo"}
	for _, tt := range []struct {
		name    string
		maxOpen int
		open    int
		code    api.Code
	}{
		{"none open", 2, 0, ""},
		{"one below the limit", 2, 1, ""},
		{"at the limit", 2, 2, api.CodeTooManyRequests},
		{"above the limit", 2, 3, api.CodeTooManyRequests},
		{"default limit reached", 5, 5, api.CodeTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.MaxOpen = tt.maxOpen
			_, d := NewRequest(c, "r1", "staff", in, testDigest, in.Text, tt.open, now)
			if tt.code == "" {
				wantDecision(t, d, "request", Info, "", "")
				return
			}
			wantDecision(t, d, "", "", tt.code, "")
			want := Facts{Requester: "staff", Open: tt.open, Limit: tt.maxOpen}
			if d.Refusal.Facts != want {
				t.Errorf("facts = %+v, want %+v", d.Refusal.Facts, want)
			}
		})
	}
}

func TestCountOpen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	req := func(requester, state string, expires time.Time) Request {
		return Request{Requester: requester, State: state, Expires: expires}
	}
	later := now.Add(time.Minute)
	for _, tt := range []struct {
		name string
		rs   []Request
		want int
	}{
		{"none", nil, 0},
		{"one pending", []Request{req("staff", Pending, later)}, 1},
		{"two pending", []Request{req("staff", Pending, later), req("staff", Pending, later)}, 2},
		{"another requester's", []Request{req("other", Pending, later)}, 0},
		{"decided ones", []Request{req("staff", Approved, later), req("staff", Denied, later),
			req("staff", Cancelled, later), req("staff", Expired, later), req("staff", Revoked, later)}, 0},
		{"ran out exactly now", []Request{req("staff", Pending, now)}, 0},
		{"ran out before", []Request{req("staff", Pending, now.Add(-time.Second))}, 0},
		{"one nanosecond left", []Request{req("staff", Pending, now.Add(1))}, 1},
		{"mixed", []Request{req("staff", Pending, later), req("other", Pending, later),
			req("staff", Approved, later), req("staff", Pending, now)}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ptrs := make([]*Request, len(tt.rs))
			for i := range tt.rs {
				ptrs[i] = &tt.rs[i]
			}
			if got := CountOpen(slices.Values(ptrs), "staff", now); got != tt.want {
				t.Errorf("CountOpen = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCodeOutcomeDecisions(t *testing.T) {
	type ev struct {
		event string
		sev   Severity
	}
	for _, tt := range []struct {
		name string
		out  CodeOutcome
		want []ev
	}{
		{"accepted", CodeOutcome{Step: 7}, nil},
		{"throttled attempt (nothing checked)", CodeOutcome{}, nil},
		{"failed", CodeOutcome{Failed: true}, []ev{{"code_failed", Info}}},
		{"replayed", CodeOutcome{Failed: true, Replayed: true}, []ev{{"code_replayed", High}}},
		{"failed and locked out", CodeOutcome{Failed: true, LockedOut: true},
			[]ev{{"code_failed", Info}, {"approver_throttled", High}}},
		{"replayed and locked out", CodeOutcome{Failed: true, Replayed: true, LockedOut: true},
			[]ev{{"code_replayed", High}, {"approver_throttled", High}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []ev
			for _, d := range tt.out.Decisions() {
				if d.Refusal != nil {
					t.Errorf("an outcome's event carries no refusal: %+v", d)
				}
				got = append(got, ev{d.Event, d.Severity})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Decisions = %v, want %v", got, tt.want)
			}
		})
	}

	// And the outcomes CheckCode really reports.
	now := time.Unix(1_800_000_000, 0)
	c := DefaultConfig()
	t.Run("CheckCode: wrong code is code_failed", func(t *testing.T) {
		_, out, _, _ := CheckCode(c, Approver{ID: "anna", Confirmed: true}, rfcSecret, wrongCode(t, now), now)
		if d := out.Decisions(); len(d) != 1 || d[0].Event != "code_failed" || d[0].Severity != Info {
			t.Fatalf("decisions = %+v", d)
		}
	})
	t.Run("CheckCode: replay is code_replayed", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true, LastStep: Step(now)}
		_, out, _, _ := CheckCode(c, a, rfcSecret, code(t, now), now)
		if d := out.Decisions(); len(d) != 1 || d[0].Event != "code_replayed" || d[0].Severity != High {
			t.Fatalf("decisions = %+v", d)
		}
	})
	t.Run("CheckCode: the fifth failure is code_failed then approver_throttled", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true}
		var out CodeOutcome
		for i := 0; i < 5; i++ {
			a, out, _, _ = CheckCode(c, a, rfcSecret, "x", now)
		}
		d := out.Decisions()
		if len(d) != 2 || d[0].Event != "code_failed" || d[1].Event != "approver_throttled" || d[1].Severity != High {
			t.Fatalf("decisions = %+v", d)
		}
	})
}

func TestPublished(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	session := func(state string, published bool) Session {
		return Session{ID: "s1", Account: testAccount, Action: api.ActionPost, Digest: testDigest,
			ManifestDigest: testManifest, Issued: now, Expires: now.Add(10 * time.Minute), State: state, Published: published}
	}
	for _, tt := range []struct {
		name          string
		s             Session
		digest        string
		manifest      string // "": testManifest
		event         string
		sev           Severity
		code          api.Code
		reason        string
		wantPublished bool
	}{
		{"the approved text went out", session(Consumed, false), testDigest, "", "published", Info, "", "", true},
		{"another text went out: not marked, so the genuine report is no repeat", session(Consumed, false), "other", "", "publish_mismatch", High, api.CodeDigestMismatch, "published_other", false},
		{"the approved text with other attachments or under another post", session(Consumed, false), testDigest, "other", "publish_mismatch", High, api.CodeDigestMismatch, "published_other_manifest", false},
		{"another text and another manifest: the text is named", session(Consumed, false), "other", "other", "publish_mismatch", High, api.CodeDigestMismatch, "published_other", false},
		{"reported twice", session(Consumed, true), testDigest, "", "publish_repeated", High, api.CodeAlreadyUsed, "reported_twice", true},
		{"reported twice with another text: the mismatch wins", session(Consumed, true), "other", "", "publish_mismatch", High, api.CodeDigestMismatch, "published_other", true},
		{"reported twice with another manifest: the mismatch wins", session(Consumed, true), testDigest, "other", "publish_mismatch", High, api.CodeDigestMismatch, "published_other_manifest", true},
		{"not consumed: active", session(Active, false), testDigest, "", "", "", api.CodeBadRequest, "not_consumed", false},
		{"not consumed: expired", session(Expired, false), testDigest, "", "", "", api.CodeBadRequest, "not_consumed", false},
		{"not consumed: revoked", session(Revoked, false), testDigest, "", "", "", api.CodeBadRequest, "not_consumed", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			md := tt.manifest
			if md == "" {
				md = testManifest
			}
			got, d := Published(tt.s, tt.digest, md)
			wantDecision(t, d, tt.event, tt.sev, tt.code, tt.reason)
			if got.Published != tt.wantPublished || got.State != tt.s.State {
				t.Errorf("session after the report: %+v", got)
			}
			if tt.reason == "not_consumed" && d.Refusal.Facts.State != tt.s.State {
				t.Errorf("facts = %+v", d.Refusal.Facts)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		name      string
		state     string
		requester string
		at        time.Time
		event     string
		sev       Severity
		code      api.Code
		reason    string
		wantState string
	}{
		{"own pending request", Pending, "staff", now, "request_cancelled", Info, "", "", Cancelled},
		{"last nanosecond", Pending, "staff", now.Add(10*time.Minute - 1), "request_cancelled", Info, "", "", Cancelled},
		{"another requester's", Pending, "mallory", now, "", "", api.CodeNotPermitted, "cancel_other", Pending},
		{"another requester's decided request", Approved, "mallory", now, "", "", api.CodeNotPermitted, "cancel_other", Approved},
		{"approved", Approved, "staff", now, "", "", api.CodeAlreadyUsed, "request_decided", Approved},
		{"already cancelled", Cancelled, "staff", now, "", "", api.CodeAlreadyUsed, "request_decided", Cancelled},
		{"denied", Denied, "staff", now, "", "", api.CodeDenied, "", Denied},
		{"revoked", Revoked, "staff", now, "", "", api.CodeLocked, "request", Revoked},
		{"ran out", Pending, "staff", now.Add(10 * time.Minute), "", "", api.CodeExpired, "request", Pending},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testRequest(now)
			r.State = tt.state
			got, d := Cancel(r, tt.requester, tt.at)
			wantDecision(t, d, tt.event, tt.sev, tt.code, tt.reason)
			if got.State != tt.wantState {
				t.Errorf("state = %s, want %s", got.State, tt.wantState)
			}
			if r.State != tt.state {
				t.Errorf("the caller's request changed: %s", r.State)
			}
			if tt.code == api.CodeNotPermitted && (d.Refusal.Facts.Request != "r1" || d.Refusal.Facts.Requester != "staff") {
				t.Errorf("facts = %+v", d.Refusal.Facts)
			}
		})
	}
}

func TestCanDenyAndDeny(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		name   string
		state  string
		at     time.Time
		appr   Approver
		may    func(account, approver string) bool
		event  string
		sev    Severity
		code   api.Code
		reason string
	}{
		{"confirmed approver", Pending, now, Approver{ID: "anna", Confirmed: true}, nil, "request_denied", Info, "", ""},
		{"the requester's own approver identity may deny", Pending, now, Approver{ID: "sam", OSUser: "staff", Confirmed: true}, nil, "request_denied", Info, "", ""},
		{"not confirmed", Pending, now, Approver{ID: "anna"}, nil, "", "", api.CodeNotConfirmed, ""},
		{"not authorised", Pending, now, Approver{ID: "anna", Confirmed: true},
			func(string, string) bool { return false }, "", "", api.CodeNotAuthorised, ""},
		{"authorised", Pending, now, Approver{ID: "anna", Confirmed: true},
			func(acc, id string) bool { return acc == testAccount && id == "anna" }, "request_denied", Info, "", ""},
		{"ran out", Pending, now.Add(10 * time.Minute), Approver{ID: "anna", Confirmed: true}, nil, "", "", api.CodeExpired, "request"},
		{"approved", Approved, now, Approver{ID: "anna", Confirmed: true}, nil, "", "", api.CodeAlreadyUsed, "request_decided"},
		{"already denied", Denied, now, Approver{ID: "anna", Confirmed: true}, nil, "", "", api.CodeDenied, ""},
		{"revoked", Revoked, now, Approver{ID: "anna", Confirmed: true}, nil, "", "", api.CodeLocked, "request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.MayApprove = tt.may
			r := testRequest(now)
			r.State = tt.state
			wantDecision(t, CanDeny(c, r, tt.appr, tt.at), tt.event, tt.sev, tt.code, tt.reason)
		})
	}
	t.Run("Deny", func(t *testing.T) {
		r := testRequest(now)
		got := Deny(r)
		if got.State != Denied || r.State != Pending {
			t.Fatalf("Deny: got %s, caller's %s", got.State, r.State)
		}
		_, d := CanApprove(DefaultConfig(), got, Approver{ID: "ben", Confirmed: true}, now)
		wantDecision(t, d, "", "", api.CodeDenied, "")
	})
}

func TestWithdrawApproval(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		name   string
		state  string
		before []string
		id     string
		ok     bool
		after  []string
	}{
		{"the only approval", Pending, []string{"anna"}, "anna", true, []string{}},
		{"first of two", Pending, []string{"anna", "ben"}, "anna", true, []string{"ben"}},
		{"second of two", Pending, []string{"anna", "ben"}, "ben", true, []string{"anna"}},
		{"not an approver of it", Pending, []string{"anna"}, "carl", false, []string{"anna"}},
		{"no approvals", Pending, nil, "anna", false, nil},
		{"approved request stays approved", Approved, []string{"anna"}, "anna", false, []string{"anna"}},
		{"denied request", Denied, []string{"anna"}, "anna", false, []string{"anna"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testRequest(now)
			r.State = tt.state
			r.ApprovedBy = slices.Clone(tt.before)
			got, ok := WithdrawApproval(r, tt.id)
			if ok != tt.ok || !slices.Equal(got.ApprovedBy, tt.after) || got.State != tt.state {
				t.Fatalf("WithdrawApproval = %+v, %v; want %q, %v", got, ok, tt.after, tt.ok)
			}
			if !slices.Equal(r.ApprovedBy, tt.before) {
				t.Fatalf("the caller's approvals changed: %q, want %q", r.ApprovedBy, tt.before)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	for _, tt := range []struct {
		state string
		ok    bool
		after string
	}{
		{Active, true, Revoked},
		{Consumed, false, Consumed},
		{Expired, false, Expired},
		{Revoked, false, Revoked},
	} {
		t.Run(tt.state, func(t *testing.T) {
			s := Session{ID: "s1", State: tt.state}
			got, ok := Revoke(s)
			if ok != tt.ok || got.State != tt.after || s.State != tt.state {
				t.Fatalf("Revoke(%s) = %s, %v (caller's %s)", tt.state, got.State, ok, s.State)
			}
		})
	}
}

func TestRevokeRequest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		state string
		ok    bool
		after string
	}{
		{Pending, true, Revoked},
		{Approved, false, Approved},
		{Denied, false, Denied},
		{Expired, false, Expired},
		{Cancelled, false, Cancelled},
		{Revoked, false, Revoked},
	} {
		t.Run(tt.state, func(t *testing.T) {
			r := testRequest(now)
			r.State = tt.state
			got, ok := RevokeRequest(r)
			if ok != tt.ok || got.State != tt.after || r.State != tt.state {
				t.Fatalf("RevokeRequest(%s) = %s, %v (caller's %s)", tt.state, got.State, ok, r.State)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	deadline := now.Add(10 * time.Minute)
	for _, tt := range []struct {
		name  string
		state string
		at    time.Time
		ok    bool
		after string
	}{
		{"one nanosecond before", Pending, deadline.Add(-1), false, Pending},
		{"at the deadline", Pending, deadline, true, Expired},
		{"after the deadline", Pending, deadline.Add(time.Hour), true, Expired},
		{"approved is not expired", Approved, deadline.Add(time.Hour), false, Approved},
		{"denied is not expired", Denied, deadline.Add(time.Hour), false, Denied},
		{"already expired", Expired, deadline.Add(time.Hour), false, Expired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testRequest(now)
			r.State = tt.state
			got, ok := Expire(r, tt.at)
			if ok != tt.ok || got.State != tt.after || r.State != tt.state {
				t.Fatalf("Expire = %s, %v (caller's %s)", got.State, ok, r.State)
			}
		})
	}
}

func TestExpireSession(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	deadline := now.Add(10 * time.Minute)
	for _, tt := range []struct {
		name  string
		state string
		at    time.Time
		ok    bool
		after string
	}{
		{"one nanosecond before", Active, deadline.Add(-1), false, Active},
		{"at the deadline", Active, deadline, true, Expired},
		{"after the deadline", Active, deadline.Add(time.Hour), true, Expired},
		{"consumed is not expired", Consumed, deadline.Add(time.Hour), false, Consumed},
		{"revoked is not expired", Revoked, deadline.Add(time.Hour), false, Revoked},
		{"already expired", Expired, deadline.Add(time.Hour), false, Expired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := Session{ID: "s1", Issued: now, Expires: deadline, State: tt.state}
			got, ok := ExpireSession(s, tt.at)
			if ok != tt.ok || got.State != tt.after || s.State != tt.state {
				t.Fatalf("ExpireSession = %s, %v (caller's %s)", got.State, ok, s.State)
			}
		})
	}
}

func TestOffered(t *testing.T) {
	approvers := []Approver{
		{ID: "anna", OSUser: "anna", Confirmed: true},
		{ID: "ben", Confirmed: true},                                                               // not mapped to an OS user
		{ID: "carl", OSUser: "carl"},                                                               // not confirmed
		{ID: "dora", Confirmed: true, Throttle: Throttle{Disabled: true}},                          // disabled
		{ID: "sam", OSUser: "staff", Confirmed: true},                                              // the requester
		{ID: "eve", Confirmed: true, Throttle: Throttle{LockedUntil: time.Unix(1_900_000_000, 0)}}, // locked out for now only
	}
	for _, tt := range []struct {
		name string
		may  func(account, approver string) bool
		as   []Approver
		want []string
	}{
		{"no policy limit", nil, approvers, []string{"anna", "ben", "eve"}},
		{"policy limits", func(acc, id string) bool { return acc == testAccount && id != "ben" }, approvers, []string{"anna", "eve"}},
		{"policy refuses all", func(string, string) bool { return false }, approvers, nil},
		{"no approvers", nil, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.MayApprove = tt.may
			if got := Offered(c, []string{testAccount}, "staff", tt.as); !slices.Equal(got, tt.want) {
				t.Errorf("Offered = %q, want %q", got, tt.want)
			}
		})
	}
	// Before the account is known: anyone authorised for one of the accounts in custody.
	perAccount := func(acc, id string) bool {
		return acc == "x:@agency" && id == "ben" || acc == testAccount && id == "anna"
	}
	c := DefaultConfig()
	c.MayApprove = perAccount
	if got := Offered(c, []string{testAccount, "x:@agency"}, "staff", approvers); !slices.Equal(got, []string{"anna", "ben"}) {
		t.Errorf("Offered over every account = %q, want anna and ben", got)
	}
	if got := Offered(c, nil, "staff", approvers); got != nil {
		t.Errorf("Offered with no account in custody = %q, want none", got)
	}
}

// TestValueSemantics: a function given a value never changes the caller's copy, also not
// through a slice's backing array.
func TestValueSemantics(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := DefaultConfig()

	// failures returns a failure record with spare capacity, its oldest entry outside the
	// window (so Fail drops it), and a snapshot of the whole backing array.
	failures := func(n int) (Throttle, []time.Time) {
		f := make([]time.Time, 0, 16)
		f = append(f, now.Add(-time.Hour))
		for i := 1; i < n; i++ {
			f = append(f, now.Add(-time.Duration(i)*time.Second))
		}
		th := Throttle{Failures: f, Consecutive: n}
		return th, slices.Clone(f[:cap(f)])
	}
	unchanged := func(t *testing.T, th Throttle, n int, backing []time.Time) {
		t.Helper()
		if th.Consecutive != n || len(th.Failures) != n || th.Lockouts != 0 || !th.LockedUntil.IsZero() || th.Disabled {
			t.Fatalf("the caller's record changed: %+v", th)
		}
		if !slices.EqualFunc(th.Failures[:cap(th.Failures)], backing, time.Time.Equal) {
			t.Fatalf("the caller's failure array changed:\n got %v\nwant %v", th.Failures[:cap(th.Failures)], backing)
		}
	}

	for _, tt := range []struct {
		name string
		n    int
	}{
		{"Throttle.Fail on a copy, no lock-out", 2},
		{"Throttle.Fail on a copy, lock-out", 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			orig, backing := failures(tt.n)
			cp := orig
			cp.Fail(c.Throttle, now)
			unchanged(t, orig, tt.n, backing)
			if cp.Consecutive != tt.n+1 {
				t.Fatalf("the copy did not count: %+v", cp)
			}
		})
	}
	t.Run("Throttle.Fail on a copy, disabling", func(t *testing.T) {
		orig, backing := failures(3)
		orig.Consecutive = c.Throttle.MaxConsecutive - 1
		cp := orig
		cp.Fail(c.Throttle, now)
		if !cp.Disabled || orig.Disabled || len(orig.Failures) != 3 ||
			!slices.EqualFunc(orig.Failures[:cap(orig.Failures)], backing, time.Time.Equal) {
			t.Fatalf("copy %+v, original %+v", cp, orig)
		}
	})
	t.Run("Throttle.Succeed and Unlock", func(t *testing.T) {
		orig, backing := failures(3)
		orig.LockedUntil = now.Add(time.Minute)
		orig.Lockouts = 1
		if s := orig.Succeed(); s.Consecutive != 0 || len(s.Failures) != 0 || s.Lockouts != 0 || !s.LockedUntil.IsZero() {
			t.Fatalf("Succeed = %+v", s)
		}
		u, _ := orig.Unlock()
		if !u.LockedUntil.IsZero() || u.Consecutive != 3 || u.Lockouts != 1 {
			t.Fatalf("Unlock = %+v", u)
		}
		if orig.Consecutive != 3 || orig.Lockouts != 1 || !orig.LockedUntil.Equal(now.Add(time.Minute)) ||
			!slices.EqualFunc(orig.Failures[:cap(orig.Failures)], backing, time.Time.Equal) {
			t.Fatalf("the caller's record changed: %+v", orig)
		}
	})
	for _, tt := range []struct {
		name string
		code func(t *testing.T) string
	}{
		{"CheckCode, wrong code", func(t *testing.T) string { return wrongCode(t, now) }},
		{"CheckCode, malformed code", func(*testing.T) string { return "x" }},
		{"CheckCode, replayed code", func(t *testing.T) string { return code(t, now.Add(-30*time.Second)) }},
		{"CheckCode, right code", func(t *testing.T) string { return code(t, now) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			th, backing := failures(4)
			a := Approver{ID: "anna", Confirmed: true, LastStep: Step(now) - 1, Throttle: th}
			got, _, _, err := CheckCode(c, a, rfcSecret, tt.code(t), now)
			if err != nil {
				t.Fatal(err)
			}
			if a.LastStep != Step(now)-1 {
				t.Fatalf("the caller's LastStep changed: %d", a.LastStep)
			}
			unchanged(t, a.Throttle, 4, backing)
			if got.Throttle.Consecutive == 4 {
				t.Fatalf("CheckCode did not change the returned record: %+v", got.Throttle)
			}
		})
	}
	t.Run("NewSession does not share the approvers", func(t *testing.T) {
		r := testRequest(now)
		r.State, r.ApprovedBy = Approved, append(make([]string, 0, 4), "anna")
		s, _ := NewSession(c, "s1", r, now)
		s.ApprovedBy[0] = "mallory"
		_ = append(s.ApprovedBy, "eve")
		if r.ApprovedBy[0] != "anna" || r.ApprovedBy[:2][1] != "" {
			t.Fatalf("the request's approvers changed through the session: %q", r.ApprovedBy[:2])
		}
	})
	t.Run("WithdrawApproval keeps the caller's order", func(t *testing.T) {
		r := testRequest(now)
		r.ApprovedBy = []string{"anna", "ben", "carl"}
		got, _ := WithdrawApproval(r, "anna")
		if !slices.Equal(r.ApprovedBy, []string{"anna", "ben", "carl"}) || !slices.Equal(got.ApprovedBy, []string{"ben", "carl"}) {
			t.Fatalf("caller %q, result %q", r.ApprovedBy, got.ApprovedBy)
		}
	})
	t.Run("RecordApproval twice from the same value", func(t *testing.T) {
		// Two approvals decided from the same stored request (one of them then undone) must not
		// see each other through a shared array.
		r := testRequest(now)
		r.ApprovedBy = append(make([]string, 0, 4), "anna")
		x, _ := RecordApproval(r, "ben", 3)
		y, _ := RecordApproval(r, "carl", 3)
		if !slices.Equal(x.ApprovedBy, []string{"anna", "ben"}) || !slices.Equal(y.ApprovedBy, []string{"anna", "carl"}) {
			t.Fatalf("x %q, y %q", x.ApprovedBy, y.ApprovedBy)
		}
	})
}
