package rules

import (
	"fmt"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the posting-hours test needs Europe/Berlin on every machine, never a skip

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

// wrongCode returns a well-formed code that no step in at's window (skew 2 each way) has, so a
// failure test never depends on luck.
func wrongCode(t *testing.T, at time.Time) string {
	t.Helper()
	var window []string
	for d := -2; d <= 2; d++ {
		window = append(window, code(t, at.Add(time.Duration(d)*StepSeconds*time.Second)))
	}
	for i := 0; i < 1_000_000; i++ {
		c := fmt.Sprintf("%06d", i)
		if !slices.Contains(window, c) {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func refusalString(ref *Refusal) string {
	if ref == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s %+v", ref.Error(), ref.Facts)
}

// wantCode compares a refusal's code (a nil refusal is "") with want.
func wantCode(t *testing.T, ref *Refusal, want api.Code) {
	t.Helper()
	var got api.Code
	if ref != nil {
		got = ref.Code
	}
	if got != want {
		t.Fatalf("refusal code = %q (%s), want %q", got, refusalString(ref), want)
	}
}

// wantRefusal compares a refusal's code and reason (a nil refusal is "", "").
func wantRefusal(t *testing.T, ref *Refusal, code api.Code, reason string) {
	t.Helper()
	wantCode(t, ref, code)
	if ref != nil && ref.Reason != reason {
		t.Fatalf("refusal reason = %q (%s), want %q", ref.Reason, refusalString(ref), reason)
	}
}

// wantDecision compares all of a decision: the event, its severity, the refusal's code and
// reason.
func wantDecision(t *testing.T, d Decision, event string, sev Severity, code api.Code, reason string) {
	t.Helper()
	if d.Event != event || d.Severity != sev {
		t.Fatalf("decision event = %q/%q, want %q/%q (refusal %s)", d.Event, d.Severity, event, sev, refusalString(d.Refusal))
	}
	wantRefusal(t, d.Refusal, code, reason)
	if d.Allowed() != (code == "") {
		t.Fatalf("Allowed() = %v with refusal %s", d.Allowed(), refusalString(d.Refusal))
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
		t.Run(fmt.Sprint(tt.unix), func(t *testing.T) {
			got, err := CodeAt(rfcSecret, Step(time.Unix(tt.unix, 0)))
			if err != nil || got != tt.want {
				t.Errorf("CodeAt(%d) = %q, %v; want %q", tt.unix, got, err, tt.want)
			}
		})
	}
}

func TestStep(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   time.Time
		want uint64
	}{
		{"epoch", time.Unix(0, 0), 0},
		{"29 s", time.Unix(29, 999_999_999), 0},
		{"30 s", time.Unix(30, 0), 1},
		{"before the epoch", time.Unix(-100, 0), 0},
		{"RFC vector", time.Unix(1111111109, 0), 37037036},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Step(tt.at); got != tt.want {
				t.Errorf("Step = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestWellFormedCode(t *testing.T) {
	for _, tt := range []struct {
		code string
		want bool
	}{
		{"000000", true}, {"123456", true}, {"", false}, {"12345", false}, {"1234567", false},
		{"12 456", false}, {"abcdef", false}, {"12345a", false}, {"１２３４５６", false}, {"-12345", false},
	} {
		t.Run(tt.code, func(t *testing.T) {
			if got := WellFormedCode(tt.code); got != tt.want {
				t.Errorf("WellFormedCode(%q) = %v", tt.code, got)
			}
		})
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
		{"next step, skew 0", stepStart.Add(30 * time.Second), stepStart, 0, api.CodeBadCode},
		{"skew 2 takes two steps old", stepStart.Add(-31 * time.Second), stepStart, 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Skew = tt.skew
			a := Approver{ID: "anna", Confirmed: true}
			got, out, ref, err := CheckCode(c, a, rfcSecret, code(t, tt.codeAt), tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				wantRefusal(t, ref, "", "")
				if got.LastStep != Step(tt.codeAt) || out.Step != Step(tt.codeAt) {
					t.Errorf("LastStep = %d, out.Step = %d, want the matched step %d", got.LastStep, out.Step, Step(tt.codeAt))
				}
				if out.Failed || len(out.Decisions()) != 0 {
					t.Errorf("an accepted code has no failure and no event: %+v", out)
				}
				return
			}
			wantRefusal(t, ref, tt.want, "wrong")
			if ref.Facts.Approver != "anna" {
				t.Errorf("facts: %+v", ref.Facts)
			}
			if !out.Failed || got.Throttle.Consecutive != 1 || got.LastStep != 0 {
				t.Errorf("a wrong code counts as a failure and moves nothing else: out=%+v got=%+v", out, got)
			}
		})
	}
}

func TestCheckCodeMalformed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []string{"", "12345", "1234567", "12 456", "abcdef", "１２３４５６", " " + code(t, now)} {
		t.Run(c, func(t *testing.T) {
			a := Approver{ID: "anna", Confirmed: true}
			got, out, ref, err := CheckCode(DefaultConfig(), a, rfcSecret, c, now)
			if err != nil {
				t.Fatal(err)
			}
			wantRefusal(t, ref, api.CodeBadCode, "malformed")
			if !out.Failed || out.Replayed || got.Throttle.Consecutive != 1 || len(got.Throttle.Failures) != 1 {
				t.Errorf("a malformed code must count as a failure: out=%+v throttle=%+v", out, got.Throttle)
			}
			if a.Throttle.Consecutive != 0 {
				t.Errorf("the caller's approver changed: %+v", a.Throttle)
			}
		})
	}
}

func TestCheckCodeBadSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := Approver{ID: "anna", Confirmed: true, LastStep: 7}
	got, out, ref, err := CheckCode(DefaultConfig(), a, "not base32!", "123456", now)
	if err == nil || ref != nil {
		t.Fatalf("a secret that cannot compute codes is an error, not a refusal: ref=%s err=%v", refusalString(ref), err)
	}
	if out != (CodeOutcome{}) || got.LastStep != 7 || got.Throttle.Consecutive != 0 {
		t.Fatalf("an error must leave the record alone: out=%+v got=%+v", out, got)
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
		{"code of a step before the accepted one (accepted code was the next step)", Step(now) + 1, now, api.CodeReplayed},
		{"enrolment confirmation step counts too", Step(now), now, api.CodeReplayed},
		{"newer step than the last accepted", Step(now) - 1, now.Add(30 * time.Second), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Approver{ID: "anna", Confirmed: true, LastStep: tt.lastStep}
			got, out, ref, err := CheckCode(c, a, rfcSecret, code(t, tt.codeAt), now)
			if err != nil {
				t.Fatal(err)
			}
			wantRefusal(t, ref, tt.want, "")
			if tt.want == "" {
				if got.LastStep != Step(tt.codeAt) {
					t.Errorf("LastStep = %d, want %d", got.LastStep, Step(tt.codeAt))
				}
				return
			}
			if !out.Replayed || !out.Failed {
				t.Errorf("a replay must be reported as one and count as a failure: %+v", out)
			}
			if got.LastStep != tt.lastStep || got.Throttle.Consecutive != 1 {
				t.Errorf("a replay must not move LastStep and must count: %+v", got)
			}
			// The app shows a fresh code at the next step: the refusal says when.
			if next := time.Unix(int64(Step(now)+1)*StepSeconds, 0); !ref.Facts.At.Equal(next) || ref.Facts.Approver != "anna" {
				t.Errorf("facts = %+v, want At %v", ref.Facts, next)
			}
		})
	}

	t.Run("accepted code is refused the second time", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true}
		cd := code(t, now)
		a, _, ref, err := CheckCode(c, a, rfcSecret, cd, now)
		if err != nil || ref != nil {
			t.Fatal(ref, err)
		}
		_, out, ref, _ := CheckCode(c, a, rfcSecret, cd, now.Add(10*time.Second))
		wantRefusal(t, ref, api.CodeReplayed, "")
		if !out.Replayed {
			t.Fatalf("outcome: %+v", out)
		}
	})

	t.Run("after the next step's code the current one is a replay", func(t *testing.T) {
		// The phone runs fast: its code for the next step is accepted now. The code of the
		// current step was never used, but it lies at or before the accepted step (RFC 6238 5.2).
		a := Approver{ID: "anna", Confirmed: true}
		a, _, ref, err := CheckCode(c, a, rfcSecret, code(t, now.Add(30*time.Second)), now)
		if err != nil || ref != nil {
			t.Fatal(ref, err)
		}
		_, _, ref, _ = CheckCode(c, a, rfcSecret, code(t, now), now.Add(time.Second))
		wantRefusal(t, ref, api.CodeReplayed, "")
	})
}

func TestThrottle(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	c := DefaultConfig()
	fail := func(t *testing.T, a Approver, at time.Time) (Approver, CodeOutcome) {
		t.Helper()
		a, out, ref, err := CheckCode(c, a, rfcSecret, wrongCode(t, at), at)
		if err != nil {
			t.Fatal(err)
		}
		wantRefusal(t, ref, api.CodeBadCode, "wrong")
		return a, out
	}

	t.Run("4th failure does not lock, 5th does", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true}
		var out CodeOutcome
		for i := 1; i <= 4; i++ {
			a, out = fail(t, a, start.Add(time.Duration(i)*time.Second))
			if out.LockedOut {
				t.Fatalf("failure %d locked out", i)
			}
		}
		a, out = fail(t, a, start.Add(5*time.Second))
		if !out.LockedOut {
			t.Fatal("5th failure must start a lock-out")
		}
		end := start.Add(5*time.Second + time.Minute)
		// The 6th attempt, even with the right code, is not checked and not counted.
		at := start.Add(6 * time.Second)
		got, out, ref, _ := CheckCode(c, a, rfcSecret, code(t, at), at)
		wantRefusal(t, ref, api.CodeThrottled, "locked_out")
		if !ref.Facts.At.Equal(end) || ref.Facts.Approver != "anna" {
			t.Fatalf("throttled refusal must say until when and whom: %+v", ref.Facts)
		}
		if out != (CodeOutcome{}) || got.Throttle.Consecutive != 5 {
			t.Fatalf("a throttled attempt changes nothing: out=%+v throttle=%+v", out, got.Throttle)
		}
		// One second before the end still throttled; at the end the right code works.
		at = end.Add(-time.Second)
		_, _, ref, _ = CheckCode(c, a, rfcSecret, code(t, at), at)
		wantCode(t, ref, api.CodeThrottled)
		a, _, ref, _ = CheckCode(c, a, rfcSecret, code(t, end), end)
		wantCode(t, ref, "")
		if a.Throttle.Consecutive != 0 || a.Throttle.Lockouts != 0 || len(a.Throttle.Failures) != 0 {
			t.Errorf("success must reset the throttle: %+v", a.Throttle)
		}
	})

	t.Run("failures outside the window do not add up", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true}
		var out CodeOutcome
		for i := 0; i < 4; i++ {
			a, _ = fail(t, a, start.Add(time.Duration(i)*time.Second))
		}
		a, out = fail(t, a, start.Add(15*time.Minute))
		if out.LockedOut {
			t.Fatal("the first failure is 15 minutes old and must have left the window")
		}
		_, out = fail(t, a, start.Add(15*time.Minute+time.Second))
		if out.LockedOut {
			t.Fatal("only 4 failures in the window")
		}
	})

	t.Run("five failures inside the window lock even if spread out", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true}
		var out CodeOutcome
		for i := 0; i < 5; i++ {
			a, out = fail(t, a, start.Add(time.Duration(i)*(15*time.Minute-time.Second)/4))
		}
		if !out.LockedOut {
			t.Fatal("5 failures within 15 minutes must lock out")
		}
	})

	t.Run("back-off grows and is capped", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true}
		now := start
		want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
			16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
		for i, w := range want {
			for j := 0; j < 5; j++ {
				now = now.Add(time.Second)
				a, _ = fail(t, a, now)
			}
			if got := a.Throttle.LockedUntil.Sub(now); got != w {
				t.Fatalf("lock-out %d lasts %v, want %v", i+1, got, w)
			}
			if a.Throttle.Lockouts != i+1 {
				t.Fatalf("lock-outs = %d, want %d", a.Throttle.Lockouts, i+1)
			}
			now = a.Throttle.LockedUntil
		}
	})

	t.Run("never more than 100 consecutive failures", func(t *testing.T) {
		a := Approver{ID: "anna", Confirmed: true}
		now := start
		n := 0
		var out CodeOutcome
		for !a.Throttle.Disabled && n < 1000 {
			if ref := a.Throttle.Check(now); ref != nil {
				now = a.Throttle.LockedUntil
				continue
			}
			a, out = fail(t, a, now)
			n++
		}
		if n != 100 {
			t.Fatalf("disabled after %d failures, want 100", n)
		}
		if !out.LockedOut {
			t.Fatal("the disabling failure must be reported as an alarm")
		}
		at := now.Add(48 * time.Hour)
		got, _, ref, _ := CheckCode(c, a, rfcSecret, code(t, at), at)
		wantRefusal(t, ref, api.CodeThrottled, "disabled")
		if got.LastStep != 0 {
			t.Fatal("a disabled approver's right code must not be accepted")
		}
	})
}

func TestThrottleUnlock(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := DefaultThrottle
	var th Throttle
	for i := 0; i < c.MaxFailures; i++ {
		th.Fail(c, now)
	}
	wantRefusal(t, th.Check(now), api.CodeThrottled, "locked_out")
	th, d := th.Unlock()
	wantDecision(t, d, "approver_unlocked", High, "", "")
	wantCode(t, th.Check(now), "")
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
	for i := 0; !th.Disabled && i < 1000; i++ {
		th, d = th.Unlock()
		wantCode(t, d.Refusal, "")
		th.Fail(c, now)
	}
	if th.Consecutive != c.MaxConsecutive || !th.Disabled {
		t.Fatalf("after unlocks: %+v", th)
	}
	after, d := th.Unlock()
	wantDecision(t, d, "", "", api.CodeNotPermitted, "disabled")
	if !after.Disabled {
		t.Fatal("a refused unlock must leave the approver disabled")
	}
	wantRefusal(t, after.Check(now.Add(1000*time.Hour)), api.CodeThrottled, "disabled")
}

const (
	testAccount = "x:@ministry"
	testDigest  = "d"
	// testManifest stands for a manifest digest: the rules compare it, the manifest package
	// computes it.
	testManifest = "m"
)

func testRequest(now time.Time) Request {
	return Request{ID: "r1", Account: testAccount, Action: api.ActionPost, Text: "Hallo",
		Digest: testDigest, ManifestDigest: testManifest, Requester: "staff", Created: now, Expires: now.Add(10 * time.Minute),
		State: Pending, ApprovalsNeeded: 1}
}

func TestCanApprove(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	refusedBy := func(c api.Code) (string, Severity, api.Code) { return "", "", c }
	alarmed := func(c api.Code) (string, Severity, api.Code) { return "approval_refused", High, c }
	ok := func() (string, Severity, api.Code) { return "approval", Info, "" }
	type outcome = func() (string, Severity, api.Code)
	tests := []struct {
		name   string
		cfg    func(*Config)
		req    func(*Request)
		appr   func(*Approver)
		at     time.Time
		want   outcome
		reason string
		needed int
	}{
		{name: "ok", at: now, want: ok, needed: 1},
		{name: "self-approval", appr: func(a *Approver) { a.OSUser = "staff" }, at: now,
			want: func() (string, Severity, api.Code) { return alarmed(api.CodeSelfApproval) }},
		{name: "unmapped approver is not the requester", appr: func(a *Approver) { a.OSUser = "" }, at: now, want: ok, needed: 1},
		{name: "not confirmed", appr: func(a *Approver) { a.Confirmed = false }, at: now,
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeNotConfirmed) }},
		{name: "not authorised", cfg: func(c *Config) {
			c.MayApprove = func(acc, id string) bool { return id == "ben" }
		}, at: now, want: func() (string, Severity, api.Code) { return alarmed(api.CodeNotAuthorised) }},
		{name: "authorised for this account", cfg: func(c *Config) {
			c.MayApprove = func(acc, id string) bool { return acc == testAccount && id == "anna" }
		}, at: now, want: ok, needed: 1},
		{name: "last nanosecond of the request TTL", at: now.Add(10*time.Minute - 1), want: ok, needed: 1},
		{name: "request TTL reached", at: now.Add(10 * time.Minute), reason: "request",
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeExpired) }},
		{name: "already expired", req: func(r *Request) { r.State = Expired }, at: now, reason: "request",
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeExpired) }},
		{name: "denied", req: func(r *Request) { r.State = Denied }, at: now,
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeDenied) }},
		{name: "already approved", req: func(r *Request) { r.State = Approved }, at: now, reason: "request_decided",
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeAlreadyUsed) }},
		{name: "cancelled", req: func(r *Request) { r.State = Cancelled }, at: now, reason: "request_decided",
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeAlreadyUsed) }},
		{name: "revoked by lock", req: func(r *Request) { r.State = Revoked }, at: now, reason: "request",
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeLocked) }},
		{name: "same approver twice", req: func(r *Request) { r.ApprovedBy = []string{"anna"}; r.ApprovalsNeeded = 2 }, at: now,
			want: func() (string, Severity, api.Code) { return refusedBy(api.CodeAlreadyApproved) }},
		{name: "outside hours, refuse", cfg: func(c *Config) {
			c.Within = func(time.Time) bool { return false }
			c.OutsideRefuse = true
		}, at: now, want: func() (string, Severity, api.Code) { return alarmed(api.CodeOutsideHours) }},
		{name: "not authorised outside hours is refused as not authorised", cfg: func(c *Config) {
			c.Within = func(time.Time) bool { return false }
			c.OutsideRefuse = true
			c.MayApprove = func(string, string) bool { return false }
		}, at: now, want: func() (string, Severity, api.Code) { return alarmed(api.CodeNotAuthorised) }},
		{name: "outside hours, two approvers", cfg: func(c *Config) {
			c.Within = func(time.Time) bool { return false }
		}, at: now, want: ok, needed: 2},
		{name: "inside hours", cfg: func(c *Config) {
			c.Within = func(time.Time) bool { return true }
			c.OutsideRefuse = true
		}, at: now, want: ok, needed: 1},
		{name: "second approver keeps the two-approver need after hours start", req: func(r *Request) {
			r.ApprovedBy = []string{"ben"}
			r.ApprovalsNeeded = 2
		}, at: now, want: ok, needed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			r := testRequest(now)
			if tt.req != nil {
				tt.req(&r)
			}
			a := Approver{ID: "anna", OSUser: "anna", Confirmed: true}
			if tt.appr != nil {
				tt.appr(&a)
			}
			needed, d := CanApprove(c, r, a, tt.at)
			event, sev, code := tt.want()
			wantDecision(t, d, event, sev, code, tt.reason)
			if needed != tt.needed {
				t.Errorf("needed = %d, want %d", needed, tt.needed)
			}
			if d.Refusal != nil && d.Refusal.Facts.Request != "r1" {
				t.Errorf("a refusal names the request: %+v", d.Refusal.Facts)
			}
			if event == "approval_refused" {
				want := Facts{Request: "r1", Approver: "anna", Requester: "staff", Account: testAccount}
				if d.Refusal.Facts != want {
					t.Errorf("an alarm's facts = %+v, want %+v", d.Refusal.Facts, want)
				}
			}
		})
	}
}

func TestPostingHoursBerlinDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal("no time zone data:", err) // time/tzdata is linked in
	}
	// Working hours 07:00-20:00 local, as the rules see them through Config.Within.
	within := func(t time.Time) bool {
		l := t.In(berlin)
		m := l.Hour()*60 + l.Minute()
		return m >= 7*60 && m < 20*60
	}
	for _, tt := range []struct {
		name   string
		at     time.Time
		inside bool
	}{
		{"spring-forward day 06:59:59 CEST", time.Date(2026, 3, 29, 6, 59, 59, 0, berlin), false},
		{"spring-forward day 07:00:00 CEST (05:00 UTC)", time.Date(2026, 3, 29, 5, 0, 0, 0, time.UTC), true},
		{"spring-forward day 19:59:59", time.Date(2026, 3, 29, 19, 59, 59, 0, berlin), true},
		{"spring-forward day 20:00:00", time.Date(2026, 3, 29, 20, 0, 0, 0, berlin), false},
		{"day before spring-forward 06:00 UTC is 07:00 CET", time.Date(2026, 3, 28, 6, 0, 0, 0, time.UTC), true},
		{"fall-back day 06:59:59 CET", time.Date(2026, 10, 25, 6, 59, 59, 0, berlin), false},
		{"fall-back day 07:00:00 CET (06:00 UTC)", time.Date(2026, 10, 25, 6, 0, 0, 0, time.UTC), true},
		{"fall-back day 05:00 UTC is 06:00 CET", time.Date(2026, 10, 25, 5, 0, 0, 0, time.UTC), false},
		{"fall-back day 20:00:00 CET (19:00 UTC)", time.Date(2026, 10, 25, 19, 0, 0, 0, time.UTC), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := Approver{ID: "anna", Confirmed: true}
			t.Run("refuse", func(t *testing.T) {
				c := DefaultConfig()
				c.Within, c.OutsideRefuse = within, true
				needed, d := CanApprove(c, testRequest(tt.at), a, tt.at)
				if tt.inside {
					wantDecision(t, d, "approval", Info, "", "")
					if needed != 1 {
						t.Errorf("needed = %d", needed)
					}
				} else {
					wantDecision(t, d, "approval_refused", High, api.CodeOutsideHours, "")
				}
			})
			t.Run("two approvers", func(t *testing.T) {
				c := DefaultConfig()
				c.Within = within
				needed, d := CanApprove(c, testRequest(tt.at), a, tt.at)
				wantDecision(t, d, "approval", Info, "", "")
				if want := map[bool]int{true: 1, false: 2}[tt.inside]; needed != want {
					t.Errorf("needed = %d, want %d", needed, want)
				}
			})
		})
	}
}

func TestTwoApproversOutsideHours(t *testing.T) {
	night := time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)
	morning := night.Add(9 * time.Minute) // hours start while the request waits
	c := DefaultConfig()
	c.Within = func(t time.Time) bool { return !t.Before(morning) }
	r := testRequest(night)
	anna := Approver{ID: "anna", Confirmed: true}
	ben := Approver{ID: "ben", Confirmed: true}

	needed, d := CanApprove(c, r, anna, night)
	wantDecision(t, d, "approval", Info, "", "")
	if needed != 2 {
		t.Fatalf("needed = %d, want 2 outside hours", needed)
	}
	r, done := RecordApproval(r, anna.ID, needed)
	if done || r.State != Pending || r.ApprovalsNeeded != 2 {
		t.Fatalf("one of two approvals must not complete the request: %+v", r)
	}
	// Anna again, with a fresh code: she has already approved, which is not self-approval.
	_, d = CanApprove(c, r, anna, night.Add(time.Minute))
	wantDecision(t, d, "", "", api.CodeAlreadyApproved, "")
	// Ben after hours started: the request still needs two.
	needed, d = CanApprove(c, r, ben, morning)
	wantDecision(t, d, "approval", Info, "", "")
	if needed != 2 {
		t.Fatalf("needed = %d, want 2: the need does not drop when hours start", needed)
	}
	r, done = RecordApproval(r, ben.ID, needed)
	if !done || r.State != Approved || !slices.Equal(r.ApprovedBy, []string{"anna", "ben"}) {
		t.Fatalf("the second approval must complete the request: %+v", r)
	}
}

func TestRecordApproval(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		name     string
		before   []string
		id       string
		needed   int
		done     bool
		state    string
		approved []string
	}{
		{"one of one", nil, "anna", 1, true, Approved, []string{"anna"}},
		{"one of two", nil, "anna", 2, false, Pending, []string{"anna"}},
		{"two of two", []string{"anna"}, "ben", 2, true, Approved, []string{"anna", "ben"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testRequest(now)
			// Spare capacity: an append in place would write into the caller's array.
			r.ApprovedBy = append(make([]string, 0, 4), tt.before...)
			orig := r
			backing := slices.Clone(r.ApprovedBy[:cap(r.ApprovedBy)])
			got, done := RecordApproval(r, tt.id, tt.needed)
			if done != tt.done || got.State != tt.state || got.ApprovalsNeeded != tt.needed || !slices.Equal(got.ApprovedBy, tt.approved) {
				t.Fatalf("RecordApproval = %+v, %v", got, done)
			}
			if r.State != orig.State || !slices.Equal(r.ApprovedBy, tt.before) || !slices.Equal(r.ApprovedBy[:cap(r.ApprovedBy)], backing) {
				t.Fatalf("the caller's request changed: %+v, backing %q", r, r.ApprovedBy[:cap(r.ApprovedBy)])
			}
		})
	}
}

func TestNewSession(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := testRequest(now)
	r.State, r.ApprovedBy = Approved, []string{"anna", "ben"}
	for _, ttl := range []time.Duration{10 * time.Minute, 3 * time.Minute} {
		t.Run(ttl.String(), func(t *testing.T) {
			c := DefaultConfig()
			c.SessionTTL = ttl
			s, d := NewSession(c, "s1", r, now)
			wantDecision(t, d, "session_issued", Info, "", "")
			want := Session{ID: "s1", RequestID: "r1", Account: testAccount, Action: api.ActionPost, Digest: testDigest,
				Requester: "staff", Issued: now, Expires: now.Add(ttl), State: Active}
			gotApproved := s.ApprovedBy
			s.ApprovedBy = nil
			if !sessionsEqual(s, want) || !slices.Equal(gotApproved, r.ApprovedBy) {
				t.Fatalf("session = %+v (approved by %q), want %+v", s, gotApproved, want)
			}
			gotApproved[0] = "mallory"
			if r.ApprovedBy[0] != "anna" {
				t.Fatal("the session's approvers alias the request's")
			}
		})
	}
}

func sessionsEqual(a, b Session) bool {
	return a.ID == b.ID && a.RequestID == b.RequestID && a.Account == b.Account && a.Action == b.Action &&
		a.Digest == b.Digest && a.Requester == b.Requester && slices.Equal(a.ApprovedBy, b.ApprovedBy) &&
		a.Issued.Equal(b.Issued) && a.Expires.Equal(b.Expires) && a.State == b.State && a.Published == b.Published
}

func TestNewRequest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	next := now.Add(8 * time.Hour)
	post := RequestInput{Account: "x:@m", Action: "post", Text: "hi"}
	with := func(f func(*RequestInput)) RequestInput { in := post; f(&in); return in }
	text := func(s string) RequestInput { return with(func(in *RequestInput) { in.Text = s }) }
	limit5 := func(c *Config) { c.MaxLength = func(acc string) int { return map[string]int{"x:@m": 5}[acc] } }
	closed := func(refuse bool) func(*Config) {
		return func(c *Config) {
			c.Within = func(time.Time) bool { return false }
			c.OutsideRefuse = refuse
			c.NextOpen = func(t time.Time) time.Time { return next }
		}
	}
	for _, tt := range []struct {
		name   string
		cfg    func(*Config)
		in     RequestInput
		canon  *string // the canonical form; nil: the text itself
		digest string
		open   int
		code   api.Code
		reason string
		facts  Facts
		needed int // approvals the new request needs (1 when 0)
	}{
		{name: "ok", in: post, digest: "d"},
		{name: "every action", in: with(func(in *RequestInput) { in.Action = "quote" }), digest: "d"},
		{name: "unknown action", in: with(func(in *RequestInput) { in.Action = "delete" }), digest: "d",
			code: api.CodeBadRequest, reason: "unknown_action", facts: Facts{Value: "delete"}},
		{name: "no account", in: with(func(in *RequestInput) { in.Account = "" }), digest: "d",
			code: api.CodeBadRequest, reason: "account_missing"},
		{name: "not UTF-8", in: text("hi \xff"), digest: "d", code: api.CodeBadRequest, reason: "not_utf8"},
		{name: "empty text", in: text(""), digest: "",
			code: api.CodeBadRequest, reason: "blank", facts: Facts{Action: "post"}},
		{name: "repost without the reposted post's address", in: RequestInput{Account: "x:@m", Action: "repost"}, digest: "d",
			code: api.CodeBadRequest, reason: "blank", facts: Facts{Action: "repost"}},
		{name: "repost naming the post", in: RequestInput{Account: "x:@m", Action: "repost", Text: "https://x.com/a/status/1"}, digest: "d"},
		{name: "only white space", in: text(" \n\t"), digest: "d",
			code: api.CodeBadRequest, reason: "blank", facts: Facts{Action: "post"}},
		{name: "only zero-width and direction marks", in: text("\u200b\u200f\u2060\ufeff"), digest: "d",
			code: api.CodeBadRequest, reason: "blank", facts: Facts{Action: "post"}},
		{name: "only control characters", in: text("\x00\x07"), digest: "d",
			code: api.CodeBadRequest, reason: "blank", facts: Facts{Action: "post"}},
		{name: "blank canonical form of a non-blank text", in: post, canon: new(string), digest: "d",
			code: api.CodeBadRequest, reason: "blank", facts: Facts{Action: "post"}},
		{name: "a single emoji is not blank", in: text("\U0001F600"), digest: "d"},
		{name: "no digest computed", in: post, digest: "",
			code: api.CodeBadRequest, reason: "blank", facts: Facts{Action: "post"}},
		{name: "digest agrees", in: with(func(in *RequestInput) { in.Digest = "d" }), digest: "d"},
		{name: "digest disagrees", in: with(func(in *RequestInput) { in.Digest = "other" }), digest: "d",
			code: api.CodeDigestMismatch, reason: "canonical_form"},
		{name: "at the platform's length limit", cfg: limit5, in: text("hallo"), digest: "d"},
		{name: "limit counts characters, not bytes", cfg: limit5, in: text("äöüßé"), digest: "d"},
		{name: "over the platform's length limit", cfg: limit5, in: text("hallo!"), digest: "d",
			code: api.CodeBadRequest, reason: "too_long", facts: Facts{Account: "x:@m", Open: 6, Limit: 5}},
		{name: "length limit applies to the canonical form", cfg: limit5, in: text("hallo   "), canon: ptr("hallo"), digest: "d"},
		{name: "no limit known for the account", cfg: limit5, in: RequestInput{Account: "y:@m", Action: "post", Text: "hallo!"}, digest: "d"},
		{name: "fifth open request is fine", in: post, digest: "d", open: 4},
		{name: "sixth open request is refused", in: post, digest: "d", open: 5,
			code: api.CodeTooManyRequests, facts: Facts{Requester: "staff", Open: 5, Limit: 5}},
		{name: "outside hours, refuse: says when hours begin", cfg: closed(true), in: post, digest: "d",
			code: api.CodeOutsideHours, reason: "request", facts: Facts{Account: "x:@m", At: next}},
		{name: "outside hours, two approvers", cfg: closed(false), in: post, digest: "d", needed: 2},
		{name: "inside hours", cfg: func(c *Config) { c.Within = func(time.Time) bool { return true }; c.OutsideRefuse = true },
			in: post, digest: "d"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			canon := tt.in.Text
			if tt.canon != nil {
				canon = *tt.canon
			}
			r, d := NewRequest(c, "r1", "staff", tt.in, tt.digest, canon, tt.open, now)
			if tt.code != "" {
				wantDecision(t, d, "", "", tt.code, tt.reason)
				if d.Refusal.Facts != tt.facts {
					t.Errorf("facts = %+v, want %+v", d.Refusal.Facts, tt.facts)
				}
				if r.ID != "" || r.State != "" {
					t.Errorf("a refused request must not be returned: %+v", r)
				}
				return
			}
			wantDecision(t, d, "request", Info, "", "")
			needed := max(tt.needed, 1)
			if r.ID != "r1" || r.Account != tt.in.Account || r.Action != tt.in.Action || r.Text != tt.in.Text ||
				r.Digest != tt.digest || r.Requester != "staff" || r.State != Pending || r.ApprovalsNeeded != needed ||
				len(r.ApprovedBy) != 0 || !r.Created.Equal(now) || !r.Expires.Equal(now.Add(c.RequestTTL)) {
				t.Fatalf("bad request: %+v", r)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestBlank(t *testing.T) {
	for _, tt := range []struct {
		name string
		text string
		want bool
	}{
		{"empty", "", true},
		{"spaces and line breaks", " \r\n\t\u00a0\u3000", true},
		{"zero-width space, joiner, BOM, direction marks", "\u200b\u200d\ufeff\u200e\u200f\u202e", true},
		{"control characters", "\x00\x1b\x7f", true},
		{"a letter", "a", false},
		{"a dot between spaces", " . ", false},
		{"an emoji", "\U0001F44D", false},
		{"a letter after zero-width spaces", "\u200b\u200bx", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Blank(tt.text); got != tt.want {
				t.Errorf("Blank(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestConsume(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	mk := func() Session {
		r := testRequest(now)
		r.State = Approved
		r.ApprovedBy = []string{"anna"}
		s, _ := NewSession(DefaultConfig(), "s1", r, now)
		return s
	}
	ok := Use{Account: testAccount, Action: api.ActionPost, Digest: testDigest, ManifestDigest: testManifest}
	with := func(f func(*Use)) Use { u := ok; f(&u); return u }
	for _, tt := range []struct {
		name   string
		prep   func(*Session)
		use    Use
		at     time.Time
		event  string
		sev    Severity
		code   api.Code
		reason string
		state  string
	}{
		{"ok", nil, ok, now, "session_consumed", Info, "", "", Consumed},
		{"last nanosecond of TTL", nil, ok, now.Add(10*time.Minute - 1), "session_consumed", Info, "", "", Consumed},
		{"TTL reached", nil, ok, now.Add(10 * time.Minute), "", "", api.CodeExpired, "session", Expired},
		{"edited text", nil, with(func(u *Use) { u.Digest = "other" }), now, "blocked", High, api.CodeDigestMismatch, "digest_mismatch", Active},
		{"second use", func(s *Session) { s.State = Consumed }, ok, now, "", "", api.CodeAlreadyUsed, "session_spent", Consumed},
		{"locked", func(s *Session) { *s, _ = Revoke(*s) }, ok, now, "", "", api.CodeLocked, "session", Revoked},
		{"other account", nil, with(func(u *Use) { u.Account = "x:@other" }), now, "blocked", High, api.CodeScopeMismatch, "scope_mismatch", Active},
		{"other action", nil, with(func(u *Use) { u.Action = api.ActionReply }), now, "blocked", High, api.CodeScopeMismatch, "scope_mismatch", Active},
		{"other account and text: scope first", nil, Use{Account: "x:@other", Action: api.ActionPost, Digest: "other"}, now, "blocked", High, api.CodeScopeMismatch, "scope_mismatch", Active},
		{"no account named", nil, with(func(u *Use) { u.Account = "" }), now, "blocked", High, api.CodeScopeMismatch, "scope_mismatch", Active},
		{"no digest", nil, with(func(u *Use) { u.Digest = "" }), now, "blocked", High, api.CodeDigestMismatch, "digest_mismatch", Active},
		// The approved text with another image, or under another post: not the approved post.
		{"same text, other attachments or answered post", nil, with(func(u *Use) { u.ManifestDigest = "other" }), now, "blocked", High, api.CodeDigestMismatch, "manifest_mismatch", Active},
		{"no manifest digest", nil, with(func(u *Use) { u.ManifestDigest = "" }), now, "blocked", High, api.CodeDigestMismatch, "manifest_mismatch", Active},
		{"other text and manifest: the text is named", nil, with(func(u *Use) { u.Digest, u.ManifestDigest = "other", "other" }), now, "blocked", High, api.CodeDigestMismatch, "digest_mismatch", Active},
		{"manifest digest of an expired session: expiry first", nil, with(func(u *Use) { u.ManifestDigest = "other" }), now.Add(10 * time.Minute), "", "", api.CodeExpired, "session", Expired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := mk()
			if tt.prep != nil {
				tt.prep(&s)
			}
			got, d := Consume(s, tt.use, tt.at)
			wantDecision(t, d, tt.event, tt.sev, tt.code, tt.reason)
			if got.State != tt.state {
				t.Errorf("state = %s, want %s", got.State, tt.state)
			}
			if tt.code == api.CodeScopeMismatch {
				f := d.Refusal.Facts
				if f.Account != testAccount || f.Action != api.ActionPost || f.UsedAccount != tt.use.Account || f.UsedAction != tt.use.Action {
					t.Errorf("a scope alarm names both scopes: %+v", f)
				}
			}
			if tt.code == api.CodeExpired && !d.Refusal.Facts.At.Equal(s.Expires) {
				t.Errorf("an expiry says when: %+v", d.Refusal.Facts)
			}
			if tt.state == Active {
				// Blocked, not spent: the approved post can still go out.
				again, d := Consume(got, ok, tt.at)
				wantDecision(t, d, "session_consumed", Info, "", "")
				if again.State != Consumed {
					t.Errorf("state after the right use = %s", again.State)
				}
			}
		})
	}
}

func TestCancelAndDeny(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := DefaultConfig()
	r := testRequest(now)

	got, d := Cancel(r, "mallory", now)
	wantDecision(t, d, "", "", api.CodeNotPermitted, "cancel_other")
	if got.State != Pending {
		t.Fatalf("a refused cancel changed the state: %s", got.State)
	}
	got, d = Cancel(r, "staff", now)
	wantDecision(t, d, "request_cancelled", Info, "", "")
	if got.State != Cancelled || r.State != Pending {
		t.Fatalf("cancel: got %s, caller's %s", got.State, r.State)
	}

	wantDecision(t, CanDeny(c, r, Approver{ID: "anna"}, now), "", "", api.CodeNotConfirmed, "")
	wantDecision(t, CanDeny(c, r, Approver{ID: "anna", Confirmed: true}, now), "request_denied", Info, "", "")
	if denied := Deny(r); denied.State != Denied || r.State != Pending {
		t.Fatalf("deny: got %s, caller's %s", denied.State, r.State)
	}

	revoked, ok := RevokeRequest(r)
	if !ok || revoked.State != Revoked {
		t.Fatal("a pending request is revoked")
	}
	if _, ok := RevokeRequest(revoked); ok {
		t.Fatal("a pending request is revoked exactly once")
	}
}
