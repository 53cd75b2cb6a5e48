package custody

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"foureyes/daemon/internal/testenv"
)

// fakeBackend answers every call with err (and value), counting calls.
type fakeBackend struct {
	value string
	err   error
	delay time.Duration
	calls int
}

func (f *fakeBackend) Set(service, user, secret string) error {
	f.calls++
	time.Sleep(f.delay)
	return f.err
}

func (f *fakeBackend) Get(service, user string) (string, error) {
	f.calls++
	time.Sleep(f.delay)
	return f.value, f.err
}

func (f *fakeBackend) Delete(service, user string) error {
	f.calls++
	time.Sleep(f.delay)
	return f.err
}

func fakeKeyring(f *fakeBackend) *Keyring {
	k := NewKeyring("foureyes-test")
	k.backend = f
	return k
}

// withBus makes the session-bus guard pass, for tests that never reach a real bus.
func withBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent-fake-bus")
}

func TestErrorMapping(t *testing.T) {
	withBus(t)
	tests := []struct {
		raw  error
		want error // nil: no sentinel
	}{
		{keyring.ErrNotFound, ErrNotFound},
		{keyring.ErrSetDataTooBig, ErrTooLarge},
		{keyring.ErrUnsupportedPlatform, ErrNoKeyring},
		{errors.New(`exec: "dbus-launch": executable file not found in $PATH`), ErrNoKeyring},
		{errors.New(`The name org.freedesktop.secrets was not provided by any .service files`), ErrNoKeyring},
		{errors.New(`org.freedesktop.DBus.Error.ServiceUnknown`), ErrNoKeyring},
		{errors.New(`dbus: couldn't determine address of session bus`), ErrNoKeyring},
		{errors.New(`Cannot autolaunch D-Bus without X11 $DISPLAY`), ErrNoKeyring},
		{errors.New(`dial unix /nonexistent: connect: no such file or directory`), ErrNoKeyring},
		{errors.New(`dial unix /run/user/1000/bus: connect: connection refused`), ErrNoKeyring},
		{errors.New(`Did not receive a reply. Possible causes include: the remote application did not send a reply`), ErrNoKeyring},
		{errors.New(`dbus: authentication failed`), ErrNoKeyring},
		{errors.New(`fork/exec /usr/bin/security: no such file or directory`), ErrNoKeyring},
		{errors.New(`failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'`), ErrLocked},
		{errors.New(`org.freedesktop.Secret.Error.IsLocked`), ErrLocked},
		{errors.New(`Cannot create an item in a locked collection`), ErrLocked},
		{errors.New(`security: SecKeychainItemCopyContent: User interaction is not allowed.`), ErrLocked},
		{errors.New(`User canceled the operation.`), ErrLocked},
		{errors.New(`something nobody has seen before`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.raw.Error(), func(t *testing.T) {
			k := fakeKeyring(&fakeBackend{err: tt.raw})
			errs := []error{k.Set("approver/anna/totp", "JBSWY3DPEHPK3PXP"), k.Delete("approver/anna/totp")}
			_, err := k.Get("approver/anna/totp")
			errs = append(errs, err)
			for _, err := range errs {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range []error{ErrNotFound, ErrNoKeyring, ErrLocked, ErrTooLarge} {
					if errors.Is(err, s) != (s == tt.want) {
						t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == tt.want))
					}
				}
				if !strings.Contains(err.Error(), `"approver/anna/totp"`) {
					t.Errorf("error does not name the key: %v", err)
				}
				if tt.want == ErrNoKeyring && !strings.Contains(err.Error(), "no OS keyring:") {
					t.Errorf("no-keyring error does not say what to do: %v", err)
				}
				if tt.want == ErrLocked && !strings.Contains(err.Error(), "locked: unlock") {
					t.Errorf("locked error does not say what to do: %v", err)
				}
			}
		})
	}
}

func TestErrorsNeverContainTheSecret(t *testing.T) {
	withBus(t)
	const secret = "hunter2-TOPSECRET-JBSWY3DP"
	for _, raw := range []error{
		errors.New("cannot store " + secret + ": org.freedesktop.Secret.Error.IsLocked"),
		errors.New("write |add-generic-password -w " + secret + "|: exit status 45"),
		errors.New("The name org.freedesktop.secrets was not provided by any .service files"),
		keyring.ErrSetDataTooBig,
	} {
		k := fakeKeyring(&fakeBackend{err: raw})
		err := k.Set(AccountPasswordKey("x:@ministry"), secret)
		if err == nil {
			t.Fatal("no error")
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), secret) {
				t.Errorf("error chain contains the secret: %q", e.Error())
			}
		}
		if s := fmt.Sprintf("%+v %#v", err, err); strings.Contains(s, secret) {
			t.Errorf("formatted error contains the secret: %s", s)
		}
	}
}

func TestTimeoutIsLocked(t *testing.T) {
	withBus(t)
	k := fakeKeyring(&fakeBackend{delay: 300 * time.Millisecond})
	k.timeout = 20 * time.Millisecond
	start := time.Now()
	_, err := k.Get("k")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("Get = %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("timed out after %v", d)
	}
	time.Sleep(350 * time.Millisecond) // let the abandoned call finish before the next test
}

func TestNoSessionBusSkipsGoKeyring(t *testing.T) {
	if noSessionBusOS() {
		t.Skip("only Linux and the BSDs use a session bus")
	}
	for _, addr := range []string{"", "autolaunch:"} {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		f := &fakeBackend{}
		k := fakeKeyring(f)
		_, err := k.Get("k")
		if !errors.Is(err, ErrNoKeyring) || !strings.Contains(err.Error(), "DBUS_SESSION_BUS_ADDRESS is not set") {
			t.Errorf("%q: Get = %v", addr, err)
		}
		if err := k.Set("k", "v"); !errors.Is(err, ErrNoKeyring) {
			t.Errorf("%q: Set = %v", addr, err)
		}
		if f.calls != 0 {
			t.Errorf("%q: go-keyring was called %d times without a session bus", addr, f.calls)
		}
	}
}

func noSessionBusOS() bool {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		return false
	}
	return true
}

// The no-bus cases run in a child process: go-keyring caches its D-Bus connection per process,
// and the child's environment is exactly what the case says.
const childEnv = "FOUREYES_CUSTODY_CHILD"

// TestMain runs the child's part instead of the tests when the parent asks for it.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(noBusChild())
	}
	os.Exit(m.Run())
}

// noBusChild is the child process of TestNoBusAnswersQuickly: it asks the keyring for a secret
// in an environment with no usable session bus and reports what it got.
func noBusChild() int {
	k := NewKeyring("foureyes-nobus-test")
	_, err := k.Get(ApproverKey("anna"))
	fmt.Printf("RESULT %v\n", err)
	if !errors.Is(err, ErrNoKeyring) {
		fmt.Printf("Get = %v, want ErrNoKeyring\n", err)
		return 1
	}
	if err := Probe(k); !errors.Is(err, ErrNoKeyring) {
		fmt.Printf("Probe = %v, want ErrNoKeyring\n", err)
		return 1
	}
	return 0
}

func TestNoBusAnswersQuickly(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks Linux processes")
	}
	for _, tt := range []struct {
		name string
		addr *string
	}{
		{"unset", nil},
		{"nonexistent socket", ptr("unix:path=/nonexistent")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			runtimeDir := filepath.Join(tmp, "run")
			if err := os.Mkdir(runtimeDir, 0o700); err != nil {
				t.Fatal(err)
			}
			// Anything the child starts inherits this, even after it is reparented.
			mark := "FOUREYES_CUSTODY_MARK=" + tmp
			cmd := exec.Command(os.Args[0])
			env := []string{childEnv + "=1", mark, "HOME=" + tmp, "XDG_RUNTIME_DIR=" + runtimeDir, "PATH=" + os.Getenv("PATH")}
			if tt.addr != nil {
				env = append(env, "DBUS_SESSION_BUS_ADDRESS="+*tt.addr)
			}
			cmd.Env = env // no DISPLAY, no inherited bus
			start := time.Now()
			out, err := cmd.CombinedOutput()
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("child failed: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "RESULT keyring get") || !strings.Contains(string(out), "no OS keyring") {
				t.Errorf("child did not report no keyring:\n%s", out)
			}
			if elapsed > 5*time.Second {
				t.Errorf("took %v to notice there is no keyring", elapsed)
			}
			time.Sleep(200 * time.Millisecond) // a launched daemon would have forked by now
			for _, p := range markedProcesses(t, mark) {
				t.Errorf("a process started by the keyring code was left running: %s", p)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// markedProcesses lists "pid name" of the running processes whose environment holds mark.
func markedProcesses(t *testing.T, mark string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		testenv.Need(t, "/proc ("+err.Error()+")", "mount procfs")
	}
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if slices.Contains(strings.Split(string(environ), "\x00"), mark) {
			comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
			found = append(found, e.Name()+" "+strings.TrimSpace(string(comm)))
		}
	}
	return found
}

// The real keyring tests need a Secret Service; .ci/with-keyring.sh provides a private one.
func realKeyring(t *testing.T) *Keyring {
	t.Helper()
	testenv.Enabled(t, "FOUREYES_KEYRING_TEST", "the real Secret Service: bash .ci/with-keyring.sh env FOUREYES_KEYRING_TEST=1 go test ./daemon/internal/custody/...")
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	k := NewKeyring("foureyes-test-" + hex.EncodeToString(b))
	k.timeout = 30 * time.Second
	return k
}

func TestRealKeyring(t *testing.T) {
	k := realKeyring(t)
	if err := Probe(k); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	testStore(t, k, func(s string) string { return "test/" + s })
}

func TestRealKeyringServicesAreSeparate(t *testing.T) {
	a := realKeyring(t)
	b := realKeyring(t)
	key := ApproverKey("anna")
	if err := a.Set(key, "seed-a"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Delete(key) }()
	if _, err := b.Get(key); !errors.Is(err, ErrNotFound) {
		t.Errorf("another service sees the secret: %v", err)
	}
	if err := b.Set(key, "seed-b"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Delete(key) }()
	if got, err := a.Get(key); err != nil || got != "seed-a" {
		t.Errorf("a = %q, %v", got, err)
	}
}
