package testenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// OtherUserName is the second OS user that tests run attackers as: someone else on the same
// laptop. It is a system account without a home or a login shell.
const OtherUserName = "foureyes-test-other"

// StaffUserName is the staff member of the red-team test: a system account like
// [OtherUserName], given a private home of its own per test (see [OtherUser.NewHome]).
const StaffUserName = "foureyes-test-staff"

// ServiceUserName is the OS user a test runs `foureyes service` as, as systemd runs it as
// `foureyes`: neither root nor any staff member.
const ServiceUserName = "foureyes-test-svc"

// OtherUser is a second OS user on this machine.
type OtherUser struct {
	Name     string
	UID, GID uint32
}

// NeedOtherUser returns the second OS user, creating it with useradd if it is missing. Only
// root can run a process as another user: without root (or useradd) the test skips, or fails
// under CI.
func NeedOtherUser(t testing.TB) OtherUser {
	t.Helper()
	return NeedUser(t, OtherUserName)
}

// NeedUser returns the system user name (one of the names above), creating it with useradd
// (no home, no login shell) if it is missing, as [NeedOtherUser] does.
func NeedUser(t testing.TB, name string) OtherUser {
	t.Helper()
	if os.Geteuid() != 0 {
		Need(t, "root, to run a process as a second OS user", "run the tests as root, as CI does")
	}
	u, err := user.Lookup(name)
	if err != nil {
		bin, lerr := exec.LookPath("useradd")
		if lerr != nil {
			Need(t, "useradd", "apt-get install passwd")
		}
		// Packages tested in parallel may create the user at the same time: useradd then fails
		// because the user exists (status 9) or /etc/passwd is locked (status 10); look again.
		for i := 0; ; i++ {
			out, aerr := exec.Command(bin, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
			if u, err = user.Lookup(name); err == nil {
				break
			}
			if i == 20 {
				t.Fatalf("creating the test user %s: %v: %s", name, aerr, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	if int(uid) == os.Getuid() {
		t.Fatalf("user %s has the test's own uid %d", name, uid)
	}
	return OtherUser{Name: name, UID: uint32(uid), GID: uint32(gid)}
}

// NewHome makes a home folder for u, owned by u and private to it (0700), under the system's
// temporary folder, removed when the test ends. Commands get it through HOME: the account
// itself keeps no home, so nothing of one test run is left for the next.
func (u OtherUser) NewHome(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", u.Name+"-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := u.Own(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Own gives path to u with mode perm.
func (u OtherUser) Own(path string, perm os.FileMode) error {
	if err := os.Chown(path, int(u.UID), int(u.GID)); err != nil {
		return fmt.Errorf("giving %s to %s: %w", path, u.Name, err)
	}
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	return nil
}

// Command prepares prog to run as u, in /, with the environment given (nothing else).
func (u OtherUser) Command(env []string, prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, NoSetGroups: true}}
	cmd.Dir = "/"
	cmd.Env = env
	return cmd
}

// TestBinary returns a copy of the running test binary that u can execute (go test builds it
// in a folder only its owner may enter), in a folder removed when the test ends. Running it
// with -test.run naming one test and an environment variable is how a test plays an attacker
// in a process of its own.
func (u OtherUser) TestBinary(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "foureyes-other-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(self))
	if err := copyFile(self, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(src, dst string, mode os.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}
