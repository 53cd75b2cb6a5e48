package bridge

import (
	"context"
	"encoding/json"
	"foureyes/daemon/internal/testenv"
	"github.com/gorilla/websocket"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/engine"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
)

// realEngine is an engine as the daemon runs it: a temporary home, secrets in memory, a real
// audit log.
func realEngine(t *testing.T) (*engine.Engine, *clock.Fake) {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.Open(filepath.Join(dir, "audit.jsonl"), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	clk := clock.NewFake(fakeTime)
	eng, err := engine.New(engine.Options{Home: dir, Store: custody.NewMemory(), Audit: l,
		Policy: policy.Default(), PolicySource: "test", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	return eng, clk
}

// adminMethods are the names of every method only the owner may call.
func adminMethods() []string {
	at := reflect.TypeFor[api.Admin]()
	out := make([]string, at.NumMethod())
	for i := range out {
		out[i] = at.Method(i).Name
	}
	return out
}

// checkStaffOnly fails unless v is an api.Staff that cannot be turned into the admin half: not
// as a whole, and not one method of it.
func checkStaffOnly(t *testing.T, v any) {
	t.Helper()
	if _, ok := v.(api.Staff); !ok {
		t.Errorf("%T is not an api.Staff", v)
	}
	if _, ok := v.(api.Admin); ok {
		t.Errorf("%T can be type-asserted to api.Admin", v)
	}
	if _, ok := v.(api.Backend); ok {
		t.Errorf("%T can be type-asserted to api.Backend", v)
	}
	rt := reflect.TypeOf(v)
	for _, name := range adminMethods() {
		if _, ok := rt.MethodByName(name); ok {
			t.Errorf("%T has the admin method %s", v, name)
		}
	}
}

// TestEngineStaffIsNotAdmin pins the engine's two values: what it hands the bridge is only the
// staff half, what it hands the admin socket and the tray is everything.
func TestEngineStaffIsNotAdmin(t *testing.T) {
	eng, _ := realEngine(t)
	c := api.Caller{OSUser: "staff", UID: 1000, Via: "bridge"}

	checkStaffOnly(t, eng.Staff(c))
	if len(adminMethods()) == 0 {
		t.Fatal("api.Admin has no methods: the check above proves nothing")
	}

	owner := any(eng.Owner(api.Caller{OSUser: "staff", UID: 1000, Via: "admin"}))
	if _, ok := owner.(api.Backend); !ok {
		t.Errorf("Owner's %T is not an api.Backend", owner)
	}
	if _, ok := owner.(api.Admin); !ok {
		t.Errorf("Owner's %T is not an api.Admin", owner)
	}
}

// TestBridgeReceivesOnlyStaff runs the bridge on a real engine's Staff and checks what the
// bridge receives for a connection, and that it works through it (the approvers it lists are the
// engine's choice for the owner).
func TestBridgeReceivesOnlyStaff(t *testing.T) {
	eng, clk := realEngine(t)
	var mu sync.Mutex
	var got []api.Staff
	var callers []api.Caller
	// The bridge acts as the OS user the daemon runs as: one that exists here, since the engine
	// enrols approvers only under existing OS users.
	me, err := user.Current()
	if err != nil {
		t.Fatalf("the current OS user: %v", err)
	}
	self := api.Caller{OSUser: me.Username, UID: os.Getuid()}
	h := newHarnessWith(t, func(c api.Caller) api.Staff {
		st := eng.Staff(c)
		mu.Lock()
		got, callers = append(got, st), append(callers, c)
		mu.Unlock()
		return st
	}, func(s *Server) { s.cfg.Owner = api.Caller{OSUser: self.OSUser, UID: self.UID, Via: "bridge"} })

	// Enrol through the owner's value: anna has no OS user here, ben is the bridge's own OS
	// user (the requester, so never offered to himself), cem is still pending.
	ctx := context.Background()
	owner := eng.Owner(api.Caller{OSUser: self.OSUser, UID: self.UID, Via: "admin"})
	var annaSecret string
	for _, a := range []struct {
		id, name, osUser string
		confirm          bool
	}{{"anna", "Anna Press", "", true}, {"ben", "Ben Staff", self.OSUser, true}, {"cem", "Cem Pending", "", false}} {
		var by api.Authority
		if annaSecret != "" { // anna, the first, vouches for the others with a fresh code
			clk.Advance(30 * time.Second)
			code, _ := rules.CodeAt(annaSecret, rules.Step(clk.Now()))
			by = api.Authority{Approver: "anna", Code: code}
		}
		en, err := owner.EnrollApprover(ctx, api.NewApprover{ID: a.id, Name: a.name, OSUser: a.osUser, By: by})
		if err != nil {
			t.Fatal(err)
		}
		if annaSecret == "" {
			annaSecret = en.Secret
		}
		if a.confirm {
			code, _ := rules.CodeAt(en.Secret, rules.Step(clk.Now()))
			if _, err := owner.ConfirmApprover(ctx, a.id, code); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Asked before an account is chosen, the engine offers whoever may approve an account in
	// custody: there must be one.
	if _, err := owner.AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@ministry", Username: "press", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	ws, _ := h.connect(t, chromeA)
	send(t, ws, map[string]any{"v": 1, "id": 2, "type": "approvers"})
	var ar approversReply
	recvInto(t, ws, &ar)
	if want := []ApproverInfo{{ID: "anna", Name: "Anna Press"}}; ar.Type != TypeApprovers || !slices.Equal(ar.Approvers, want) {
		t.Errorf("approvers reply = %+v, want %+v", ar, want)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || len(callers) != 1 {
		t.Fatalf("backend asked %d times, want once per connection", len(got))
	}
	if want := (api.Caller{OSUser: self.OSUser, UID: self.UID, Via: "bridge"}); callers[0] != want {
		t.Errorf("bridge caller = %+v, want %+v", callers[0], want)
	}
	checkStaffOnly(t, got[0])
}

// TestApproversListsExactlyOffered: the approvers message is OfferedApprovers' answer as is, in
// its order, with only id and name: the bridge neither filters (the rules decided) nor adds, and
// does not fall back to the full list.
func TestApproversListsExactlyOffered(t *testing.T) {
	tests := []struct {
		name    string
		offered []api.Approver
		want    string
	}{
		{"several, in the engine's order, even ones the bridge once filtered",
			[]api.Approver{
				{ID: "zoe", Name: "Zoe Last", OSUser: "zoe", Confirmed: true, Failures: 3},
				{ID: "anna", Name: "Anna Press", Confirmed: true},
				{ID: "ben", Name: "Ben Pending"},
				{ID: "cem", Name: "Cem Disabled", Confirmed: true, Disabled: true},
			},
			`[{"id":"zoe","name":"Zoe Last"},{"id":"anna","name":"Anna Press"},{"id":"ben","name":"Ben Pending"},{"id":"cem","name":"Cem Disabled"}]`},
		{"none offered: an empty list, not null", []api.Approver{}, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.fb.offered = tt.offered
			ws, _ := h.connect(t, chromeA)
			send(t, ws, map[string]any{"v": 1, "id": 2, "type": "approvers"})
			var raw map[string]json.RawMessage
			recvInto(t, ws, &raw)
			if string(raw["type"]) != `"approvers"` || string(raw["id"]) != "2" {
				t.Fatalf("reply = %s", raw)
			}
			if got := string(raw["approvers"]); got != tt.want {
				t.Errorf("approvers = %s, want %s", got, tt.want)
			}
			if calls := h.fb.Calls(); !slices.Equal(calls, []string{"OfferedApprovers"}) {
				t.Errorf("backend calls = %v, want only OfferedApprovers", calls)
			}
			// The protocol's approvers message names no account (see PROTOCOL.md).
			if got := h.fb.OfferedFor(); len(got) != 1 {
				t.Errorf("OfferedApprovers called for %q, want one call", got)
			}
		})
	}

	t.Run("refusal passes through", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fb.offeredErr = api.Errorf(api.CodeInvalidPolicy, "the policy in force is invalid")
		ws, _ := h.connect(t, chromeA)
		send(t, ws, map[string]any{"v": 1, "id": 3, "type": "approvers"})
		r := recv(t, ws)
		if errorCode(r) != string(api.CodeInvalidPolicy) {
			t.Errorf("reply = %v, want invalid_policy", r)
		}
		if calls := h.fb.Calls(); slices.Contains(calls, "ListApprovers") {
			t.Errorf("the bridge fell back to ListApprovers: %v", calls)
		}
		if strings.Contains(r["type"].(string), "approvers") {
			t.Errorf("a list was sent despite the refusal: %v", r)
		}
	})
}

// The bridge holds a bounded number of connections: past it an upgrade is refused at once,
// before any hello, and a slot frees when a connection closes.
func TestBridgeCapsConnections(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.maxConns = 3 })
	var open []*websocket.Conn
	for i := 0; i < 3; i++ {
		ws, _, err := h.dial(t, chromeA)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, ws)
	}
	// serveConn registers a connection just after the upgrade: wait until all three count.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.s.mu.Lock()
		n := len(h.s.conns)
		h.s.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections registered, want 3", n)
		}
		time.Sleep(time.Millisecond)
	}
	_, resp, err := h.dial(t, chromeA)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a fourth connection: %v %+v, want 503", err, resp)
	}
	_ = open[0].Close()
	for {
		if _, _, err := h.dial(t, chromeA); err == nil {
			break
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("no slot freed after a connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSignInOverTheBridge: over a live bridge on a real engine, a session's credentials come
// once, with the platform's own code computed in the daemon (checked with oathtool, an
// independent TOTP implementation); a second ask is refused.
func TestSignInOverTheBridge(t *testing.T) {
	oath := testenv.Program(t, "", "oathtool", "oathtool")
	eng, clk := realEngine(t)
	h := newHarnessWith(t, func(c api.Caller) api.Staff { return eng.Staff(c) }, nil)
	ctx := context.Background()
	owner := eng.Owner(api.Caller{OSUser: "nobody-here", Via: "admin"})
	en, err := owner.EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := rules.CodeAt(en.Secret, rules.Step(clk.Now()))
	if _, err := owner.ConfirmApprover(ctx, "anna", code); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	const seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	if _, err := owner.AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@ministry", Username: "press@example.org", Password: "s3cret pw", TOTPSeed: seed}); err != nil {
		t.Fatal(err)
	}
	ws, _ := h.connect(t, chromeA)
	send(t, ws, map[string]any{"v": 1, "id": 2, "type": "request", "account": "x:@ministry", "action": "post", "text": "Hallo"})
	rq := reply(t, ws)
	req, ok := rq["request"].(map[string]any)
	if !ok {
		t.Fatalf("request reply: %v", rq)
	}
	rid := req["id"].(string)
	code, _ = rules.CodeAt(en.Secret, rules.Step(clk.Now()))
	send(t, ws, map[string]any{"v": 1, "id": 3, "type": "approve", "request_id": rid, "approver": "anna", "code": code})
	ap := reply(t, ws)
	sess, ok := ap["session"].(map[string]any)
	if !ok {
		t.Fatalf("approval reply: %v", ap)
	}
	sid := sess["id"].(string)

	send(t, ws, map[string]any{"v": 1, "id": 4, "type": "credentials", "session_id": sid, "account": "x:@ministry", "host": "x.com"})
	cr := reply(t, ws)
	out, err := exec.Command(oath, "--totp", "-b", "--now", clk.Now().UTC().Format("2006-01-02 15:04:05 UTC"), seed).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	if cr["type"] != "credentials" || cr["username"] != "press@example.org" || cr["password"] != "s3cret pw" || cr["code"] != strings.TrimSpace(string(out)) {
		t.Fatalf("credentials reply %v, want the stored ones and oathtool's code %s", cr, out)
	}
	send(t, ws, map[string]any{"v": 1, "id": 5, "type": "credentials", "session_id": sid, "account": "x:@ministry", "host": "x.com"})
	if e := reply(t, ws); e["type"] != "error" || e["error"].(map[string]any)["code"] != "already_used" {
		t.Fatalf("second ask: %v", e)
	}
	send(t, ws, map[string]any{"v": 1, "id": 6, "type": "signed_out", "session_id": sid, "account": "x:@ministry", "host": "x.com", "result": "ok"})
	if ok := reply(t, ws); ok["type"] != "ok" {
		t.Fatalf("signed_out: %v", ok)
	}
}

// reply reads the next message that is not a pushed event.
func reply(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	for {
		if m := recv(t, ws); m["type"] != "event" {
			return m
		}
	}
}
