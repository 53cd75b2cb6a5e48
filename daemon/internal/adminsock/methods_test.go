package adminsock

import (
	"context"
	"os/user"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
)

// spyBackend passes every call to the engine's owner value and records the two methods the
// native host and the bridge's helpers reach over the socket.
type spyBackend struct {
	api.Backend
	mu      *sync.Mutex
	origins *[]string
	offered *[]string
}

func (b spyBackend) BridgeHello(ctx context.Context, origin string) (api.BridgeHello, error) {
	b.mu.Lock()
	*b.origins = append(*b.origins, origin)
	b.mu.Unlock()
	return b.Backend.BridgeHello(ctx, origin)
}

func (b spyBackend) OfferedApprovers(ctx context.Context, account string) ([]api.Approver, error) {
	b.mu.Lock()
	*b.offered = append(*b.offered, account)
	b.mu.Unlock()
	return b.Backend.OfferedApprovers(ctx, account)
}

type spy struct {
	mu      sync.Mutex
	origins []string
	offered []string
}

func (sp *spy) wrap(b api.Backend) api.Backend {
	return spyBackend{Backend: b, mu: &sp.mu, origins: &sp.origins, offered: &sp.offered}
}

func (sp *spy) seen() (origins, offered []string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return slices.Clone(sp.origins), slices.Clone(sp.offered)
}

// TestBridgeHelloReachesBackend: "bridge.hello" is answered by Backend.BridgeHello (the engine's
// owner value, which asks the hello source the daemon set), not by anything of the server's own.
func TestBridgeHelloReachesBackend(t *testing.T) {
	sp := &spy{}
	s := startWith(t, nil, policy.Default(), sp.wrap)
	ctx := context.Background()
	c := Dial(s.sock)
	const origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"

	// No bridge yet: the engine's refusal comes back with its code (the daemon runs; its
	// bridge is not up yet).
	if _, err := c.BridgeHello(ctx, origin); api.CodeOf(err) != api.CodeBridgeDown {
		t.Fatalf("hello without a bridge: %v, want bridge_down", err)
	}

	exp := time.Date(2026, 11, 23, 10, 1, 0, 0, time.UTC)
	var asked []string
	var mu sync.Mutex
	s.eng.SetBridgeHello(func(o string) (api.BridgeHello, error) {
		mu.Lock()
		asked = append(asked, o)
		mu.Unlock()
		if o != origin {
			return api.BridgeHello{}, api.Errorf(api.CodeForbidden, "origin %s is not allowed", o)
		}
		return api.BridgeHello{Port: 47011, Token: "tok-1", DaemonKey: "a2V5", Expires: exp}, nil
	})
	got, err := c.BridgeHello(ctx, origin)
	if err != nil {
		t.Fatal(err)
	}
	if want := (api.BridgeHello{Port: 47011, Token: "tok-1", DaemonKey: "a2V5", Expires: exp}); !reflect.DeepEqual(got, want) {
		t.Errorf("hello = %+v, want %+v", got, want)
	}
	if _, err := c.BridgeHello(ctx, "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"); api.CodeOf(err) != api.CodeForbidden {
		t.Errorf("hello for another origin: %v, want forbidden", err)
	}
	origins, offered := sp.seen()
	if want := []string{origin, origin, "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"}; !slices.Equal(origins, want) {
		t.Errorf("Backend.BridgeHello saw %q, want %q", origins, want)
	}
	mu.Lock()
	if want := []string{origin, "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"}; !slices.Equal(asked, want) {
		t.Errorf("the hello source saw %q, want %q", asked, want)
	}
	mu.Unlock()
	if len(offered) != 0 {
		t.Errorf("OfferedApprovers called: %q", offered)
	}
}

// TestApproverOfferedReachesBackend: "approver.offered" is answered by
// Backend.OfferedApprovers for the account named, so the rules' choice (confirmed, not
// disabled, not the caller, authorised by the policy for that account) is what comes back.
func TestApproverOfferedReachesBackend(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatalf("the current OS user: %v", err)
	}
	pol := policy.Default()
	pol.Accounts = map[string]policy.Account{"x:@m": {Approvers: []string{"anna", "self"}}}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	sp := &spy{}
	s := startWith(t, nil, pol, sp.wrap)
	ctx := context.Background()
	c := Dial(s.sock)

	var first string // the first approver's secret: they vouch for the others
	enrol := func(id, osUser string, confirm bool) {
		t.Helper()
		var by api.Authority
		if first != "" {
			s.clk.Advance(30 * time.Second) // a fresh code for anna
			code, _ := rules.CodeAt(first, rules.Step(s.clk.Now()))
			by = api.Authority{Approver: "anna", Code: code}
		}
		en, err := c.EnrollApprover(ctx, api.NewApprover{ID: id, Name: id, OSUser: osUser, By: by})
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = en.Secret
		}
		if !confirm {
			return
		}
		code, _ := rules.CodeAt(en.Secret, rules.Step(s.clk.Now()))
		if _, err := c.ConfirmApprover(ctx, id, code); err != nil {
			t.Fatal(err)
		}
	}
	// The engine takes only OS users that exist here: the others have none.
	enrol("anna", "", true)          // offered for x:@m and elsewhere
	enrol("ben", "", true)           // not listed for x:@m
	enrol("cem", "", false)          // pending
	enrol("self", me.Username, true) // the caller itself: never offered to itself

	ids := func(as []api.Approver) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	for _, tt := range []struct {
		account string
		want    []string
	}{
		{"x:@m", []string{"anna"}},
		{"mastodon:@other@social.example", []string{"anna", "ben"}},
	} {
		got, err := c.OfferedApprovers(ctx, tt.account)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("offered for %s = %q, want %q", tt.account, ids(got), tt.want)
		}
		// The engine's own answer for the same caller, straight.
		direct, err := s.eng.Owner(s.seen[len(s.seen)-1]).OfferedApprovers(ctx, tt.account)
		if err != nil || !reflect.DeepEqual(got, direct) {
			t.Errorf("over the socket %+v, from the engine %+v (%v)", got, direct, err)
		}
	}
	origins, offered := sp.seen()
	if want := []string{"x:@m", "mastodon:@other@social.example"}; !slices.Equal(offered, want) {
		t.Errorf("Backend.OfferedApprovers saw %q, want %q", offered, want)
	}
	if len(origins) != 0 {
		t.Errorf("BridgeHello called: %q", origins)
	}
}

// TestNoSignInOverTheAdminSocket: an account's credentials go only to the extension over the
// browser bridge; the admin socket (the foureyes command, the tray) has no method for them.
func TestNoSignInOverTheAdminSocket(t *testing.T) {
	s := startWith(t, nil, policy.Default(), nil)
	c := Dial(s.sock)
	for _, m := range []string{"credentials", "signin.credentials", "signed_out"} {
		err := c.Call(context.Background(), m, map[string]string{"session_id": "s1", "account": "x:@m", "host": "x.com"}, nil)
		if api.CodeOf(err) != api.CodeUnsupported {
			t.Errorf("method %q over the admin socket: %v, want unsupported", m, err)
		}
	}
	for name := range handlers {
		if strings.Contains(name, "credential") || strings.Contains(name, "sign") {
			t.Errorf("the admin socket has a handler %q", name)
		}
	}
}
