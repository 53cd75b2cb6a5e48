package engine

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
)

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// Nothing checks the keyring on a timer: the status checks it when the last word on it is older
// than KeyringCheckEvery, and tells the watchers (the tray) when its health changed.
func TestStatusChecksTheKeyringOnDemand(t *testing.T) {
	f := newFixture(t)
	f.eng.keyringWait = time.Hour // the check's answer, not the wait's bound, is under test
	ctx := context.Background()
	events, err := f.admin().Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status := func() api.Status {
		t.Helper()
		st, err := f.admin().Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	f.store.setFail(custody.ErrLocked)
	if st := status(); st.KeyringError == "" {
		t.Fatal("a locked keyring: the status does not say so")
	}
	if ev := <-events; ev.Kind != api.EventStatus {
		t.Fatalf("the keyring's change of health was not announced: %+v", ev)
	}

	// Unlocked: within KeyringCheckEvery the status keeps the last word, after it checks again.
	f.store.setFail(nil)
	f.clk.Advance(KeyringCheckEvery - time.Second)
	if st := status(); st.KeyringError == "" {
		t.Fatal("the status checked the keyring again before KeyringCheckEvery had passed")
	}
	f.clk.Advance(time.Second)
	if st := status(); st.KeyringError != "" {
		t.Fatalf("the keyring is unlocked again, the status still says %q", st.KeyringError)
	}
	if ev := <-events; ev.Kind != api.EventStatus {
		t.Fatalf("the keyring's recovery was not announced: %+v", ev)
	}

	// An operation that finds the keyring locked is the newest word: no check needed to say so.
	f.store.setFail(custody.ErrLocked)
	_, err = f.admin().AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@m", Username: "u", Password: "pw"})
	wantCode(t, err, api.CodeKeyringLocked)
	f.store.setFail(nil)
	if st := status(); st.KeyringError == "" {
		t.Fatal("the status forgot the locked keyring an operation just met")
	}
}

// The engine sleeps until the next expiry or the next closed item to forget, and has no wake-up
// at all when nothing is open or remembered.
func TestNextWork(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if next := f.eng.nextWork(); !next.IsZero() {
		t.Fatalf("nothing open or remembered, yet work at %v", next)
	}
	f.enrol("anna", "anna")
	r := f.request("eins")
	if next := f.eng.nextWork(); !next.Equal(r.Expires) {
		t.Fatalf("next work %v, want the request's expiry %v", next, r.Expires)
	}
	if _, err := f.staff().Cancel(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if next := f.eng.nextWork(); !next.Equal(r.Expires.Add(forgetAfter)) {
		t.Fatalf("next work %v, want the cancelled request forgotten at %v", next, r.Expires.Add(forgetAfter))
	}
	f.clk.Set(r.Expires.Add(forgetAfter + time.Second))
	f.eng.Tick()
	if next := f.eng.nextWork(); !next.IsZero() {
		t.Fatalf("all forgotten, yet work at %v", next)
	}
	if rs, _ := f.admin().ListRequests(ctx); len(rs) != 0 {
		t.Fatalf("the cancelled request was not forgotten: %+v", rs)
	}
}

// Every request from any transport and every timer the engine handles is activity (the daemon
// gives memory back once they stop); watching for events is not.
func TestActivityOnEveryRequest(t *testing.T) {
	f := newFixture(t)
	var n atomic.Int32
	f.eng.opts.Activity = func() { n.Add(1) }
	ctx := context.Background()
	want := int32(0)
	step := func(what string, call func() error) {
		t.Helper()
		_ = call() // refusals count too: someone asked
		want++
		if got := n.Load(); got != want {
			t.Fatalf("after %s: %d activities, want %d", what, got, want)
		}
	}
	if _, err := f.admin().Watch(ctx); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 0 {
		t.Fatal("watching for events counted as activity")
	}
	step("status", func() error { _, err := f.admin().Status(ctx); return err })
	step("list accounts", func() error { _, err := f.admin().ListAccounts(ctx); return err })
	step("a staff request", func() error {
		_, err := f.eng.Staff(api.Caller{OSUser: "staff", Via: "bridge"}).CreateRequest(ctx, api.NewRequest{Account: "x:@none", Action: "post", Text: "t"})
		return err
	})
	step("a bridge hello", func() error { _, err := f.admin().BridgeHello(ctx, "chrome-extension://x"); return err })
	step("the engine's timer", func() error { f.eng.Tick(); return nil })
}
