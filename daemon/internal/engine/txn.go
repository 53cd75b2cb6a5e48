package engine

import (
	"errors"
	"log"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/rules"
)

// tx is one change to the engine's state, built by an operation inside [Engine.run]. The
// operation decides (rules), applies the change to memory through set/put/del (each of which
// knows how to undo itself), asks for the state to be persisted and for audit lines; run does
// the rest in one fixed order.
type tx struct {
	e   *Engine
	c   api.Caller
	now time.Time

	lines  []line
	save   bool
	saved  bool
	undo   []func()
	events []api.Event
	after  []func() error
	// keep: the operation is refused, but what it changed (a failed code counts) and recorded
	// (an alarm) must be committed before the refusal is answered.
	keep bool
	// sticky: the change only takes rights away (Lock now, an expiry), so it stands even when
	// its audit line cannot be written; the caller still hears of the audit failure.
	sticky bool
	// remote holds the OTP server's verdicts from earlier attempts of this operation; ask is
	// the question this attempt stopped at (radius.go).
	remote map[remoteKey]remoteAnswer
	ask    *remoteAsk
}

type line struct {
	user, event string
	severity    rules.Severity
	fields      map[string]any
}

// record asks for an audit line in the caller's name.
func (t *tx) record(event string, sev rules.Severity, fields map[string]any) {
	t.lines = append(t.lines, line{user: t.c.OSUser, event: event, severity: sev, fields: fields})
}

// decided records d's event, if it has one, with fields.
func (t *tx) decided(d rules.Decision, fields map[string]any) {
	if d.Event != "" {
		t.record(d.Event, d.Severity, fields)
	}
}

// refuse answers with ref's refusal after committing what the operation changed and recorded.
func (t *tx) refuse(ref *rules.Refusal) error {
	t.keep = true
	return t.e.explain(ref)
}

// persist asks for the state file to be written before any audit line.
func (t *tx) persist() { t.save = true }

// onUndo registers a reversal of a change made outside memory (the keyring).
func (t *tx) onUndo(f func()) { t.undo = append(t.undo, f) }

// afterCommit runs f once the change is committed, still under the lock (removing secrets that
// nothing refers to any more). Its error is the operation's answer; the change stands.
func (t *tx) afterCommit(f func() error) { t.after = append(t.after, f) }

// notify queues ev for the watchers, sent once the lock is released and only if the change
// stands.
func (t *tx) notify(ev api.Event) {
	if ev.Time.IsZero() {
		ev.Time = t.now
	}
	t.events = append(t.events, ev)
}

// set replaces *p with v; undone, *p gets its old value back.
func set[T any](t *tx, p *T, v T) {
	old := *p
	t.undo = append(t.undo, func() { *p = old })
	*p = v
}

// put sets m[k] = v; undone, m[k] is as it was (absent or its old value).
func put[K comparable, V any](t *tx, m map[K]V, k K, v V) {
	old, had := m[k]
	t.undo = append(t.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
	m[k] = v
}

// del deletes m[k]; undone, it is back.
func del[K comparable, V any](t *tx, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	t.undo = append(t.undo, func() { m[k] = old })
	delete(m, k)
}

// run is the one way a change goes through the engine: take the lock, expire what is due,
// decide and apply (f), persist, write the audit lines, undo everything if persisting or a
// line fails, release the lock, then tell the watchers. f returns the operation's answer; an
// error from f undoes its changes unless it came from [tx.refuse].
func (e *Engine) run(c api.Caller, f func(t *tx) error) error {
	e.active()
	var answers map[remoteKey]remoteAnswer
	for round := 1; ; round++ {
		ask, err := e.attempt(c, f, answers)
		if ask == nil {
			return err
		}
		if round == maxRemoteRounds {
			return api.Errorf(api.CodeInternal, "the OTP server was asked %d times for one operation", round)
		}
		if answers == nil {
			answers = map[remoteKey]remoteAnswer{}
		}
		// Outside the lock: the network may take seconds.
		answers[ask.key] = e.askRemote(ask)
	}
}

// attempt is one run of f under the lock. It returns the OTP server question f stopped at, if
// any: then nothing of the attempt stands (the expiries it did aside) and run asks, then runs f
// again.
func (e *Engine) attempt(c api.Caller, f func(t *tx) error, answers map[remoteKey]remoteAnswer) (*remoteAsk, error) {
	var err error
	var ask *remoteAsk
	var events []api.Event
	e.locked(func() {
		t := &tx{e: e, c: c, now: e.clock.Now(), remote: answers}
		events = e.expireDue(t.now)
		err = f(t)
		if t.ask != nil && errors.Is(err, errAskRemote) {
			t.rollback()
			ask, err = t.ask, nil
			return
		}
		var after error
		if err == nil || t.keep {
			if cerr := t.commit(); cerr != nil {
				if !t.sticky {
					t.rollback()
					t.events = nil
				}
				err = cerr
			} else {
				for _, a := range t.after {
					if aerr := a(); aerr != nil && after == nil {
						after = aerr
					}
				}
			}
		} else {
			t.rollback()
			t.events = nil
		}
		if err == nil {
			err = after
		}
		events = append(events, t.events...)
	})
	e.notify(events)
	return ask, err
}

// active tells Options.Activity that something happened.
func (e *Engine) active() {
	if e.opts.Activity != nil {
		e.opts.Activity()
	}
}

// locked runs f holding mu: the engine's one place that takes and releases its lock.
func (e *Engine) locked(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f()
}

// commit persists the state (if asked) and writes the lines in order. Callers hold mu.
func (t *tx) commit() error {
	e := t.e
	if t.save {
		if err := e.saveState(); err != nil {
			return err
		}
		t.saved = true
	}
	for _, l := range t.lines {
		if err := e.record(l.user, l.event, string(l.severity), l.fields); err != nil {
			return err
		}
	}
	return nil
}

// rollback undoes the changes in reverse order and, if the state was already saved, saves
// the old state again so memory and disk agree. Callers hold mu.
func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
	if t.saved {
		if err := t.e.saveState(); err != nil {
			log.Printf("undoing a change whose audit line failed: the old state could not be saved again: %v", err)
		}
	}
}

// record writes one audit line. Callers hold mu, so lines follow the order of the changes.
func (e *Engine) record(user, event, severity string, fields map[string]any) error {
	err := e.opts.Audit.Record(user, event, severity, fields)
	if err != nil {
		e.auditErr = err
		return &api.Error{Code: api.CodeAuditUnavailable, Err: err,
			Message: "the audit log cannot be written, so nothing was done: " + err.Error() +
				" (free disk space or fix the permissions of " + e.opts.Audit.Path() + ", then try again)"}
	}
	e.auditErr = nil
	return nil
}

// expireDue moves every pending request and active session whose time has passed to expired,
// with its audit line, and returns the events to publish. Every change runs it first, so no
// expiry goes unrecorded. An expiry stands even without its line (time has passed: undoing it
// would only reopen what the rules refuse anyway); status shows the audit error and the log
// names the missing line. Callers hold mu.
func (e *Engine) expireDue(now time.Time) []api.Event {
	var events []api.Event
	for _, r := range e.requests {
		if nr, ok := rules.Expire(*r, now); ok {
			*r = nr
			if err := e.record(r.Requester, "request_expired", string(rules.Info), map[string]any{"request_id": r.ID, "account": r.Account}); err != nil {
				log.Printf("request %s expired, but its audit line could not be written: %v", r.ID, err)
			}
			events = append(events, api.Event{Kind: api.EventRequest, Time: now, Request: requestOut(r)})
		}
	}
	for _, s := range e.sessions {
		if ns, ok := rules.ExpireSession(*s, now); ok {
			*s = ns
			sev, f := rules.Info, map[string]any{"session_id": s.ID, "account": s.Account}
			if s.RotationReleased && !s.RotationReported {
				// The platform may have either password now: both stay in the keyring until
				// IT settles it (foureyes account passwd).
				sev, f["rotation_unconfirmed"] = rules.High, true
			}
			if err := e.record(s.Requester, "session_expired", string(sev), f); err != nil {
				log.Printf("session %s expired, but its audit line could not be written: %v", s.ID, err)
			}
			events = append(events, api.Event{Kind: api.EventSession, Time: now, Session: sessionOut(s)})
		}
	}
	return events
}

// notify sends events to every watcher without blocking: a slow watcher misses events, and
// re-reads the state on the next one it gets (watchers keep snapshots, not deltas). It also
// wakes the engine's own loop, whose next expiry may have moved. Callers do not hold mu.
func (e *Engine) notify(events []api.Event) {
	if len(events) == 0 {
		return
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	for _, ev := range events {
		for ch := range e.watchers {
			select {
			case ch <- ev:
			default:
			}
		}
	}
}
