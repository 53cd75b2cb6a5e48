package rules

import (
	"errors"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

// The RFC 6238 appendix B secret (ASCII "12345678901234567890") in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func code(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := CodeAt(rfcSecret, Step(at))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantCode(t *testing.T, err error, want api.Code) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if got := api.CodeOf(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func TestCodeAtRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA-1, truncated to the last six digits.
	for _, tt := range []struct {
		unix int64
		want string
	}{
		{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"},
		{1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
	} {
		got, err := CodeAt(rfcSecret, Step(time.Unix(tt.unix, 0)))
		if err != nil || got != tt.want {
			t.Errorf("CodeAt(%d) = %q, %v; want %q", tt.unix, got, err, tt.want)
		}
	}
}

func TestCheckCodeWindow(t *testing.T) {
	// A step starts at a multiple of 30 s.
	stepStart := time.Unix(1_800_000_000-1_800_000_000%30, 0).UTC()
	for _, tt := range []struct {
		name   string
		codeAt time.Time // when the phone computed the code
		now    time.Time // when the daemon checks it
		skew   int
		want   api.Code
	}{
		{"same step, first second", stepStart, stepStart, 1, ""},
		{"same step, last second", stepStart, stepStart.Add(29 * time.Second), 1, ""},
		{"previous step within skew", stepStart.Add(-time.Second), stepStart, 1, ""},
		{"next step within skew (phone clock fast)", stepStart.Add(30 * time.Second), stepStart.Add(29 * time.Second), 1, ""},
		{"two steps old, outside skew", stepStart.Add(-31 * time.Second), stepStart, 1, api.CodeBadCode},
		{"two steps ahead, outside skew", stepStart.Add(60 * time.Second), stepStart, 1, api.CodeBadCode},
		{"previous step, skew 0", stepStart.Add(-time.Second), stepStart, 0, api.CodeBadCode},
		{"skew 2 takes two steps old", stepStart.Add(-31 * time.Second), stepStart, 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Skew = tt.skew
			a := &Approver{ID: "anna", Confirmed: true}
			_, err := CheckCode(c, a, rfcSecret, code(t, tt.codeAt), tt.now)
			wantCode(t, err, tt.want)
			if tt.want == "" && a.LastStep != Step(tt.codeAt) {
				t.Errorf("LastStep = %d, want the matched step %d", a.LastStep, Step(tt.codeAt))
			}
		})
	}
}

func TestCheckCodeMalformed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []string{"", "12345", "1234567", "12 456", "abcdef", "１２３４５６"} {
		t.Run(c, func(t *testing.T) {
			a := &Approver{ID: "anna", Confirmed: true}
			out, err := CheckCode(DefaultConfig(), a, rfcSecret, c, now)
			wantCode(t, err, api.CodeBadCode)
			if !out.Failed || a.Throttle.Consecutive != 1 {
				t.Errorf("a malformed code must count as a failure: out=%+v throttle=%+v", out, a.Throttle)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := DefaultConfig()
	tests := []struct {
		name     string
		lastStep uint64
		codeAt   time.Time
		want     api.Code
	}{
		{"fresh code after an older accepted one", Step(now) - 1, now, ""},
		{"same code again", Step(now), now, api.CodeReplayed},
		{"older code still inside the skew window", Step(now), now.Add(-30 * time.Second), api.CodeReplayed},
		{"enrolment confirmation step counts too", Step(now), now, api.CodeReplayed},
		{"newer step than the last accepted", Step(now) - 1, now.Add(30 * time.Second), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Approver{ID: "anna", Confirmed: true, LastStep: tt.lastStep}
			out, err := CheckCode(c, a, rfcSecret, code(t, tt.codeAt), now)
			wantCode(t, err, tt.want)
			if tt.want == api.CodeReplayed && (!out.Replayed || !out.Failed) {
				t.Errorf("a replay must be reported as one and count as a failure: %+v", out)
			}
			if tt.want == api.CodeReplayed && a.LastStep != tt.lastStep {
				t.Errorf("a replay must not move LastStep")
			}
		})
	}

	t.Run("accepted code is refused the second time", func(t *testing.T) {
		a := &Approver{ID: "anna", Confirmed: true}
		cd := code(t, now)
		if _, err := CheckCode(c, a, rfcSecret, cd, now); err != nil {
			t.Fatal(err)
		}
		_, err := CheckCode(c, a, rfcSecret, cd, now.Add(10*time.Second))
		wantCode(t, err, api.CodeReplayed)
	})
}

func TestThrottle(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	c := DefaultConfig()
	fail := func(a *Approver, at time.Time) (CodeOutcome, error) {
		return CheckCode(c, a, rfcSecret, "000000", at) // not the code at that time for this secret
	}
	if code(t, start) == "000000" {
		t.Skip("improbable: the code is 000000")
	}

	t.Run("4th failure does not lock, 5th does", func(t *testing.T) {
		a := &Approver{ID: "anna", Confirmed: true}
		for i := 1; i <= 4; i++ {
			out, err := fail(a, start.Add(time.Duration(i)*time.Second))
			wantCode(t, err, api.CodeBadCode)
			if out.LockedOut {
				t.Fatalf("failure %d locked out", i)
			}
		}
		out, err := fail(a, start.Add(5*time.Second))
		wantCode(t, err, api.CodeBadCode)
		if !out.LockedOut {
			t.Fatal("5th failure must start a lock-out")
		}
		// The 6th attempt, even with the right code, is not checked.
		at := start.Add(6 * time.Second)
		_, err = CheckCode(c, a, rfcSecret, code(t, at), at)
		wantCode(t, err, api.CodeThrottled)
		var e *api.Error
		if !errors.As(err, &e) || e.Until == nil || !e.Until.Equal(start.Add(5*time.Second+time.Minute)) {
			t.Fatalf("throttled error must say until when: %+v", e)
		}
		// One second before the end still throttled; at the end the right code works.
		at = start.Add(5*time.Second + time.Minute - time.Second)
		_, err = CheckCode(c, a, rfcSecret, code(t, at), at)
		wantCode(t, err, api.CodeThrottled)
		at = start.Add(5*time.Second + time.Minute)
		_, err = CheckCode(c, a, rfcSecret, code(t, at), at)
		wantCode(t, err, "")
		if a.Throttle.Consecutive != 0 || a.Throttle.Lockouts != 0 {
			t.Errorf("success must reset the throttle: %+v", a.Throttle)
		}
	})

	t.Run("failures outside the window do not add up", func(t *testing.T) {
		a := &Approver{ID: "anna", Confirmed: true}
		for i := 0; i < 4; i++ {
			fail(a, start.Add(time.Duration(i)*time.Second))
		}
		out, _ := fail(a, start.Add(15*time.Minute))
		if out.LockedOut {
			t.Fatal("the first failure is 15 minutes old and must have left the window")
		}
		out, _ = fail(a, start.Add(15*time.Minute+time.Second))
		if out.LockedOut {
			t.Fatal("only 4 failures in the window")
		}
	})

	t.Run("back-off grows and is capped", func(t *testing.T) {
		a := &Approver{ID: "anna", Confirmed: true}
		now := start
		want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
			16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
		for i, w := range want {
			for j := 0; j < 5; j++ {
				now = now.Add(time.Second)
				if _, err := fail(a, now); err != nil && api.CodeOf(err) != api.CodeBadCode {
					t.Fatalf("lock-out %d, failure %d: %v", i+1, j+1, err)
				}
			}
			if got := a.Throttle.LockedUntil.Sub(now); got != w {
				t.Fatalf("lock-out %d lasts %v, want %v", i+1, got, w)
			}
			now = a.Throttle.LockedUntil
		}
	})

	t.Run("never more than 100 consecutive failures", func(t *testing.T) {
		a := &Approver{ID: "anna", Confirmed: true}
		now := start
		n := 0
		for !a.Throttle.Disabled && n < 1000 {
			if err := a.Throttle.Check(now); err != nil {
				now = a.Throttle.LockedUntil
				continue
			}
			fail(a, now)
			n++
		}
		if n != 100 {
			t.Fatalf("disabled after %d failures, want 100", n)
		}
		at := now.Add(48 * time.Hour)
		_, err := CheckCode(c, a, rfcSecret, code(t, at), at)
		wantCode(t, err, api.CodeThrottled)
	})
}

func testRequest(now time.Time) *api.Request {
	return &api.Request{ID: "r1", Account: "x:@ministry", Action: api.ActionPost, Text: "Hallo",
		Digest: "d", Requester: "staff", Created: now, Expires: now.Add(10 * time.Minute),
		State: api.RequestPending, ApprovalsNeeded: 1}
}

func TestCanApprove(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	anna := func() *Approver { return &Approver{ID: "anna", OSUser: "anna", Confirmed: true} }
	tests := []struct {
		name   string
		cfg    func(*Config)
		req    func(*api.Request)
		appr   func(*Approver)
		at     time.Time
		want   api.Code
		needed int
	}{
		{name: "ok", at: now, needed: 1},
		{name: "self-approval", appr: func(a *Approver) { a.OSUser = "staff" }, at: now, want: api.CodeSelfApproval},
		{name: "unmapped approver is not the requester", appr: func(a *Approver) { a.OSUser = "" }, at: now, needed: 1},
		{name: "not confirmed", appr: func(a *Approver) { a.Confirmed = false }, at: now, want: api.CodeNotConfirmed},
		{name: "not authorised", cfg: func(c *Config) {
			c.MayApprove = func(acc, id string) bool { return id == "ben" }
		}, at: now, want: api.CodeNotAuthorised},
		{name: "last nanosecond of the request TTL", at: now.Add(10*time.Minute - 1), needed: 1},
		{name: "request TTL reached", at: now.Add(10 * time.Minute), want: api.CodeExpired},
		{name: "denied", req: func(r *api.Request) { r.State = api.RequestDenied }, at: now, want: api.CodeDenied},
		{name: "already approved", req: func(r *api.Request) { r.State = api.RequestApproved }, at: now, want: api.CodeAlreadyUsed},
		{name: "revoked by lock", req: func(r *api.Request) { r.State = api.RequestRevoked }, at: now, want: api.CodeLocked},
		{name: "same approver twice", req: func(r *api.Request) { r.ApprovedBy = []string{"anna"}; r.ApprovalsNeeded = 2 }, at: now, want: api.CodeSelfApproval},
		{name: "outside hours, refuse", cfg: func(c *Config) {
			c.Within = func(time.Time) bool { return false }
			c.OutsideRefuse = true
		}, at: now, want: api.CodeOutsideHours},
		{name: "outside hours, two approvers", cfg: func(c *Config) {
			c.Within = func(time.Time) bool { return false }
		}, at: now, needed: 2},
		{name: "inside hours", cfg: func(c *Config) {
			c.Within = func(time.Time) bool { return true }
			c.OutsideRefuse = true
		}, at: now, needed: 1},
		{name: "second approver keeps the two-approver need after hours start", req: func(r *api.Request) {
			r.ApprovedBy = []string{"ben"}
			r.ApprovalsNeeded = 2
		}, at: now, needed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			r := testRequest(now)
			if tt.req != nil {
				tt.req(r)
			}
			a := anna()
			if tt.appr != nil {
				tt.appr(a)
			}
			needed, err := CanApprove(c, r, a, tt.at)
			wantCode(t, err, tt.want)
			if err == nil && needed != tt.needed {
				t.Errorf("needed = %d, want %d", needed, tt.needed)
			}
		})
	}
}

func TestPostingHoursBerlinDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	// Working hours 07:00-20:00 local, as the rules see them through Config.Within.
	within := func(t time.Time) bool {
		l := t.In(berlin)
		m := l.Hour()*60 + l.Minute()
		return m >= 7*60 && m < 20*60
	}
	c := DefaultConfig()
	c.Within, c.OutsideRefuse = within, true
	for _, tt := range []struct {
		name string
		at   time.Time
		want api.Code
	}{
		{"spring-forward day 06:59:59 CEST", time.Date(2026, 3, 29, 6, 59, 59, 0, berlin), api.CodeOutsideHours},
		{"spring-forward day 07:00:00 CEST", time.Date(2026, 3, 29, 7, 0, 0, 0, berlin), ""},
		{"spring-forward day 19:59:59", time.Date(2026, 3, 29, 19, 59, 59, 0, berlin), ""},
		{"spring-forward day 20:00:00", time.Date(2026, 3, 29, 20, 0, 0, 0, berlin), api.CodeOutsideHours},
		{"fall-back day 06:59:59 CET", time.Date(2026, 10, 25, 6, 59, 59, 0, berlin), api.CodeOutsideHours},
		{"fall-back day 07:00:00 CET (06:00 UTC)", time.Date(2026, 10, 25, 6, 0, 0, 0, time.UTC), ""},
		{"fall-back day 20:00:00 CET (19:00 UTC)", time.Date(2026, 10, 25, 19, 0, 0, 0, time.UTC), api.CodeOutsideHours},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testRequest(tt.at)
			_, err := CanApprove(c, r, &Approver{ID: "anna", Confirmed: true}, tt.at)
			wantCode(t, err, tt.want)
		})
	}
}

func TestRecordApprovalTwoApprovers(t *testing.T) {
	now := time.Now()
	r := testRequest(now)
	if RecordApproval(r, "anna", 2) {
		t.Fatal("one of two approvals must not complete the request")
	}
	if r.State != api.RequestPending {
		t.Fatalf("state %s", r.State)
	}
	if !RecordApproval(r, "ben", 2) || r.State != api.RequestApproved {
		t.Fatal("the second approval must complete the request")
	}
	s := NewSession(DefaultConfig(), "s1", r, now)
	if s.Digest != r.Digest || s.Account != r.Account || s.Action != r.Action || len(s.ApprovedBy) != 2 {
		t.Fatalf("session not bound to the request: %+v", s)
	}
	if !s.Expires.Equal(now.Add(10 * time.Minute)) {
		t.Fatalf("session TTL: %v", s.Expires.Sub(now))
	}
}

func TestNewRequest(t *testing.T) {
	now := time.Now()
	c := DefaultConfig()
	for _, tt := range []struct {
		name   string
		r      api.NewRequest
		digest string
		open   int
		want   api.Code
	}{
		{"ok", api.NewRequest{Account: "x:@m", Action: "post", Text: "hi"}, "d", 0, ""},
		{"unknown action", api.NewRequest{Account: "x:@m", Action: "delete", Text: "hi"}, "d", 0, api.CodeBadRequest},
		{"no account", api.NewRequest{Action: "post", Text: "hi"}, "d", 0, api.CodeBadRequest},
		{"empty text", api.NewRequest{Account: "x:@m", Action: "post", Text: ""}, "", 0, api.CodeBadRequest},
		{"repost without the reposted post's address", api.NewRequest{Account: "x:@m", Action: "repost"}, "d", 0, api.CodeBadRequest},
		{"repost naming the post", api.NewRequest{Account: "x:@m", Action: "repost", Text: "https://x.com/a/status/1"}, "d", 0, ""},
		{"only white space", api.NewRequest{Account: "x:@m", Action: "post", Text: " \n\t"}, "d", 0, api.CodeBadRequest},
		{"digest disagrees", api.NewRequest{Account: "x:@m", Action: "post", Text: "hi", Digest: "other"}, "d", 0, api.CodeDigestMismatch},
		{"fifth open request is fine", api.NewRequest{Account: "x:@m", Action: "post", Text: "hi"}, "d", 4, ""},
		{"sixth open request is refused", api.NewRequest{Account: "x:@m", Action: "post", Text: "hi"}, "d", 5, api.CodeTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRequest(c, "r1", "staff", tt.r, tt.digest, tt.open, now)
			wantCode(t, err, tt.want)
			if err == nil && (r.State != api.RequestPending || !r.Expires.Equal(now.Add(c.RequestTTL))) {
				t.Fatalf("bad request: %+v", r)
			}
		})
	}
}

func TestConsume(t *testing.T) {
	now := time.Now()
	mk := func() *api.Session {
		r := testRequest(now)
		r.State = api.RequestApproved
		r.ApprovedBy = []string{"anna"}
		s := NewSession(DefaultConfig(), "s1", r, now)
		return &s
	}
	ok := api.Use{SessionID: "s1", Account: "x:@ministry", Action: api.ActionPost, Digest: "d"}
	with := func(f func(*api.Use)) api.Use { u := ok; f(&u); return u }
	for _, tt := range []struct {
		name  string
		prep  func(*api.Session)
		use   api.Use
		at    time.Time
		want  api.Code
		state string
	}{
		{"ok", nil, ok, now, "", api.SessionConsumed},
		{"last nanosecond of TTL", nil, ok, now.Add(10*time.Minute - 1), "", api.SessionConsumed},
		{"TTL reached", nil, ok, now.Add(10 * time.Minute), api.CodeExpired, api.SessionExpired},
		{"edited text", nil, with(func(u *api.Use) { u.Digest = "other" }), now, api.CodeDigestMismatch, api.SessionActive},
		{"second use", func(s *api.Session) { s.State = api.SessionConsumed }, ok, now, api.CodeAlreadyUsed, api.SessionConsumed},
		{"locked", func(s *api.Session) { Revoke(s) }, ok, now, api.CodeLocked, api.SessionRevoked},
		{"other account", nil, with(func(u *api.Use) { u.Account = "x:@other" }), now, api.CodeScopeMismatch, api.SessionActive},
		{"other action", nil, with(func(u *api.Use) { u.Action = api.ActionReply }), now, api.CodeScopeMismatch, api.SessionActive},
		{"no account named", nil, with(func(u *api.Use) { u.Account = "" }), now, api.CodeScopeMismatch, api.SessionActive},
		{"no digest", nil, with(func(u *api.Use) { u.Digest = "" }), now, api.CodeDigestMismatch, api.SessionActive},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := mk()
			if tt.prep != nil {
				tt.prep(s)
			}
			wantCode(t, Consume(s, tt.use, tt.at), tt.want)
			if s.State != tt.state {
				t.Errorf("state = %s, want %s", s.State, tt.state)
			}
		})
	}
}

func TestCancelAndDeny(t *testing.T) {
	now := time.Now()
	r := testRequest(now)
	wantCode(t, CanCancel(r, "mallory", now), api.CodeNotPermitted)
	wantCode(t, CanCancel(r, "staff", now), "")
	wantCode(t, CanDeny(DefaultConfig(), r, &Approver{ID: "anna"}, now), api.CodeNotConfirmed)
	wantCode(t, CanDeny(DefaultConfig(), r, &Approver{ID: "anna", Confirmed: true}, now), "")
	if !RevokeRequest(r) || RevokeRequest(r) {
		t.Fatal("a pending request is revoked exactly once")
	}
}

func TestThrottleUnlock(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := DefaultThrottle
	var th Throttle
	for i := 0; i < c.MaxFailures; i++ {
		th.Fail(c, now)
	}
	if th.Check(now) == nil {
		t.Fatal("five failures must lock out")
	}
	if err := th.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := th.Check(now); err != nil {
		t.Fatalf("unlocked approver still throttled: %v", err)
	}
	if th.Consecutive != c.MaxFailures || th.Lockouts != 1 {
		t.Fatalf("unlock must keep the failure counts: %+v", th)
	}
	// The next lock-out is the doubled one: unlocking does not reset the back-off.
	for i := 0; i < c.MaxFailures; i++ {
		th.Fail(c, now)
	}
	if got := th.LockedUntil.Sub(now); got != 2*c.Lockout {
		t.Fatalf("second lock-out lasts %v, want %v", got, 2*c.Lockout)
	}
	// Unlocking never gives more than MaxConsecutive guesses in all.
	for th.Unlock() == nil && !th.Disabled {
		th.Fail(c, now)
	}
	if th.Consecutive != c.MaxConsecutive || !th.Disabled {
		t.Fatalf("after unlocks: %+v", th)
	}
	wantCode(t, th.Unlock(), api.CodeNotPermitted)
	wantCode(t, th.Check(now), api.CodeThrottled)
}
