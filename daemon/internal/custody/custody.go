// Package custody is the one place secrets live: approvers' TOTP seeds and the official
// accounts' passwords and 2FA seeds. Everything else talks to the small Store interface, so the
// OS keyring of user mode (Keyring) and the sealed files of service mode (File) are
// interchangeable without the rules or the engine noticing.
//
// Secrets never appear in error messages.
package custody

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"

	"foureyes/daemon/internal/api"
)

// Store keeps secrets by key. Implementations are safe for concurrent use.
type Store interface {
	// Set stores secret under key, replacing any secret already there.
	Set(key, secret string) error
	// Get returns the secret under key, or an error wrapping ErrNotFound.
	Get(key string) (string, error)
	// Delete removes the secret under key, or returns an error wrapping ErrNotFound.
	Delete(key string) error
}

// The errors a Store returns wrap one of these. They are *api.Error values, so api.CodeOf gives
// the stable code and the message tells people what to do.
var (
	ErrNotFound  = &api.Error{Code: api.CodeNotFound, Message: "no such secret in the keyring"}
	ErrNoKeyring = &api.Error{Code: api.CodeNoKeyring, Message: noKeyringHelp()}
	ErrLocked    = &api.Error{Code: api.CodeKeyringLocked, Message: lockedHelp()}
	ErrTooLarge  = &api.Error{Code: api.CodeTooLarge, Message: "the secret is too large for the OS keyring"}
)

func noKeyringHelp() string {
	switch runtime.GOOS {
	case "darwin":
		return "no OS keyring: the macOS keychain cannot be reached; run foureyes in your logged-in desktop session"
	case "windows":
		return "no OS keyring: the Windows Credential Manager cannot be reached; run foureyes in your logged-in desktop session"
	}
	return "no OS keyring: start a Secret Service (gnome-keyring or KeePassXC) in your desktop session, or run foureyes inside one"
}

func lockedHelp() string {
	if runtime.GOOS == "darwin" {
		return "the OS keyring is locked: unlock the login keychain (log in to the desktop, or `security unlock-keychain`) and try again"
	}
	return "the OS keyring is locked: unlock it (log in to the desktop, or `gnome-keyring-daemon --unlock`) and try again"
}

// ApproverKey is the key of an approver's TOTP seed.
func ApproverKey(id string) string { return "approver/" + id + "/totp" }

// AccountPasswordKey is the key of an official account's password.
func AccountPasswordKey(accountID string) string { return "account/" + accountID + "/password" }

// AccountNextPasswordKey is the key of the new password a rotation keeps beside the current
// one until the platform confirms it.
func AccountNextPasswordKey(accountID string) string {
	return "account/" + accountID + "/password-next"
}

// AccountTOTPKey is the key of an official account's own 2FA seed on the platform.
func AccountTOTPKey(accountID string) string { return "account/" + accountID + "/totp" }

// RadiusSecretKey is the key of the shared secret with the organisation's OTP server (RADIUS).
const RadiusSecretKey = "radius/shared-secret"

// probeKey is the canary Probe writes; no real key has this form.
const probeKey = "probe/canary"

// Probe checks that s can store, return and remove a secret, for the daemon's status. The error
// wraps ErrNoKeyring or ErrLocked when that is the cause.
func Probe(s Store) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("keyring probe: %w", err)
	}
	canary := hex.EncodeToString(b)
	if err := s.Set(probeKey, canary); err != nil {
		// A write that timed out may still happen: take it back behind it.
		DeleteLater(s, probeKey)
		return fmt.Errorf("keyring probe: %w", err)
	}
	got, err := s.Get(probeKey)
	if err == nil && got != canary {
		err = errors.New("the keyring returned a different value than was stored")
	}
	delErr := s.Delete(probeKey)
	if err != nil {
		return fmt.Errorf("keyring probe: %w", err)
	}
	if delErr != nil {
		return fmt.Errorf("keyring probe: %w", delErr)
	}
	return nil
}

// Check is Probe's light sibling for periodic use: one read of the canary key, which is normally
// absent. It notices a keyring that went away or was locked without writing to the keyring file
// (Probe writes and removes a secret), so an idle daemon does not touch the disk.
func Check(s Store) error {
	if _, err := s.Get(probeKey); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("keyring check: %w", err)
	}
	return nil
}

func checkKey(op, key string) error {
	if key == "" {
		return fmt.Errorf("keyring %s: empty key", op)
	}
	return nil
}
