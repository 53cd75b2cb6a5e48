package trim

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeTimer is fired by the test, not by time.
type fakeTimer struct {
	mu     sync.Mutex
	f      func()
	armed  bool
	resets int
}

func (t *fakeTimer) Reset(time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.armed
	t.armed = true
	t.resets++
	return was
}

func (t *fakeTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

// fire runs the function as the timer would, if armed, and reports whether it did.
func (t *fakeTimer) fire() bool {
	t.mu.Lock()
	armed := t.armed
	t.armed = false
	t.mu.Unlock()
	if armed {
		t.f()
	}
	return armed
}

func newFakeIdle(t *testing.T) (*Idle, *fakeTimer, *int) {
	t.Helper()
	runs := new(int)
	i := NewIdle(After, func() { *runs++ })
	ft := &fakeTimer{}
	var created int
	i.afterFunc = func(d time.Duration, f func()) timer {
		if d != After {
			t.Errorf("armed for %v, want %v", d, After)
		}
		created++
		if created > 1 {
			t.Error("a second timer was created: one timer must serve every burst")
		}
		ft.f, ft.armed = f, true
		return ft
	}
	return i, ft, runs
}

// The trim runs once per burst of activity, after the last poke, and nothing stays armed while
// idle: an idle daemon has no timer of this package to wake it.
func TestIdleRunsOncePerBurst(t *testing.T) {
	i, ft, runs := newFakeIdle(t)
	if ft.fire() {
		t.Fatal("armed before any activity")
	}
	for range 5 {
		i.Poke()
	}
	if ft.resets != 4 {
		t.Fatalf("pokes after the first re-armed the timer %d times, want 4 (each poke moves the deadline)", ft.resets)
	}
	if !ft.fire() || *runs != 1 {
		t.Fatalf("after a burst: fired, %d runs; want 1", *runs)
	}
	if ft.fire() || *runs != 1 {
		t.Fatalf("idle after the trim, it ran again (%d runs): it must not repeat while idle", *runs)
	}
	i.Poke()
	if !ft.fire() || *runs != 2 {
		t.Fatalf("a new burst: %d runs, want 2", *runs)
	}
}

func TestIdleStop(t *testing.T) {
	i, ft, runs := newFakeIdle(t)
	i.Poke()
	i.Stop()
	i.Poke()
	if ft.fire() || *runs != 0 {
		t.Fatalf("stopped, yet it ran %d times", *runs)
	}
}

// With real time: a poke leads to exactly one run (no time is asserted, only that it happens
// and does not repeat before the next poke).
func TestIdleRealTimer(t *testing.T) {
	ran := make(chan struct{}, 4)
	i := NewIdle(time.Millisecond, func() { ran <- struct{}{} })
	defer i.Stop()
	i.Poke()
	<-ran
	i.Poke()
	<-ran
	i.Stop()
	if len(ran) != 0 {
		t.Fatalf("%d extra runs", len(ran))
	}
}

// The heap is returned whatever the system: the call never fails for it, and a result that
// did not handle the program's pages says why.
func TestNowReportsWhatItDid(t *testing.T) {
	garbage := make([][]byte, 256)
	for i := range garbage {
		garbage[i] = make([]byte, 64<<10)
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	r, err := Now()
	if err != nil {
		t.Fatalf("trim: %v", err)
	}
	if r.HeapReleased == 0 {
		t.Error("16 MiB of garbage, yet no heap was released")
	}
	if (r.Advice == "") == (r.Skipped == "") {
		t.Errorf("want exactly one of Advice and Skipped: %+v", r)
	}
}
