package custody

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// gateStore is a Store whose calls wait until released: a keyring behind an unlock prompt.
type gateStore struct {
	*Memory
	mu   sync.Mutex
	gate chan struct{}
}

func (g *gateStore) wait() {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
}

func (g *gateStore) Set(k, v string) error        { g.wait(); return g.Memory.Set(k, v) }
func (g *gateStore) Get(k string) (string, error) { g.wait(); return g.Memory.Get(k) }
func (g *gateStore) Delete(k string) error        { g.wait(); return g.Memory.Delete(k) }

func TestQueueAnswersInTimeAndUndoesWhatTimedOut(t *testing.T) {
	g := &gateStore{Memory: NewMemory(), gate: make(chan struct{})}
	q := NewQueue(g, 50*time.Millisecond)

	// The keyring does not answer: the caller hears so within the time-out, as "locked".
	err := q.Set("account/x:@m/password", "secret")
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Set on a stalled keyring: %v, want ErrLocked", err)
	}
	if q.Stalled() == 0 {
		t.Fatal("the stalled call is not reported")
	}
	// The operation was reported as failed, so its undo is queued behind it.
	q.DeleteLater("account/x:@m/password")

	// The keyring is unlocked: the Set runs, then its undo.
	close(g.gate)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := q.Get("account/x:@m/password"); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("what was reported as failed took effect after all")
		}
	}
	// The queue goes idle once the answer is handed over.
	for q.Stalled() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("an idle queue reports a stalled call")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueueKeepsOrder(t *testing.T) {
	q := NewQueue(NewMemory(), time.Second)
	for i := 0; i < 100; i++ {
		q.SetLater("k", string(rune('a'+i%26)))
	}
	q.DeleteLater("k")
	q.SetLater("k", "last")
	v, err := q.Get("k")
	if err != nil || v != "last" {
		t.Fatalf("Get after queued writes = %q, %v; want the last write", v, err)
	}
}

// Behind a keyring that does not answer, callers are refused at once once enough wait; undos are
// still queued.
func TestQueueBoundsTheWaiting(t *testing.T) {
	g := &gateStore{Memory: NewMemory(), gate: make(chan struct{})}
	q := NewQueue(g, time.Millisecond)
	for i := 0; i < maxWaiting+1; i++ {
		_ = q.Set("k", "v") // each times out and stays queued
	}
	start := time.Now()
	err := q.Set("k", "v")
	if !errors.Is(err, ErrLocked) || time.Since(start) > time.Second {
		t.Fatalf("a full queue: %v after %v", err, time.Since(start))
	}
	q.DeleteLater("k") // never refused
	close(g.gate)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := q.Get("k"); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queued undo did not run after everything before it")
		}
	}
}
