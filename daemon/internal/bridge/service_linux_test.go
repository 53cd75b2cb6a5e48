package bridge

import (
	"encoding/base64"
	"os"
	"sync"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/peeruid"
)

// A shared bridge (service mode): the kernel names the OS user holding each connection
// (peeruid, for real), and a token counts only in that user's hands.
func sharedHarness(t *testing.T) (*harness, *[]Refusal) {
	t.Helper()
	var mu sync.Mutex
	var refused []Refusal
	h := newHarness(t, func(s *Server) {
		s.cfg.PeerUID = peeruid.Of
		s.cfg.OnRefused = func(r Refusal) { mu.Lock(); refused = append(refused, r); mu.Unlock() }
	})
	return h, &refused
}

func helloWith(t *testing.T, h *harness, token string) map[string]any {
	t.Helper()
	ws, _, err := h.dial(t, chromeA)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	nonce := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef-nonce"))
	send(t, ws, map[string]any{"v": 1, "id": 1, "type": "hello", "token": token, "nonce": nonce})
	return recv(t, ws)
}

func TestSharedBridgeActsAsTheTokensUser(t *testing.T) {
	h, refused := sharedHarness(t)
	me := api.Caller{OSUser: "staff-here", UID: os.Getuid(), Via: "admin"}
	hh, err := h.s.HelloFor(chromeA, me)
	if err != nil {
		t.Fatal(err)
	}
	if r := helloWith(t, h, hh.Token); r["type"] != "hello" {
		t.Fatalf("hello with my own token: %v", r)
	}
	cs := h.fb.Callers()
	if len(cs) != 1 || cs[0].UID != me.UID || cs[0].OSUser != "staff-here" || cs[0].Via != "bridge" {
		t.Fatalf("the connection acts as %+v, want the token's user over the bridge", cs)
	}
	if len(*refused) != 0 {
		t.Fatalf("refusals: %v", *refused)
	}
}

// Another OS user's token, presented from this process: refused with the same answer as any
// bad token, and reported for the trail with both uids.
func TestSharedBridgeRefusesAnotherUsersToken(t *testing.T) {
	h, refused := sharedHarness(t)
	victim := api.Caller{OSUser: "anna", UID: os.Getuid() + 4242}
	hh, err := h.s.HelloFor(chromeA, victim)
	if err != nil {
		t.Fatal(err)
	}
	r := helloWith(t, h, hh.Token)
	e, _ := r["error"].(map[string]any)
	if r["type"] != "error" || e["code"] != "forbidden" {
		t.Fatalf("hello with another user's token: %v", r)
	}
	if len(h.fb.Callers()) != 0 {
		t.Fatalf("the backend was reached: %v", h.fb.Callers())
	}
	if len(*refused) != 1 || (*refused)[0].PeerUID != os.Getuid() || (*refused)[0].TokenUID != victim.UID || (*refused)[0].Origin != chromeA {
		t.Fatalf("refusals: %+v", *refused)
	}
	// The token is spent: the victim cannot use it either, and nobody can try it twice.
	if r := helloWith(t, h, hh.Token); r["type"] != "error" {
		t.Fatalf("a spent token worked: %v", r)
	}
	// A token bound to nobody is never issued by a shared bridge.
	if _, err := h.s.Hello(chromeA); api.CodeOf(err) != api.CodeForbidden {
		t.Fatalf("unbound Hello on a shared bridge: %v", err)
	}
}
