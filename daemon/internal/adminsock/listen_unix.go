//go:build !windows

package adminsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// listen makes the Unix socket at path: 0600 in a 0700 folder, or in service mode (shared)
// 0666 in a 0755 folder, where the kernel's peer credentials say who each caller is.
func listen(path string, shared bool) (net.Listener, error) {
	dirMode, sockMode := os.FileMode(0o700), os.FileMode(0o600)
	if shared {
		dirMode, sockMode = 0o755, 0o666
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return nil, fmt.Errorf("setting the mode of %s to %04o: %w", dir, dirMode, err)
	}
	if Answers(path) {
		return nil, fmt.Errorf("a foureyes daemon is already running on %s (stop it first, or set FOUREYES_HOME for a second instance)", path)
	}
	_ = os.Remove(path) // stale socket from a crash; nothing answered
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, sockMode); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("setting the mode of %s to %04o: %w", path, sockMode, err)
	}
	return ln, nil
}

// Answers reports whether a daemon accepts connections on the admin socket at path.
func Answers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// userName resolves uid to a login name, falling back to the number.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// itHint says who IT is, in a refusal of an IT-only method.
const itHint = "run it as root (sudo) or as a member of the service's admin group"

// connPeer names the OS user at the other end of c, as the kernel reports it.
func connPeer(c net.Conn, _ *Config) (peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{uid: -1}, errors.New("not a Unix socket connection")
	}
	uid, err := peerUID(uc)
	if err != nil {
		return peer{uid: -1}, err
	}
	return peer{uid: uid, name: userName(uid)}, nil
}
