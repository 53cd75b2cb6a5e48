package rules

import (
	"testing"
	"time"

	"foureyes/daemon/internal/policy"
)

// The tests' numbers are the embedded default policy's; the policy package is their one source
// (the engine turns a policy into a Config), and this test keeps the two from drifting.
var DefaultThrottle = ThrottleConfig{
	MaxFailures:    5,
	Window:         15 * time.Minute,
	Lockout:        time.Minute,
	MaxLockout:     time.Hour,
	MaxConsecutive: 100,
}

func DefaultConfig() Config {
	return Config{
		Skew:       1,
		SessionTTL: 10 * time.Minute,
		RequestTTL: 10 * time.Minute,
		MaxOpen:    5,
		Throttle:   DefaultThrottle,
	}
}

func TestTestConfigIsTheDefaultPolicy(t *testing.T) {
	p := policy.Default()
	c := DefaultConfig()
	got := []int64{int64(p.TOTPSkewSteps), int64(p.SessionTTL()), int64(p.RequestTTL()), int64(p.MaxOpenRequests),
		int64(p.Throttle.MaxFailures), int64(p.Throttle.Window()), int64(p.Throttle.Lockout()), int64(p.Throttle.MaxLockout()),
		int64(p.Throttle.MaxConsecutiveFailures)}
	want := []int64{int64(c.Skew), int64(c.SessionTTL), int64(c.RequestTTL), int64(c.MaxOpen),
		int64(c.Throttle.MaxFailures), int64(c.Throttle.Window), int64(c.Throttle.Lockout), int64(c.Throttle.MaxLockout),
		int64(c.Throttle.MaxConsecutive)}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("field %d: default policy %d, tests' config %d", i, got[i], want[i])
		}
	}
}
