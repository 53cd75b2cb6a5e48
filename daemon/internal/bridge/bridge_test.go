package bridge

import (
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"foureyes/daemon/internal/api"
)

// upgradeRequest builds a WebSocket upgrade request by hand, so every header can be wrong.
func upgradeRequest(t *testing.T, h *harness, method, path, host, origin string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+h.s.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return req
}

func noCORS(t *testing.T, hdr http.Header) {
	t.Helper()
	for k := range hdr {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "access-control") || strings.Contains(lk, "private-network") {
			t.Errorf("response carries %s: %q", k, hdr.Get(k))
		}
	}
}

func TestUpgradeRefusals(t *testing.T) {
	h := newHarness(t, nil)
	// A live token for mozA, and one for chromeA: a refusal must spend neither.
	mozHello, err := h.s.Hello(mozA)
	if err != nil {
		t.Fatal(err)
	}
	good := "127.0.0.1:" + h.port
	tests := []struct {
		name, method, path, host, origin string
	}{
		{"no origin", "GET", "/v1", good, ""},
		{"null origin", "GET", "/v1", good, "null"},
		{"web page", "GET", "/v1", good, "https://x.com"},
		{"loopback page", "GET", "/v1", good, "http://127.0.0.1:" + h.port},
		{"localhost page", "GET", "/v1", good, "http://localhost:" + h.port},
		{"unpinned chrome extension", "GET", "/v1", good, chromeC},
		{"pinned id with trailing slash", "GET", "/v1", good, chromeA + "/"},
		{"pinned id upper case", "GET", "/v1", good, strings.ToUpper(chromeA)},
		{"moz origin without token", "GET", "/v1", good, "moz-extension://11111111-2222-3333-4444-555555555555"},
		{"moz origin upper case", "GET", "/v1", good, strings.ToUpper(mozA)},
		{"forged host", "GET", "/v1", "evil.example:" + h.port, chromeA},
		{"rebinding host without port", "GET", "/v1", "127.0.0.1", chromeA},
		{"other port", "GET", "/v1", "127.0.0.1:1", chromeA},
		{"localhost other port", "GET", "/v1", "localhost:1", chromeA},
		{"ipv6 host", "GET", "/v1", "[::1]:" + h.port, chromeA},
		{"wrong path", "GET", "/", good, chromeA},
		{"path prefix", "GET", "/v1/", good, chromeA},
		{"query", "GET", "/v1?x=1", good, chromeA},
		{"post", "POST", "/v1", good, chromeA},
		{"put", "PUT", "/v1", good, chromeA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(upgradeRequest(t, h, tt.method, tt.path, tt.host, tt.origin))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status = %d, want 403", resp.StatusCode)
			}
			if len(body) != 0 {
				t.Errorf("body = %q, want none", body)
			}
			if resp.Header.Get("Sec-WebSocket-Accept") != "" || resp.Header.Get("Sec-Websocket-Version") != "" {
				t.Errorf("refusal carries WebSocket headers: %v", resp.Header)
			}
			noCORS(t, resp.Header)
		})
	}
	if calls := h.fb.Calls(); len(calls) != 0 || len(h.fb.Callers()) != 0 {
		t.Errorf("refused upgrades reached the backend: %v", calls)
	}
	if n := h.s.Connected(); n != 0 {
		t.Errorf("Connected() = %d after refusals", n)
	}
	// The moz token survived every refusal: it still opens a connection.
	ws, _, err := h.dial(t, mozA)
	if err != nil {
		t.Fatalf("moz dial after refusals: %v", err)
	}
	send(t, ws, map[string]any{"v": 1, "id": 1, "type": "hello", "token": mozHello.Token, "nonce": nonce16})
	if r := recv(t, ws); r["type"] != "hello" {
		t.Errorf("hello with the surviving token: %v", r)
	}
}

const nonce16 = "AAAAAAAAAAAAAAAAAAAAAA" // 16 zero bytes, unpadded base64url

func TestNotUpgradeIs404(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name, method, path string
		hdr                map[string]string
	}{
		{"root", "GET", "/", nil},
		{"v1 without upgrade", "GET", "/v1", map[string]string{"Origin": chromeA}},
		{"post", "POST", "/v1", map[string]string{"Origin": chromeA}},
		{"private network preflight", "OPTIONS", "/v1", map[string]string{
			"Origin": "https://x.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+h.s.Addr()+tt.path, nil)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || len(body) != 0 {
				t.Errorf("got %d %q, want a bare 404", resp.StatusCode, body)
			}
			noCORS(t, resp.Header)
		})
	}
}

func TestAcceptedUpgradeHasNoCORS(t *testing.T) {
	h := newHarness(t, nil)
	for _, host := range []string{"127.0.0.1:" + h.port, "localhost:" + h.port} {
		t.Run(host, func(t *testing.T) {
			hdr := http.Header{"Origin": {chromeA}, "Host": {host}}
			ws, resp, err := websocket.DefaultDialer.Dial("ws://"+h.s.Addr()+Path, hdr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer func() { _ = ws.Close() }()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("status %d", resp.StatusCode)
			}
			noCORS(t, resp.Header)
		})
	}
}

func TestListensOnLoopbackOnly(t *testing.T) {
	h := newHarness(t, nil)
	host, _, _ := net.SplitHostPort(h.s.Addr())
	if host != "127.0.0.1" {
		t.Fatalf("Addr() = %s, want 127.0.0.1", h.s.Addr())
	}
	// Every other address of this machine must refuse the port.
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	others := []string{"::1"}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if ok && !ipn.IP.Equal(net.IPv4(127, 0, 0, 1)) && !ipn.IP.IsLinkLocalUnicast() {
			others = append(others, ipn.IP.String())
		}
	}
	for _, ip := range others {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, h.port), time.Second)
		if err == nil {
			_ = c.Close()
			t.Errorf("port %s is reachable on %s", h.port, ip)
		}
	}
}

func TestHelloIssuesTokens(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name   string
		origin string
		code   api.Code
	}{
		{"pinned chrome", chromeA, ""},
		{"firefox", mozA, ""},
		{"unpinned chrome", chromeC, api.CodeForbidden},
		{"chrome with slash", chromeA + "/", api.CodeBadRequest},
		{"web page", "https://x.com", api.CodeBadRequest},
		{"moz add-on id instead of uuid", "moz-extension://foureyes@example.org", api.CodeBadRequest},
		{"empty", "", api.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hh, err := h.s.Hello(tt.origin)
			if got := api.CodeOf(err); got != tt.code {
				t.Fatalf("code = %q, want %q (%v)", got, tt.code, err)
			}
			if err != nil {
				return
			}
			if p := h.port; hh.Port == 0 || p != strconv.Itoa(hh.Port) {
				t.Errorf("port = %d, want %s", hh.Port, p)
			}
			if tok, err := base64.RawURLEncoding.DecodeString(hh.Token); err != nil || len(tok) != 32 {
				t.Errorf("token %q is not 32 bytes of base64url", hh.Token)
			}
			if !hh.Expires.Equal(fakeTime.Add(TokenLifetime)) {
				t.Errorf("expires = %v", hh.Expires)
			}
			key, err := base64.StdEncoding.DecodeString(hh.DaemonKey)
			if err != nil || !bytes.Equal(key, h.s.PublicKey()) {
				t.Errorf("daemon_key %q is not the public key", hh.DaemonKey)
			}
		})
	}
}

func TestHelloBeforeListen(t *testing.T) {
	s, err := New(Config{Backend: (&fakeBackend{}).For, ChromeIDs: func() []string { return []string{chromeA[len(chromeScheme):]} }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hello(chromeA); api.CodeOf(err) != api.CodeDaemonUnavailable {
		t.Errorf("Hello before Listen: %v, want daemon_unavailable", err)
	}
}

// TestTokenRules: a pinned origin is not enough; the first message must be a hello with a live
// token issued to this very origin, used once. Every failure closes with forbidden before any
// backend call.
func TestTokenRules(t *testing.T) {
	tests := []struct {
		name string
		// prepare returns the origin to dial from and the first message to send.
		prepare func(t *testing.T, h *harness) (string, map[string]any)
	}{
		{"no hello: status first", func(t *testing.T, h *harness) (string, map[string]any) {
			return chromeA, map[string]any{"v": 1, "id": 1, "type": "status"}
		}},
		{"no token issued", func(t *testing.T, h *harness) (string, map[string]any) {
			return chromeA, hello("AAAA")
		}},
		{"invalid token", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			return chromeA, hello(hh.Token[:len(hh.Token)-1] + "x")
		}},
		{"reused token", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			ws, _, err := h.dial(t, chromeA)
			if err != nil {
				t.Fatal(err)
			}
			send(t, ws, hello(hh.Token))
			if r := recv(t, ws); r["type"] != "hello" {
				t.Fatalf("first use refused: %v", r)
			}
			return chromeA, hello(hh.Token)
		}},
		{"expired token", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			h.clock.Advance(TokenLifetime)
			return chromeA, hello(hh.Token)
		}},
		{"token of another origin", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			return chromeB, hello(hh.Token)
		}},
		{"token without nonce", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			return chromeA, map[string]any{"v": 1, "id": 1, "type": "hello", "token": hh.Token}
		}},
		{"short nonce", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			m := hello(hh.Token)
			m["nonce"] = "AAAA"
			return chromeA, m
		}},
		{"padded nonce", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			m := hello(hh.Token)
			m["nonce"] = nonce16 + "=="
			return chromeA, m
		}},
		{"malformed hello", func(t *testing.T, h *harness) (string, map[string]any) {
			hh := mustHello(t, h, chromeA)
			m := hello(hh.Token)
			m["v"] = "1"
			return chromeA, m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			origin, first := tt.prepare(t, h)
			callsBefore := len(h.fb.Calls())
			callersBefore := len(h.fb.Callers())
			ws, _, err := h.dial(t, origin)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			send(t, ws, first)
			if r := recv(t, ws); errorCode(r) != "forbidden" {
				t.Errorf("reply = %v, want error forbidden", r)
			}
			if code := expectClosed(t, ws); code != websocket.ClosePolicyViolation {
				t.Errorf("close code = %d, want %d", code, websocket.ClosePolicyViolation)
			}
			if len(h.fb.Calls()) != callsBefore || len(h.fb.Callers()) != callersBefore {
				t.Errorf("backend was called: %v", h.fb.Calls()[callsBefore:])
			}
		})
	}
}

// TestTokenForOtherOriginIsSpent: presenting origin A's token from origin B burns it, so A's
// token cannot be tried again from anywhere.
func TestTokenForOtherOriginIsSpent(t *testing.T) {
	h := newHarness(t, nil)
	hh := mustHello(t, h, chromeA)
	ws, _, err := h.dial(t, chromeB)
	if err != nil {
		t.Fatal(err)
	}
	send(t, ws, hello(hh.Token))
	if r := recv(t, ws); errorCode(r) != "forbidden" {
		t.Fatalf("reply = %v", r)
	}
	ws2, _, err := h.dial(t, chromeA)
	if err != nil {
		t.Fatal(err)
	}
	send(t, ws2, hello(hh.Token))
	if r := recv(t, ws2); errorCode(r) != "forbidden" {
		t.Errorf("spent token accepted from its own origin: %v", r)
	}
}

func TestHelloTimeout(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.timing.hello = 50 * time.Millisecond })
	ws, _, err := h.dial(t, chromeA)
	if err != nil {
		t.Fatal(err)
	}
	// Say nothing: the server must give up on its own.
	if r := recv(t, ws); errorCode(r) != "forbidden" {
		t.Errorf("reply = %v, want forbidden", r)
	}
	expectClosed(t, ws)
	if len(h.fb.Callers()) != 0 {
		t.Error("backend was created for a connection without hello")
	}
}

// TestMozOriginLifetime: a moz-extension origin may upgrade only while its token lives or a
// connection from it lasts.
func TestMozOriginLifetime(t *testing.T) {
	h := newHarness(t, nil)
	status := func() int {
		resp, err := http.DefaultClient.Do(upgradeRequest(t, h, "GET", Path, "127.0.0.1:"+h.port, mozA))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusForbidden {
		t.Fatalf("before any hello: %d", got)
	}
	mustHello(t, h, mozA)
	h.clock.Advance(TokenLifetime)
	if got := status(); got != http.StatusForbidden {
		t.Fatalf("after the token expired: %d", got)
	}
	ws, _ := h.connect(t, mozA) // a fresh token, used at once
	// The token is spent, but the live connection keeps the origin allowed.
	if _, _, err := h.dial(t, mozA); err != nil {
		t.Fatalf("second upgrade while connected: %v", err)
	}
	_ = ws.Close()
	waitFor(t, func() bool { return h.s.Connected() == 0 })
	if got := status(); got != http.StatusForbidden {
		t.Errorf("after the connection closed: %d", got)
	}
}

// waitFor polls a condition the server reaches asynchronously (a connection closing): it
// waits on the server's state, never on a rule's timer.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func mustHello(t *testing.T, h *harness, origin string) HostHello {
	t.Helper()
	hh, err := h.s.Hello(origin)
	if err != nil {
		t.Fatal(err)
	}
	return hh
}

func hello(token string) map[string]any {
	return map[string]any{"v": 1, "id": 1, "type": "hello", "token": token, "nonce": nonce16}
}
