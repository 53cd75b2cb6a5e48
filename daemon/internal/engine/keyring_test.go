package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
)

// lockedStore holds every call until unlocked: a keyring waiting at its unlock prompt.
type lockedStore struct {
	custody.Store
	mu     sync.Mutex
	unlock chan struct{}
}

func (l *lockedStore) wait() {
	l.mu.Lock()
	u := l.unlock
	l.mu.Unlock()
	if u != nil {
		<-u
	}
}
func (l *lockedStore) Set(k, v string) error        { l.wait(); return l.Store.Set(k, v) }
func (l *lockedStore) Get(k string) (string, error) { l.wait(); return l.Store.Get(k) }
func (l *lockedStore) Delete(k string) error        { l.wait(); return l.Store.Delete(k) }

// A locked keyring: the daemon answers at once, says the keyring is locked, and what it
// reported as failed does not take effect once the keyring is unlocked.
func TestLockedKeyringFailedOperationNeverTakesEffect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mem := custody.NewMemory()
	locked := &lockedStore{Store: mem, unlock: make(chan struct{})}
	f.store = nil
	e, err := New(Options{Home: f.home, Store: custody.NewQueue(locked, 100*time.Millisecond), Audit: f.audit, Policy: f.pol, Clock: f.clk, LookupUser: testUsers})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.Owner(api.Caller{OSUser: "staff", Via: "admin"})
	_, err = admin.AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@m", Username: "u", Password: "pw"})
	wantCode(t, err, api.CodeKeyringLocked)
	st, err := admin.Status(ctx)
	if err != nil || st.KeyringError == "" {
		t.Fatalf("status does not say the keyring is locked: %+v %v", st, err)
	}
	_, err = admin.EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"})
	wantCode(t, err, api.CodeKeyringLocked)

	close(locked.unlock)
	// The queued writes and their undos run now.
	deadline := time.Now().Add(10 * time.Second)
	for len(mem.Keys()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("secrets of operations reported as failed are in the keyring: %v", mem.Keys())
		}
		time.Sleep(10 * time.Millisecond)
	}
	accs, _ := admin.ListAccounts(ctx)
	as, _ := admin.ListApprovers(ctx)
	if len(accs) != 0 || len(as) != 0 {
		t.Fatalf("failed operations took effect: %+v %+v", accs, as)
	}
	// A retry works once the keyring answers.
	if _, err := admin.AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@m", Username: "u", Password: "pw"}); err != nil {
		t.Fatalf("retry after unlock: %v", err)
	}
}
