package tray

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

// fakeBackend answers what the tray asks; the embedded nil interface makes any other call panic.
type fakeBackend struct {
	api.Backend
	mu       sync.Mutex
	status   api.Status
	requests []api.Request
	sessions []api.Session
	events   chan api.Event
	locks    chan string
}

func (f *fakeBackend) Status(context.Context) (api.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, nil
}

func (f *fakeBackend) ListRequests(context.Context) ([]api.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Request(nil), f.requests...), nil
}

func (f *fakeBackend) ListSessions(context.Context) ([]api.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Session(nil), f.sessions...), nil
}

func (f *fakeBackend) Watch(context.Context) (<-chan api.Event, error) { return f.events, nil }

func (f *fakeBackend) Lock(_ context.Context, reason string) (api.LockResult, error) {
	f.locks <- reason
	return api.LockResult{}, nil
}

type captureNotifier chan Notification

func (c captureNotifier) Notify(_ context.Context, n Notification) error {
	c <- n
	return nil
}

// harness runs the controller's loop with a recording renderer.
type harness struct {
	b       *fakeBackend
	menus   chan Menu
	clicks  chan slot
	notes   captureNotifier
	opened  chan string
	done    chan error
	quitted chan struct{}
	actions atomic.Int32
}

func start(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		b:      &fakeBackend{status: healthy(), events: make(chan api.Event), locks: make(chan string, 1)},
		menus:  make(chan Menu, 16),
		clicks: make(chan slot), notes: make(captureNotifier, 4), opened: make(chan string, 1),
		done: make(chan error, 1), quitted: make(chan struct{}),
	}
	c := newController(h.b, Options{
		Notifier: h.notes,
		UIURL:    func(page string) (string, error) { return "file:///run/user/0/foureyes/open-" + page + ".html", nil },
		OpenURL:  func(u string) error { h.opened <- u; return nil },
		OnQuit:   func() { close(h.quitted) },
		OnAction: func() { h.actions.Add(1) },
		Logf:     t.Logf,
		Now:      func() time.Time { return t0 },
	}, func(m Menu) { h.menus <- m })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { h.done <- c.run(ctx, h.clicks) }()
	return h
}

func (h *harness) menu(t *testing.T) Menu {
	t.Helper()
	select {
	case m := <-h.menus:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no menu rendered")
	}
	return Menu{}
}

func TestControllerRebuildsAndNotifiesOnEvents(t *testing.T) {
	h := start(t)
	if m := h.menu(t); m.Icon != IconReady {
		t.Fatalf("first menu icon = %s", m.Icon)
	}
	x := active("s1", "r1", 7*time.Minute)
	h.b.mu.Lock()
	h.b.sessions = []api.Session{x}
	h.b.mu.Unlock()
	h.b.events <- api.Event{Kind: api.EventSession, Time: t0, Session: &x}
	if m := h.menu(t); m.Icon != IconSession {
		t.Errorf("after session event icon = %s", m.Icon)
	}
	if n := <-h.notes; n.Title != "Posting session open" {
		t.Errorf("notification %q", n.Title)
	}

	h.b.mu.Lock()
	h.b.sessions = nil
	h.b.mu.Unlock()
	h.b.events <- api.Event{Kind: api.EventLock, Time: t0}
	if m := h.menu(t); m.Icon != IconLocked {
		t.Errorf("after lock icon = %s", m.Icon)
	}
	<-h.notes
}

func TestControllerActions(t *testing.T) {
	h := start(t)
	h.menu(t)
	h.clicks <- slot{secLock, 0}
	select {
	case reason := <-h.b.locks:
		if reason != lockReason {
			t.Errorf("lock reason %q", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Lock now did not call Backend.Lock")
	}
	h.menu(t)
	h.clicks <- slot{secEnrol, 0}
	if u := <-h.opened; u != "file:///run/user/0/foureyes/open-enrol.html" {
		t.Errorf("opened %q", u)
	}
	h.menu(t)
	// A disabled information line does nothing.
	h.clicks <- slot{secHeadline, 0}
	h.menu(t)
	h.clicks <- slot{secQuit, 0}
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Quit did not end the loop")
	}
	// Every click is activity for the daemon's idle trim, a disabled line's too.
	if n := h.actions.Load(); n != 4 {
		t.Errorf("OnAction called %d times for 4 clicks", n)
	}
	select {
	case <-h.quitted:
	default:
		t.Error("OnQuit not called")
	}
}

func TestControllerDaemonGone(t *testing.T) {
	h := start(t)
	h.menu(t)
	close(h.b.events)
	if m := h.menu(t); m.Icon != IconProblem || m.Problems[0].Label != "Daemon not reachable" {
		t.Errorf("after watch ended: icon %s, problems %q", m.Icon, labels(m.Problems))
	}
}

func TestRunWithoutDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if ok, reason := Available(); ok || reason == "" {
		t.Fatalf("Available() = %v, %q without a display", ok, reason)
	}
	if err := Run(context.Background(), &fakeBackend{}, Options{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Run without a display: %v, want ErrUnavailable", err)
	}
}
