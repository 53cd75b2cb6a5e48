package custody

import (
	"fmt"
	"sync"
	"time"
)

// AnswerWithin is how long a caller of a [Queue] waits before it is told the keyring is not
// answering. A locked keyring on a desktop shows an unlock prompt and answers only when someone
// types the password, or never; the daemon must answer at once all the same.
const AnswerWithin = 3 * time.Second

// Queue runs every call of a Store on one goroutine, in the order the calls were made, and
// answers each within a time-out. A call that times out stays queued and runs when the store
// answers; because the queue keeps order, an undo queued after it ([Queue.SetLater],
// [Queue.DeleteLater]) runs after it too, so an operation reported as failed never takes
// effect later.
type Queue struct {
	s       Store
	timeout time.Duration

	mu    sync.Mutex
	cond  *sync.Cond
	ops   []func()
	busy  bool
	start time.Time // when the running call began (zero when idle)
}

var _ Store = (*Queue)(nil)

// NewQueue wraps s; timeout 0 means AnswerWithin.
func NewQueue(s Store, timeout time.Duration) *Queue {
	if timeout <= 0 {
		timeout = AnswerWithin
	}
	q := &Queue{s: s, timeout: timeout}
	q.cond = sync.NewCond(&q.mu)
	go q.loop()
	return q
}

func (q *Queue) loop() {
	q.mu.Lock()
	for {
		for len(q.ops) == 0 {
			q.cond.Wait()
		}
		op := q.ops[0]
		q.ops = q.ops[1:]
		q.busy, q.start = true, time.Now()
		q.mu.Unlock()
		op()
		q.mu.Lock()
		q.busy, q.start = false, time.Time{}
	}
}

func (q *Queue) enqueue(op func()) {
	q.mu.Lock()
	q.ops = append(q.ops, op)
	q.mu.Unlock()
	q.cond.Signal()
}

type answer struct {
	v   string
	err error
}

// maxWaiting bounds the calls waiting behind a keyring that does not answer: past it a call is
// refused at once instead of queued (undos are always queued: they must run).
const maxWaiting = 256

// call queues f and waits for its answer at most the time-out.
func (q *Queue) call(op, key string, f func() (string, error)) (string, error) {
	done := make(chan answer, 1)
	q.mu.Lock()
	full := len(q.ops) >= maxWaiting
	q.mu.Unlock()
	if full {
		return "", fmt.Errorf("keyring %s %q: %w (%d calls already wait for it: is it waiting for you to unlock it?)", op, key, ErrLocked, maxWaiting)
	}
	q.enqueue(func() {
		v, err := f()
		done <- answer{v, err}
	})
	t := time.NewTimer(q.timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-t.C:
		return "", fmt.Errorf("keyring %s %q: %w (no answer within %v: is it waiting for you to unlock it?)", op, key, ErrLocked, q.timeout)
	}
}

// Set stores secret under key, or says the keyring did not answer in time (then the Set may
// still happen: queue its undo with SetLater or DeleteLater).
func (q *Queue) Set(key, secret string) error {
	_, err := q.call("set", key, func() (string, error) { return "", q.s.Set(key, secret) })
	return err
}

// Get returns the secret under key.
func (q *Queue) Get(key string) (string, error) {
	return q.call("get", key, func() (string, error) { return q.s.Get(key) })
}

// Delete removes the secret under key.
func (q *Queue) Delete(key string) error {
	_, err := q.call("delete", key, func() (string, error) { return "", q.s.Delete(key) })
	return err
}

// SetLater queues a Set without waiting for it (an undo that must run after what it undoes).
func (q *Queue) SetLater(key, secret string) {
	q.enqueue(func() { _ = q.s.Set(key, secret) })
}

// DeleteLater queues a Delete without waiting for it.
func (q *Queue) DeleteLater(key string) {
	q.enqueue(func() { _ = q.s.Delete(key) })
}

// Stalled reports how long the running call has been waiting for the store (0: none is).
func (q *Queue) Stalled() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.busy {
		return 0
	}
	return time.Since(q.start)
}

// Later is a Store that can queue an undo without waiting for it.
type Later interface {
	SetLater(key, secret string)
	DeleteLater(key string)
}

// SetLater undoes with s's own SetLater when it has one, else at once.
func SetLater(s Store, key, secret string) {
	if l, ok := s.(Later); ok {
		l.SetLater(key, secret)
		return
	}
	_ = s.Set(key, secret)
}

// DeleteLater undoes with s's own DeleteLater when it has one, else at once.
func DeleteLater(s Store, key string) {
	if l, ok := s.(Later); ok {
		l.DeleteLater(key)
		return
	}
	_ = s.Delete(key)
}
