package rules

import (
	"crypto/subtle"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// StepSeconds is the TOTP time step (RFC 6238 default, what every phone authenticator uses).
const StepSeconds = 30

// Step returns the TOTP time step that t falls in.
func Step(t time.Time) uint64 {
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return uint64(u) / StepSeconds
}

var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// CodeAt returns the 6-digit code for the base32 secret at the given step.
func CodeAt(secret string, step uint64) (string, error) {
	return hotp.GenerateCodeCustom(secret, step, hotpOpts)
}

// WellFormedCode reports whether code is exactly six ASCII digits.
func WellFormedCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// Match outcomes.
const (
	matchNone   = iota // no step in the window has this code
	matchFresh         // matched a step after the last accepted one
	matchReplay        // matched only steps at or before the last accepted one
)

// matchStep checks code against every step in now's window (skew steps each way) and returns
// the newest fresh step it matches. pquerna/otp's Validate answers only yes or no and keeps no
// state, so it cannot refuse a replay: we compare per step and let the caller record the step.
func matchStep(secret, code string, now time.Time, skew int, lastStep uint64) (uint64, int, error) {
	cur := Step(now)
	result := matchNone
	var best uint64
	for d := -skew; d <= skew; d++ {
		if d < 0 && uint64(-d) > cur {
			continue
		}
		step := uint64(int64(cur) + int64(d))
		want, err := CodeAt(secret, step)
		if err != nil {
			return 0, matchNone, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if step <= lastStep {
			if result == matchNone {
				result = matchReplay
			}
			continue
		}
		result, best = matchFresh, step
	}
	return best, result, nil
}
