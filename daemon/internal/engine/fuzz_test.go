package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/policy"
)

// FuzzLoadState starts the engine on an arbitrary state.json: it either refuses with an error
// that names the file, or starts, answers every read, takes an approval attempt without a
// panic, and saves a state it can load again.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"version":1,"approvers":{"anna":{"id":"anna","name":"A","confirmed":true,"last_step":5}},"accounts":{"x:@m":{"id":"x:@m","platform":"x","handle":"@m"}}}`))
	f.Add([]byte(`{"approvers":{"anna":null},"accounts":{"x:@m":null}}`))
	f.Add([]byte(`{"approvers":{"anna":{"id":"ben","throttle":{"locked_until":"2026-01-01T00:00:00Z","disabled":true}}}}`))
	f.Add([]byte(`{"policy":{"version":1,"totp_skew_steps":99}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		home := t.TempDir()
		path := filepath.Join(home, StateFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := audit.Open(filepath.Join(home, "audit.jsonl"), audit.Options{Now: clock.NewFake(t0).Now})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = l.Close() }()
		store := &memStore{m: map[string]string{}}
		newEngine := func() (*Engine, error) {
			return New(Options{Home: home, Store: store, Audit: l, Policy: policy.Default(), PolicySource: "test",
				Clock: clock.NewFake(t0), LookupUser: testUsers})
		}
		e, err := newEngine()
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("a refused state file is not named: %v", err)
			}
			return
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		admin := e.Owner(api.Caller{OSUser: "staff", Via: "admin"})
		if _, err := admin.Status(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ListApprovers(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ListAccounts(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.OfferedApprovers(ctx, ""); err != nil {
			t.Fatal(err)
		}
		accs, _ := admin.ListAccounts(ctx)
		apps, _ := admin.ListApprovers(ctx)
		for _, a := range accs {
			r, err := admin.CreateRequest(ctx, api.NewRequest{Account: a.ID, Action: "post", Text: "x"})
			if err != nil {
				continue
			}
			for _, ap := range apps {
				_, _ = admin.Approve(ctx, r.ID, ap.ID, "000000")
			}
		}
		// What it saves, it loads again.
		e.locked(func() {
			if err := e.saveState(); err != nil {
				t.Fatal(err)
			}
		})
		if _, err := newEngine(); err != nil {
			t.Fatalf("the engine cannot load the state it saved: %v", err)
		}
	})
}
