// Package trim gives memory back while the daemon is idle: the Go heap it freed, and the pages
// of its own program file that start-up touched and idling does not use. Both come back on the
// next use (fresh pages from the kernel, the program's pages from the page cache or the disk),
// so the daemon behaves the same; only its first action after a trim is a little slower.
//
// [Idle] runs the trim once, a while after the last activity: never on a timer while nothing
// happens, so an idle daemon still sleeps.
package trim

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// After is how long the daemon waits after its last activity before it trims.
const After = 30 * time.Second

// Result says what a trim did.
type Result struct {
	// HeapReleased is how many bytes of freed Go heap went back to the system.
	HeapReleased uint64
	// Advice is the madvise advice given for the program's pages ("MADV_PAGEOUT",
	// "MADV_DONTNEED"), or "" when they were left alone; Skipped then says why.
	Advice  string
	Skipped string
	// Mappings is how many mappings of the program file were advised; ResidentBefore and
	// ResidentAfter are the bytes of the program file's read-only mappings in memory before
	// and right after.
	Mappings                      int
	ResidentBefore, ResidentAfter uint64
}

// Now returns the freed heap to the system (runtime/debug.FreeOSMemory) and, where the system
// allows it, asks the kernel to take back the pages of this program's own file (Linux: see
// releaseProgram). An error says why the program's pages could not be handled; the heap is
// returned in any case.
func Now() (Result, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	var r Result
	if after.HeapReleased > before.HeapReleased {
		r.HeapReleased = after.HeapReleased - before.HeapReleased
	}
	err := releaseProgram(&r)
	return r, err
}

// timer is the part of *time.Timer Idle uses, so tests can fire it by hand.
type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// Idle runs a function once the daemon has been idle for a while: every activity calls
// [Idle.Poke], and the function runs once, the given time after the last poke. It does not run
// again until the next poke: no timer runs while nothing happens.
type Idle struct {
	after     time.Duration
	fn        func()
	afterFunc func(d time.Duration, f func()) timer // time.AfterFunc; tests replace it

	mu      sync.Mutex
	t       timer
	stopped bool
}

// NewIdle returns an Idle that runs fn after idle time with no poke. Nothing is armed until
// the first Poke.
func NewIdle(after time.Duration, fn func()) *Idle {
	return &Idle{after: after, fn: fn, afterFunc: func(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }}
}

// Poke records activity: the function runs after idle time from now, unless poked again.
// Cheap enough to call on every request.
func (i *Idle) Poke() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return
	}
	if i.t == nil {
		i.t = i.afterFunc(i.after, i.fn)
		return
	}
	i.t.Reset(i.after)
}

// Stop cancels a pending run; later pokes do nothing.
func (i *Idle) Stop() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.stopped = true
	if i.t != nil {
		i.t.Stop()
	}
}
