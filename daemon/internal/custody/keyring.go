package custody

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// DefaultService is the keyring service name of a single foureyes per user.
const DefaultService = "foureyes"

// DefaultTimeout bounds one keyring call. The Secret Service may be waiting for the user to
// answer an unlock prompt; past this the call is reported as locked rather than hanging. The
// abandoned call still finishes if the keyring answers later, so a Set reported as failed may
// yet have stored its secret: callers treat a failed Set as "unknown", not "absent".
const DefaultTimeout = 2 * time.Minute

// Keyring is the Store in the OS keyring (Secret Service on Linux and the BSDs, the login
// keychain on macOS, Credential Manager on Windows), through go-keyring.
type Keyring struct {
	service string
	timeout time.Duration
	backend backend
}

// NewKeyring returns the OS keyring store under service. Several foureyes instances on one
// machine (and tests) use different service names so their secrets do not collide.
func NewKeyring(service string) *Keyring {
	if service == "" {
		service = DefaultService
	}
	return &Keyring{service: service, timeout: DefaultTimeout, backend: goKeyring{}}
}

// Service returns the keyring service name.
func (k *Keyring) Service() string { return k.service }

// backend is the part of go-keyring Keyring uses, so tests can feed it raw errors.
type backend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

type goKeyring struct{}

func (goKeyring) Set(service, user, secret string) error   { return keyring.Set(service, user, secret) }
func (goKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (goKeyring) Delete(service, user string) error        { return keyring.Delete(service, user) }

// callMu serialises keyring calls process-wide: go-keyring shares one D-Bus connection, and its
// prompt handling listens for signals on it without telling concurrent prompts apart.
var callMu sync.Mutex

// Set stores secret under key, replacing any secret already there.
func (k *Keyring) Set(key, secret string) error {
	if err := checkKey("set", key); err != nil {
		return err
	}
	_, err := k.call("set", key, secret, func() (string, error) {
		return "", k.backend.Set(k.service, key, secret)
	})
	return err
}

// Get returns the secret under key.
func (k *Keyring) Get(key string) (string, error) {
	if err := checkKey("get", key); err != nil {
		return "", err
	}
	return k.call("get", key, "", func() (string, error) {
		return k.backend.Get(k.service, key)
	})
}

// Delete removes the secret under key.
func (k *Keyring) Delete(key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	_, err := k.call("delete", key, "", func() (string, error) {
		return "", k.backend.Delete(k.service, key)
	})
	return err
}

type result struct {
	value string
	err   error
}

// call runs one keyring operation with the guards every operation needs: no D-Bus autolaunch,
// one call at a time, a time limit, and errors mapped and scrubbed of the secret.
func (k *Keyring) call(op, key, secret string, f func() (string, error)) (string, error) {
	if reason := missingSessionBus(); reason != "" {
		return "", fmt.Errorf("keyring %s %q: %w (%s)", op, key, ErrNoKeyring, reason)
	}
	done := make(chan result, 1)
	go func() {
		callMu.Lock()
		defer callMu.Unlock()
		v, err := f()
		done <- result{v, err}
	}()
	timer := time.NewTimer(k.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return "", mapError(op, key, secret, r.err)
		}
		return r.value, nil
	case <-timer.C:
		// The call goes on in the background and finishes when the keyring answers; nothing
		// waits for it.
		return "", fmt.Errorf("keyring %s %q: %w (no answer within %v: is it waiting for you to unlock it?)", op, key, ErrLocked, k.timeout)
	}
}

// missingSessionBus explains why there is no session bus to reach a Secret Service, or returns
// "". Without DBUS_SESSION_BUS_ADDRESS, godbus would run dbus-launch, which starts a bus and a
// keyring daemon that outlive foureyes; asking the user to provide a session is better.
func missingSessionBus() string {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		return ""
	}
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" || strings.HasPrefix(addr, "autolaunch:") {
		return "DBUS_SESSION_BUS_ADDRESS is not set: there is no desktop session bus"
	}
	return ""
}

// Substrings of go-keyring's errors, which are plain strings apart from ErrNotFound. Matched
// without regard to case.
var (
	noKeyringSigns = []string{
		`executable file not found`, // dbus-launch or /usr/bin/security missing
		`was not provided by any .service files`,
		`org.freedesktop.dbus.error.serviceunknown`,
		`org.freedesktop.dbus.error.noserver`,
		`org.freedesktop.dbus.error.noreply`,
		`did not receive a reply`,
		`connection closed`,
		`org.freedesktop.dbus.error.disconnected`,
		`org.freedesktop.dbus.error.unknownmethod`,
		`cannot autolaunch d-bus without x11 $display`,
		`couldn't determine address of session bus`,
		`dbus: authentication failed`,
		`connection refused`,
		`no such file or directory`,
		`unsupported platform`,
	}
	lockedSigns = []string{
		`failed to unlock correct collection`,
		`org.freedesktop.secret.error.islocked`,
		`locked collection`,
		`user interaction is not allowed`, // macOS: locked keychain and no UI to ask
		`user canceled`,                   // macOS: prompt dismissed
		`passphrase you entered is not correct`,
	}
)

// mapError turns a go-keyring error into one that wraps this package's sentinels, says what to
// do, and never contains the secret.
func mapError(op, key, secret string, err error) error {
	detail := err.Error()
	if secret != "" && strings.Contains(detail, secret) {
		detail = "details withheld: they contained the secret"
	}
	var kind error
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Errorf("keyring %s %q: %w", op, key, ErrNotFound)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("keyring %s %q: %w (%d bytes)", op, key, ErrTooLarge, len(secret))
	case errors.Is(err, keyring.ErrUnsupportedPlatform):
		kind = ErrNoKeyring
	default:
		lower := strings.ToLower(detail)
		if containsAny(lower, lockedSigns) {
			kind = ErrLocked
		} else if containsAny(lower, noKeyringSigns) {
			kind = ErrNoKeyring
		}
	}
	if kind == nil {
		return fmt.Errorf("keyring %s %q: %s", op, key, detail)
	}
	return fmt.Errorf("keyring %s %q: %w (%s)", op, key, kind, detail)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
