//go:build linux || darwin

package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
)

// trayEnv points the socket discovery at a temporary folder: the user's own daemon's socket
// under XDG_STATE_HOME, the service's under run/.
func trayEnv(t *testing.T) (e *env, out, errb *bytes.Buffer, own string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "runtime"))
	old := systemSocket
	systemSocket = filepath.Join(dir, "run", "foureyes.sock")
	t.Cleanup(func() { systemSocket = old })
	out, errb = &bytes.Buffer{}, &bytes.Buffer{}
	e = &env{stdin: strings.NewReader(""), stdout: out, stderr: errb, getenv: func(string) string { return "" }}
	return e, out, errb, filepath.Join(dir, "xdg", "foureyes", socketName)
}

// Where there is neither a service nor a daemon of the user's own, the autostart entry's
// `foureyes tray --if-service` does nothing and says why; run by hand it fails, saying what to
// start.
func TestTrayWithoutService(t *testing.T) {
	e, _, errb, _ := trayEnv(t)
	if code := run(e, []string{"tray", "--if-service"}); code != exitOK || !strings.Contains(errb.String(), "no foureyes service on this computer") {
		t.Fatalf("tray --if-service without a service: exit %d: %s", code, errb)
	}
	errb.Reset()
	if code := run(e, []string{"tray"}); code != exitUnavailable || !strings.Contains(errb.String(), "start `foureyes daemon`") {
		t.Fatalf("tray without a service: exit %d: %s", code, errb)
	}
}

// The user's own daemon (the same OS user answers on its socket, as the kernel says) shows its
// own tray: `foureyes tray` leaves it alone, so only one icon shows. With --lines it follows
// that daemon instead, not in service mode.
func TestTrayLeavesTheUsersOwnDaemon(t *testing.T) {
	e, out, errb, own := trayEnv(t)
	if err := os.MkdirAll(filepath.Dir(own), 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := adminsock.Listen(own, adminsock.Config{Backend: func(api.Caller) api.Backend { return idleBackend{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serving the socket: %v", err)
		}
	})

	for _, args := range [][]string{{"tray"}, {"tray", "--if-service"}} {
		errb.Reset()
		if code := run(e, args); code != exitOK || !strings.Contains(errb.String(), "shows its own tray") {
			t.Fatalf("%v beside the user's own daemon: exit %d: %s", args, code, errb)
		}
	}
	e.stdin = strings.NewReader("quit\n")
	if code := run(e, []string{"tray", "--lines"}); code != exitOK {
		t.Fatalf("tray --lines: exit %d: %s", code, errb)
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if !strings.Contains(first, `"menu"`) || !strings.Contains(first, `"Open audit trail"`) || strings.Contains(first, "service") {
		t.Fatalf("first line of tray --lines over the user's own daemon: %s", first)
	}
}

// idleBackend is a daemon with nothing open; the embedded nil interface panics on anything
// else the tray might ask.
type idleBackend struct{ api.Backend }

func (idleBackend) Status(context.Context) (api.Status, error) {
	return api.Status{Version: "test", AuditLog: "/home/u/.local/state/foureyes/audit.jsonl", Extensions: 1}, nil
}
func (idleBackend) ListRequests(context.Context) ([]api.Request, error) { return nil, nil }
func (idleBackend) ListSessions(context.Context) ([]api.Session, error) { return nil, nil }
func (idleBackend) Watch(ctx context.Context) (<-chan api.Event, error) {
	ch := make(chan api.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// One tray per user: a second taker of the lock sees it held until the first lets go.
func TestTrayLock(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	home := t.TempDir()
	release, held, err := trayLock(home)
	if err != nil || held {
		t.Fatalf("first take: held %v, %v", held, err)
	}
	if _, held, err := trayLock(home); err != nil || !held {
		t.Fatalf("second take while the first holds it: held %v, %v", held, err)
	}
	release()
	release2, held, err := trayLock(home)
	if err != nil || held {
		t.Fatalf("take after release: held %v, %v", held, err)
	}
	release2()
}

// The daemon's side: while `foureyes tray` holds the lock the daemon shows no icon and says
// why; a lock it cannot take at all does not hide its tray.
func TestDaemonStandsAsideForAnotherTray(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	home := t.TempDir()
	other, held, err := trayLock(home)
	if err != nil || held {
		t.Fatalf("taking the lock: held %v, %v", held, err)
	}
	var logs bytes.Buffer
	logger := log.New(&logs, "", 0)
	if _, ok := takeTrayLock(home, logger); ok || !strings.Contains(logs.String(), "another foureyes tray shows for this user already") {
		t.Fatalf("daemon beside a held lock: show %v, log %q", ok, logs.String())
	}
	other()
	release, ok := takeTrayLock(home, logger)
	if !ok {
		t.Fatal("the daemon shows no tray after the other let go")
	}
	release()

	// A runtime folder that cannot be made: the tray shows anyway, and the log says why.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", blocker)
	logs.Reset()
	if release, ok := takeTrayLock(home, logger); !ok || !strings.Contains(logs.String(), "showing the tray anyway") {
		t.Fatalf("lock folder unusable: show %v, log %q", ok, logs.String())
	} else {
		release()
	}
}
