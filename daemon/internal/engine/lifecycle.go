package engine

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"os/user"
	"strconv"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
)

// KeyringCheckEvery is how old the last word on the keyring may be when the status is asked for
// (foureyes status, the tray, the extension): an older one is checked again first, with one read
// over D-Bus. Nothing checks it on a timer, so an idle daemon never wakes for the keyring; an
// operation that needs a secret reports a keyring problem in its own answer at once.
const KeyringCheckEvery = time.Minute

// forgetAfter is how long decided requests and spent sessions are kept, so memory stays small.
const forgetAfter = 24 * time.Hour

// Start writes the daemon_started line and the policy's line, checks the state file against the
// trail (see checkTrail), and checks the keyring once.
// Without the first line the daemon must not run: its error is returned.
func (e *Engine) Start() error {
	f := map[string]any{"version": e.opts.Version, "pid": pid, "home": e.opts.Home}
	for k, v := range e.opts.StartFields {
		f[k] = v
	}
	prev := e.lastPolicy()
	// Forwarding follows the policy from the first line, unless the policy turns it off since the
	// last run: then the line saying so is forwarded first.
	if fw, ok := e.opts.Audit.(Forwarder); ok && e.pol != nil && !(prev != nil && prev.Audit.Syslog && !e.pol.Audit.Syslog) {
		fw.SetForwarding(e.pol.Audit.Syslog)
	}
	// The trail is read before the first line: what the state file holds is checked against
	// what was recorded until the daemon last stopped.
	tf, err := readTrail(e.opts.Audit.Path())
	if err != nil {
		return err
	}
	if err := e.run(e.self, func(t *tx) error {
		if tf.lines > 0 && tf.lastEvent != "daemon_stopped" && tf.lastEvent != "audit_repaired" {
			// The last run ended without its closing lines (killed, a crash, power lost): its
			// open requests and sessions ended with it, unrecorded.
			f["unclean_stop"] = true
			f["last_event"] = tf.lastEvent
		}
		t.record("daemon_started", rules.Info, f)
		e.recordPolicy(t, prev)
		e.checkTrail(t, tf)
		return nil
	}); err != nil {
		return err
	}
	err = custody.Probe(e.opts.Store)
	if err != nil {
		log.Printf("the OS keyring is not usable: %v", err)
	}
	e.SetKeyringError(err)
	return nil
}

// recordPolicy records which policy is in force (its digest, and what changed since the one
// before: at a start, the one in force when the daemon last ran), or that it is invalid (an
// alarm). A change that loosens the rules is an alarm too, and turning off the copy to the
// system log gets a line of its own first. Callers hold mu, inside t.
func (e *Engine) recordPolicy(t *tx, prev *policy.Policy) {
	if e.polErr != nil {
		t.record("policy_invalid", rules.High, map[string]any{"source": e.opts.PolicySource, "error": e.polErr.Error()})
		return
	}
	f := map[string]any{"source": e.opts.PolicySource, "digest": policy.Digest(e.pol)}
	if held := e.pol.OneTimeHeld(); len(held) > 0 {
		f["custody_held_strict"] = held
	}
	sev := rules.Info
	if prev != nil {
		changes := policy.Diff(prev, e.pol)
		if len(changes) > 0 {
			f["changes"] = changes
		}
		if policy.Weakened(changes) {
			sev = rules.High
			f["weakened"] = true
		}
		if prev.Audit.Syslog && !e.pol.Audit.Syslog {
			t.record("audit_forwarding_off", rules.High, map[string]any{"source": e.opts.PolicySource})
		}
	}
	t.record("policy_loaded", sev, f)
	// The copy to the system log follows the policy once its lines are written (so a line
	// saying it is turned off still reaches the system log).
	if fw, ok := e.opts.Audit.(Forwarder); ok {
		on := e.pol.Audit.Syslog
		t.afterCommit(func() error { fw.SetForwarding(on); return nil })
	}
	if f := e.opts.PolicyInForce; f != nil {
		p := e.pol
		t.afterCommit(func() error { f(p); return nil })
	}
	// Remember the policy in force, so the next start can say what changed while it was off.
	if raw, err := e.pol.Marshal(); err == nil && string(raw) != string(e.st.Policy) {
		set(t, &e.st.Policy, json.RawMessage(raw))
		t.persist()
	}
}

// lastPolicy is the policy in force when the daemon last recorded one, or nil.
func (e *Engine) lastPolicy() *policy.Policy {
	if len(e.st.Policy) == 0 {
		return nil
	}
	p, err := policy.Parse(e.st.Policy)
	if err != nil {
		log.Printf("the policy in force at the last run cannot be read back, so what changed since is not listed: %v", err)
		return nil
	}
	return p
}

// Run does the engine's own work until ctx ends: it expires requests and sessions when their
// time comes (so the trail and the watchers hear of it at once) and forgets old ones. It sleeps
// until the next of these is due, with no timer at all when nothing is, and wakes when a change
// may have moved it, so an idle daemon costs nothing. When ctx ends, what is still open is
// closed with its line, then the daemon_stopped line is written.
func (e *Engine) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	arm := func() {
		timer.Stop()
		if next := e.nextWork(); !next.IsZero() {
			// A little after the deadline, so the engine's clock agrees it has passed.
			timer.Reset(max(time.Until(next)+50*time.Millisecond, 0))
		}
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			e.stop()
			return
		case <-e.wake:
			arm()
		case <-timer.C:
			e.Tick()
			arm()
		}
	}
}

// nextWork is when Tick next has something to do: the next expiry, or the moment the oldest
// closed request or session is to be forgotten; the zero time when there is nothing.
func (e *Engine) nextWork() time.Time {
	next := e.NextExpiry()
	e.locked(func() {
		for _, r := range e.requests {
			if at := r.Expires.Add(forgetAfter); r.State != rules.Pending && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		for _, s := range e.sessions {
			if at := s.Expires.Add(forgetAfter); s.State != rules.Active && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
	})
	return next
}

// stop closes every pending request and active session (they do not survive a restart) with
// its line, then writes daemon_stopped.
func (e *Engine) stop() {
	err := e.run(e.self, func(t *tx) error {
		t.sticky = true
		var n withdrawn
		for _, r := range e.requests {
			if nr, ok := rules.RevokeRequest(*r); ok {
				set(t, r, nr)
				n.requests++
				t.record("request_closed", rules.Info, map[string]any{"request_id": r.ID, "account": r.Account, "reason": "daemon_stopped"})
			}
		}
		for _, s := range e.sessions {
			if ns, ok := rules.Revoke(*s); ok {
				set(t, s, ns)
				n.sessions++
				t.record("session_closed", rules.Info, map[string]any{"session_id": s.ID, "account": s.Account, "reason": "daemon_stopped"})
			}
		}
		t.record("daemon_stopped", rules.Info, n.note(map[string]any{"pid": pid}))
		return nil
	})
	if err != nil {
		log.Printf("stopping: %v", err)
	}
}

// Tick expires what is due and forgets what was decided more than a day ago.
func (e *Engine) Tick() {
	_ = e.run(e.self, func(t *tx) error {
		for id, r := range e.requests {
			if r.State != rules.Pending && t.now.Sub(r.Expires) > forgetAfter {
				delete(e.requests, id)
			}
		}
		for id, s := range e.sessions {
			if s.State != rules.Active && t.now.Sub(s.Expires) > forgetAfter {
				delete(e.sessions, id)
			}
		}
		return nil
	})
}

// NextExpiry returns when the next pending request or active session runs out, or the zero time
// when nothing is open.
func (e *Engine) NextExpiry() (next time.Time) {
	e.locked(func() {
		for _, r := range e.requests {
			if r.State == rules.Pending && (next.IsZero() || r.Expires.Before(next)) {
				next = r.Expires
			}
		}
		for _, s := range e.sessions {
			if s.State == rules.Active && (next.IsZero() || s.Expires.Before(next)) {
				next = s.Expires
			}
		}
	})
	return next
}

// ReloadPolicy reads the policy again (SIGHUP) and puts it in force, or refuses every approval
// until it is fixed when it is invalid. Both outcomes are recorded.
func (e *Engine) ReloadPolicy() error {
	if e.opts.LoadPolicy == nil {
		return api.Errorf(api.CodeUnsupported, "this daemon was started without a policy source to reload")
	}
	p, src, perr := e.opts.LoadPolicy()
	err := e.run(e.self, func(t *tx) error {
		prev := e.pol
		if prev == nil {
			prev = e.lastPolicy()
		}
		// A policy that only takes rights away (an invalid one stops every approval, a stricter
		// one) is put in force even if its line cannot be written: failing closed. One that
		// loosens the rules must not take effect unrecorded: it is undone with the line.
		t.sticky = perr != nil || p == nil || !policy.Weakened(policy.Diff(prev, p))
		pol, polErr, source, cfg, loc := e.pol, e.polErr, e.opts.PolicySource, e.cfg, e.loc
		t.onUndo(func() { e.pol, e.polErr, e.opts.PolicySource, e.cfg, e.loc = pol, polErr, source, cfg, loc })
		e.setPolicy(p, src, perr)
		e.recordPolicy(t, prev)
		t.notify(api.Event{Kind: api.EventStatus, Message: "policy reloaded"})
		return nil
	})
	if perr != nil {
		log.Printf("POLICY INVALID after reload, no approvals until it is fixed: %v", perr)
	}
	return err
}

func (v *ownerView) ReloadPolicy(ctx context.Context) (api.Status, error) {
	if err := v.e.ReloadPolicy(); err != nil {
		return api.Status{}, err
	}
	return v.Status(ctx)
}

// SetKeyringError records the keyring's health as just checked (nil: usable).
func (e *Engine) SetKeyringError(err error) {
	var changed bool
	e.locked(func() {
		changed = (err == nil) != (e.keyringErr == nil)
		e.keyringErr = err
		e.keyringChecked = e.clock.Now()
	})
	if changed {
		e.notify([]api.Event{{Kind: api.EventStatus, Time: e.clock.Now(), Message: "keyring state changed"}})
	}
}

// keyringStatusWait bounds how long a status waits for the keyring check it started: a keyring
// at its unlock prompt answers late or never, and the status must answer at once all the same.
// A check that ends later still records its outcome and tells the watchers (the tray) when the
// keyring's health changed.
const keyringStatusWait = time.Second

// checkKeyringIfStale checks the keyring again when the last word on it is older than
// [KeyringCheckEvery], so the status tells the truth without a timer, and waits for the answer
// at most e.keyringWait. Concurrent callers share one check. Callers do not hold mu.
func (e *Engine) checkKeyringIfStale() {
	e.keyringCheckMu.Lock()
	done := e.keyringCheck
	if done == nil {
		var stale bool
		e.locked(func() {
			stale = e.keyringChecked.IsZero() || e.clock.Now().Sub(e.keyringChecked) >= KeyringCheckEvery
		})
		if stale {
			done = make(chan struct{})
			e.keyringCheck = done
			go func() {
				e.SetKeyringError(custody.Check(e.opts.Store))
				e.keyringCheckMu.Lock()
				e.keyringCheck = nil
				e.keyringCheckMu.Unlock()
				close(done)
			}()
		}
	}
	e.keyringCheckMu.Unlock()
	if done == nil {
		return
	}
	t := time.NewTimer(e.keyringWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// currentUser is the login name of the user the daemon runs as.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}
