package rules

import (
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

func TestCheckRemoteCode(t *testing.T) {
	c := testRemoteConfig()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a := Approver{ID: "anna", Confirmed: true}

	// Malformed and throttled codes never reach the server.
	if _, out, ref, ask := CheckRemoteCode(c, a, "12a456", NotAsked, now); ask || ref == nil || ref.Code != api.CodeBadCode || !out.Failed {
		t.Fatalf("malformed: ask %v ref %v", ask, ref)
	}
	locked := a
	locked.Throttle.LockedUntil = now.Add(time.Minute)
	if _, _, ref, ask := CheckRemoteCode(c, locked, "123456", NotAsked, now); ask || ref == nil || ref.Code != api.CodeThrottled {
		t.Fatalf("throttled: ask %v ref %v", ask, ref)
	}

	// A fresh code: ask, and nothing changes until the answer.
	na, _, ref, ask := CheckRemoteCode(c, a, "123456", NotAsked, now)
	if !ask || ref != nil || len(na.Used) != 0 {
		t.Fatalf("fresh: ask %v ref %v used %v", ask, ref, na.Used)
	}
	// Accepted: remembered.
	a.Throttle.Consecutive = 2
	na, _, ref, _ = CheckRemoteCode(c, a, "123456", Accepted, now)
	if ref != nil || len(na.Used) != 1 || na.Throttle.Consecutive != 0 {
		t.Fatalf("accepted: %v %+v", ref, na)
	}
	// The same code again within the window: a replay, refused before asking, an alarm.
	_, out, ref, ask := CheckRemoteCode(c, na, "123456", NotAsked, now.Add(c.RemoteWindow-time.Second))
	if ask || ref == nil || ref.Code != api.CodeReplayed || !out.Replayed {
		t.Fatalf("replay: ask %v ref %v out %+v", ask, ref, out)
	}
	// After the window it is forgotten and may be asked about (the server decides).
	nb, _, ref, ask := CheckRemoteCode(c, na, "123456", NotAsked, now.Add(c.RemoteWindow))
	if !ask || ref != nil || len(nb.Used) != 0 {
		t.Fatalf("after the window: ask %v ref %v used %v", ask, ref, nb.Used)
	}
	// Rejected: a failure that counts towards the throttle.
	nc, out, ref, _ := CheckRemoteCode(c, a, "654321", Rejected, now)
	if ref == nil || ref.Code != api.CodeBadCode || !out.Failed || nc.Throttle.Consecutive != 3 {
		t.Fatalf("rejected: %v %+v %+v", ref, out, nc)
	}
	// The record it was given is left as it was.
	if len(a.Used) != 0 || a.Throttle.Consecutive != 2 {
		t.Fatalf("input record changed: %+v", a)
	}
}

// Rejections lock the approver out like wrong local codes.
func TestRemoteRejectionsThrottle(t *testing.T) {
	c := testRemoteConfig()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a := Approver{ID: "anna", Confirmed: true}
	var out CodeOutcome
	for i := 0; i < c.Throttle.MaxFailures; i++ {
		a, out, _, _ = CheckRemoteCode(c, a, "000000", Rejected, now)
	}
	if !out.LockedOut {
		t.Fatal("no lock-out after max_failures rejections")
	}
	if _, _, ref, ask := CheckRemoteCode(c, a, "123456", NotAsked, now); ask || ref == nil || ref.Code != api.CodeThrottled {
		t.Fatalf("locked out, yet ask %v ref %v", ask, ref)
	}
}

func testRemoteConfig() Config {
	return Config{Skew: 1, RemoteWindow: 5 * time.Minute, Throttle: ThrottleConfig{
		MaxFailures: 5, Window: 15 * time.Minute, Lockout: time.Minute, MaxLockout: time.Hour, MaxConsecutive: 100}}
}
