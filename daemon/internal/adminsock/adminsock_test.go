package adminsock

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/engine"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/trim"
)

type setup struct {
	eng   *engine.Engine
	pol   *policy.Policy
	clk   *clock.Fake
	store custody.Store
	sock  string
	srv   *Server
	seen  []api.Caller
}

// start runs a real engine (real audit log with fsync, in-memory secrets) behind a socket.
func start(tb testing.TB, allow func(int) bool) *setup {
	tb.Helper()
	return startWith(tb, allow, policy.Default(), nil)
}

// startWith is start under policy pol; wrap, when set, wraps the engine's owner value the
// server hands each connection.
func startWith(tb testing.TB, allow func(int) bool, pol *policy.Policy, wrap func(api.Backend) api.Backend) *setup {
	tb.Helper()
	dir, err := os.MkdirTemp("", "fe-sock-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	l, err := audit.Open(filepath.Join(dir, "audit.jsonl"), audit.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close() })
	s := &setup{clk: clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)), store: custody.NewMemory(), pol: pol}
	s.eng, err = engine.New(engine.Options{Home: dir, Store: s.store, Audit: l, Policy: pol, PolicySource: "test", Clock: s.clk})
	if err != nil {
		tb.Fatal(err)
	}
	s.sock = filepath.Join(dir, "s.sock")
	s.srv, err = Listen(s.sock, Config{AllowUID: allow, Backend: func(c api.Caller) api.Backend {
		s.seen = append(s.seen, c)
		if wrap != nil {
			return wrap(s.eng.Owner(c))
		}
		return s.eng.Owner(c)
	}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.srv.Serve(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	return s
}

func TestSocketIsPrivate(t *testing.T) {
	s := start(t, nil)
	fi, err := os.Stat(s.sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode())
	}
	di, _ := os.Stat(filepath.Dir(s.sock))
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory mode %v, want 0700", di.Mode())
	}
}

func TestCallerFromPeerCredentials(t *testing.T) {
	s := start(t, nil)
	c := Dial(s.sock)
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.seen) != 1 || s.seen[0].UID != os.Getuid() || s.seen[0].Via != "admin" || s.seen[0].OSUser == "" {
		t.Fatalf("caller %+v, want this process's uid from the kernel", s.seen)
	}
	// A message cannot claim to be someone else: there is no field for it, and extra fields
	// are ignored.
	conn, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write([]byte(`{"v":1,"method":"status","params":{},"caller":{"os_user":"root","uid":0}}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if len(s.seen) != 2 || s.seen[1].UID != os.Getuid() {
		t.Fatal("the caller came from the message")
	}
}

func TestOtherUIDRefused(t *testing.T) {
	s := start(t, func(uid int) bool { return false })
	_, err := Dial(s.sock).Status(context.Background())
	if api.CodeOf(err) != api.CodeNotPermitted {
		t.Fatalf("got %v, want not_permitted", err)
	}
	if len(s.seen) != 0 {
		t.Fatal("the backend was reached by a refused peer")
	}
}

func TestSecondDaemonRefusedStaleSocketReplaced(t *testing.T) {
	s := start(t, nil)
	if _, err := Listen(s.sock, Config{Backend: func(api.Caller) api.Backend { return nil }}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	// A stale socket file (nothing listening) is replaced.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	ln, _ := net.Listen("unix", stale)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close()
	srv, err := Listen(stale, Config{Backend: func(api.Caller) api.Backend { return nil }})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	_ = srv.ln.Close()
}

func TestBadRequests(t *testing.T) {
	s := start(t, nil)
	for _, tt := range []struct {
		name, line string
		want       api.Code
	}{
		{"not json", "hello\n", api.CodeBadRequest},
		{"wrong version", `{"v":9,"method":"status"}` + "\n", api.CodeUnsupported},
		{"unknown method", `{"v":1,"method":"selfdestruct"}` + "\n", api.CodeUnsupported},
		{"bad params", `{"v":1,"method":"request.approve","params":{"request_id":5}}` + "\n", api.CodeBadRequest},
		{"oversized", `{"v":1,"method":"status","params":{"x":"` + strings.Repeat("a", maxRequest+10) + `"}}` + "\n", api.CodeTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("unix", s.sock)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			go func() { _, _ = conn.Write([]byte(tt.line)) }()
			line, _ := bufio.NewReader(conn).ReadString('\n')
			if !strings.Contains(line, `"code":"`+string(tt.want)+`"`) {
				t.Fatalf("answer %q, want code %s", line, tt.want)
			}
		})
	}
	// The server still serves.
	if _, err := Dial(s.sock).Status(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestClientDaemonUnavailable(t *testing.T) {
	_, err := Dial(filepath.Join(t.TempDir(), "none.sock")).Status(context.Background())
	if api.CodeOf(err) != api.CodeDaemonUnavailable || !strings.Contains(err.Error(), "foureyes daemon") {
		t.Fatalf("got %v", err)
	}
}

func TestWatchOverSocket(t *testing.T) {
	s := start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Dial(s.sock).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(s.sock).Lock(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Kind != api.EventLock {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event over the socket")
	}
}

// BenchmarkApproveRoundTrip measures request + approve over the admin socket against the real
// engine and audit log (three fsynced audit lines per iteration: request, approval, session).
func BenchmarkApproveRoundTrip(b *testing.B) { benchApprove(b, false) }

// BenchmarkApproveRoundTripAfterTrim is the same round trip, each one right after the daemon
// gave its idle memory back (trim.Now, untimed): what the first approval after a quiet spell
// costs. Client and daemon share this process, so the client's pages come back too: an upper
// bound.
func BenchmarkApproveRoundTripAfterTrim(b *testing.B) { benchApprove(b, true) }

func benchApprove(b *testing.B, trimFirst bool) {
	s := start(b, nil)
	ctx := context.Background()
	c := Dial(s.sock)
	en, err := c.EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"})
	if err != nil {
		b.Fatal(err)
	}
	code := func() string {
		cd, _ := rules.CodeAt(en.Secret, rules.Step(s.clk.Now()))
		return cd
	}
	if _, err := c.ConfirmApprover(ctx, "anna", code()); err != nil {
		b.Fatal(err)
	}
	if _, err := c.AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@m", Username: "press", Password: "pw"}); err != nil {
		b.Fatal(err)
	}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.clk.Advance(30 * time.Second) // a fresh TOTP step: each code is accepted once
		cd := code()
		if trimFirst {
			b.StopTimer()
			if _, err := trim.Now(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		t0 := time.Now()
		r, err := c.CreateRequest(ctx, api.NewRequest{Account: "x:@m", Action: "post", Text: "Benchmark"})
		if err != nil {
			b.Fatal(err)
		}
		ap, err := c.Approve(ctx, r.ID, "anna", cd)
		if err != nil || ap.Session == nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	if len(durs) > 0 {
		b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds()), "p99-µs")
	}
}
