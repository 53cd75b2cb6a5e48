package bridge

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/clock"
)

// fakeBackend records every call and answers from its fields. It is only the staff half, as the
// bridge gets from the engine: it has no admin method at all. The embedded interface is nil: a
// method the bridge has no business calling panics.
type fakeBackend struct {
	api.Staff

	mu      sync.Mutex
	calls   []string
	callers []api.Caller

	approveErr error
	approval   api.Approval
	consumeErr error
	session    api.Session
	events     chan api.Event
	// offered is what OfferedApprovers returns (nil: the fakeOffered list); offeredErr its error.
	offered    []api.Approver
	offeredErr error
	offeredFor []string // the account of every OfferedApprovers call
	// What the bridge passed on last: a request, a use, a publish report (session, digest,
	// manifest digest).
	lastRequest   api.NewRequest
	lastUse       api.Use
	lastPublished [3]string
	// media: every chunk handed over (KeepMedia); mediaDone answers each.
	media     []api.MediaChunk
	mediaDone bool
}

func (f *fakeBackend) record(name string) {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// For is the Config.Backend of a test server.
func (f *fakeBackend) For(c api.Caller) api.Staff {
	f.mu.Lock()
	f.callers = append(f.callers, c)
	f.mu.Unlock()
	return f
}

func (f *fakeBackend) Callers() []api.Caller {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Caller(nil), f.callers...)
}

var fakeTime = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func (f *fakeBackend) Status(context.Context) (api.Status, error) {
	f.record("Status")
	return api.Status{Version: "test", PID: 42, Started: fakeTime, Accounts: 1}, nil
}
func (f *fakeBackend) ListAccounts(context.Context) ([]api.Account, error) {
	f.record("ListAccounts")
	return []api.Account{{ID: "mastodon:@press@social.example", Platform: "mastodon", Handle: "@press@social.example", Username: "secret-login"}}, nil
}
func (f *fakeBackend) ListApprovers(context.Context) ([]api.Approver, error) {
	f.record("ListApprovers")
	return []api.Approver{
		{ID: "anna", Name: "Anna Press", OSUser: "anna", Confirmed: true, Failures: 2},
		{ID: "ben", Name: "Ben Pending"},
		{ID: "cem", Name: "Cem Disabled", Confirmed: true, Disabled: true},
	}, nil
}

// fakeOffered is what OfferedApprovers returns unless a test sets fakeBackend.offered.
var fakeOffered = []api.Approver{{ID: "anna", Name: "Anna Press", OSUser: "anna", Confirmed: true, Failures: 2}}

func (f *fakeBackend) OfferedApprovers(_ context.Context, account string) ([]api.Approver, error) {
	f.record("OfferedApprovers")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offeredFor = append(f.offeredFor, account)
	if f.offered == nil {
		return fakeOffered, f.offeredErr
	}
	return f.offered, f.offeredErr
}

// OfferedFor returns the account of every OfferedApprovers call.
func (f *fakeBackend) OfferedFor() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.offeredFor...)
}

// fakeRequest is a complete request, as the engine would return it.
func fakeRequest(id, state string) api.Request {
	return api.Request{ID: id, Account: "mastodon:@press@social.example", Action: api.ActionPost, Text: "Hello, world",
		Digest: testDigest, ManifestDigest: testDigest, Requester: "staff", Created: fakeTime, Expires: fakeTime.Add(10 * time.Minute),
		State: state, ApprovalsNeeded: 1}
}

func (f *fakeBackend) CreateRequest(_ context.Context, r api.NewRequest) (api.Request, error) {
	f.record("CreateRequest")
	f.mu.Lock()
	f.lastRequest = r
	f.mu.Unlock()
	req := fakeRequest("req-1", api.RequestPending)
	req.Account, req.Action, req.Text = r.Account, r.Action, r.Text
	req.Media, req.Target = r.Media, r.Target
	return req, nil
}
func (f *fakeBackend) ListRequests(context.Context) ([]api.Request, error) {
	f.record("ListRequests")
	return nil, nil
}
func (f *fakeBackend) Approve(context.Context, string, string, string) (api.Approval, error) {
	f.record("Approve")
	return f.approval, f.approveErr
}
func (f *fakeBackend) Deny(_ context.Context, id, _, _ string) (api.Request, error) {
	f.record("Deny")
	return fakeRequest(id, api.RequestDenied), nil
}
func (f *fakeBackend) Cancel(_ context.Context, id string) (api.Request, error) {
	f.record("Cancel")
	return fakeRequest(id, api.RequestCanceled), nil
}
func (f *fakeBackend) ListSessions(context.Context) ([]api.Session, error) {
	f.record("ListSessions")
	return nil, nil
}
func (f *fakeBackend) Consume(_ context.Context, u api.Use) (api.Session, error) {
	f.record("Consume")
	f.mu.Lock()
	f.lastUse = u
	f.mu.Unlock()
	return f.session, f.consumeErr
}
func (f *fakeBackend) ReportPublished(_ context.Context, id, dg, mdg string) error {
	f.record("ReportPublished")
	f.mu.Lock()
	f.lastPublished = [3]string{id, dg, mdg}
	f.mu.Unlock()
	return nil
}
func (f *fakeBackend) ReportBlocked(context.Context, api.Blocked) error {
	f.record("ReportBlocked")
	return nil
}
func (f *fakeBackend) ReportUnrecognised(_ context.Context, u api.Unrecognised) error {
	f.record("ReportUnrecognised " + u.Platform + " " + u.Host + " " + u.Method + " " + u.Path + " " + u.Tab)
	return nil
}
func (f *fakeBackend) KeepMedia(_ context.Context, c api.MediaChunk) (bool, error) {
	f.record("KeepMedia")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.media = append(f.media, c)
	return f.mediaDone, nil
}
func (f *fakeBackend) Lock(context.Context, string) (api.LockResult, error) {
	f.record("Lock")
	return api.LockResult{}, api.E(api.CodeNotPermitted)
}
func (f *fakeBackend) Watch(ctx context.Context) (<-chan api.Event, error) {
	out := make(chan api.Event)
	f.mu.Lock()
	in := f.events
	f.mu.Unlock()
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-in: // nil channel: blocks until ctx ends
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// Test origins.
const (
	chromeA = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
	chromeB = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"
	chromeC = "chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // well formed, not pinned
	mozA    = "moz-extension://0b7c2a3e-4f51-4c1a-9d0e-6a2b8c9d1e2f"
)

type harness struct {
	s     *Server
	fb    *fakeBackend
	clock *clock.Fake
	port  string
	logs  *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) Logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, format)
	l.mu.Unlock()
}

// newHarness starts a server on a free loopback port with chromeA and chromeB pinned.
func newHarness(t testing.TB, tweak func(*Server)) *harness {
	t.Helper()
	fb := &fakeBackend{events: make(chan api.Event)}
	h := newHarnessWith(t, fb.For, tweak)
	h.fb = fb
	return h
}

// newHarnessWith is newHarness with another backend (h.fb is nil).
func newHarnessWith(t testing.TB, backend func(api.Caller) api.Staff, tweak func(*Server)) *harness {
	t.Helper()
	fc := clock.NewFake(fakeTime)
	logs := &logBuf{}
	s, err := New(Config{
		ChromeIDs: func() []string { return []string{chromeA[len(chromeScheme):], chromeB[len(chromeScheme):]} },
		Backend:   backend,
		Owner:     api.Caller{OSUser: "staff", UID: 1000},
		Now:       fc.Now,
		Logf:      logs.Logf,
		Version:   "1.2.3",
	})
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(s)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	_, port, _ := strings.Cut(s.Addr(), ":")
	return &harness{s: s, clock: fc, port: port, logs: logs}
}

// dial opens a WebSocket to the harness with the given Origin (none if empty).
func (h *harness) dial(t testing.TB, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+h.s.Addr()+Path, hdr)
	if ws != nil {
		t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// connect dials from origin and completes the hello; it returns the connection and its nonce.
func (h *harness) connect(t testing.TB, origin string) (*websocket.Conn, string) {
	t.Helper()
	hh, err := h.s.Hello(origin)
	if err != nil {
		t.Fatalf("Hello(%s): %v", origin, err)
	}
	ws, _, err := h.dial(t, origin)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	nonce := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef-nonce"))
	send(t, ws, map[string]any{"v": 1, "id": 1, "type": "hello", "token": hh.Token, "nonce": nonce})
	if r := recv(t, ws); r["type"] != "hello" {
		t.Fatalf("hello reply = %v", r)
	}
	return ws, nonce
}

func send(t testing.TB, ws *websocket.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// recv reads one message; it fails the test after 5 s so a hang is a failure, not a timeout.
func recv(t testing.TB, ws *websocket.Conn) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reply %q is not JSON: %v", b, err)
	}
	return m
}

// recvInto reads one message into v.
func recvInto(t testing.TB, ws *websocket.Conn, v any) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
}

// errorCode returns the code of an error reply, or "" for another reply.
func errorCode(m map[string]any) string {
	if m["type"] != "error" {
		return ""
	}
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// expectClosed reads until the connection closes and returns the close code.
func expectClosed(t testing.TB, ws *websocket.Conn) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if ok := asCloseError(err, &ce); ok {
			return ce.Code
		}
		return -1
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	c, ok := err.(*websocket.CloseError)
	if ok {
		*ce = c
	}
	return ok
}

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('A'+seed)), 32)))
}
