// Package engine owns the daemon's state and calls the rules, custody, audit and state packages
// in the right order. Transports reach it only through [api.Backend] values from [Engine.For],
// each bound to a caller the transport established.
//
// Order matters and is the same everywhere: check (rules), change in memory, persist what must
// survive a restart, write the audit line, and only then let the result be seen. If the audit
// line cannot be written the operation fails and no session exists.
package engine

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/state"
)

// Auditor is the audit trail as the engine uses it. Record must return only after the line is
// durably written.
type Auditor interface {
	Record(user, event, severity string, fields map[string]any) error
	Head() (seq uint64, hash string)
	Path() string
}

// Severities of audit events.
const (
	SevInfo = "info"
	SevHigh = "high"
)

// Options configure an Engine.
type Options struct {
	Home         string // state directory
	Store        custody.Store
	Audit        Auditor
	Policy       *policy.Policy // nil with PolicyErr set: the policy in force is invalid
	PolicySource string
	PolicyErr    error
	Clock        clock.Clock
	Version      string
	// Extensions reports how many extension connections the bridge holds (nil: none).
	Extensions func() int
	BridgeAddr string
}

// Engine is the daemon's core.
type Engine struct {
	opts    Options
	clock   clock.Clock
	started time.Time

	// mu guards the fields that follow.
	mu         sync.Mutex
	pol        *policy.Policy
	polErr     error
	cfg        rules.Config
	st         persisted
	requests   map[string]*api.Request
	sessions   map[string]*api.Session
	watchers   map[chan api.Event]struct{}
	keyringErr error
	auditErr   error
}

type approverRec struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	OSUser    string         `json:"os_user,omitempty"`
	Confirmed bool           `json:"confirmed"`
	Enrolled  time.Time      `json:"enrolled"`
	LastStep  uint64         `json:"last_step"`
	Throttle  rules.Throttle `json:"throttle"`
}

// persisted is what survives a restart. No secret is ever in it.
type persisted struct {
	Version   int                     `json:"version"`
	Approvers map[string]*approverRec `json:"approvers"`
	Accounts  map[string]*api.Account `json:"accounts"`
}

// StateFile is the state file's name inside the home directory.
const StateFile = "state.json"

// New loads the state from opts.Home and returns a ready engine.
func New(opts Options) (*Engine, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Store == nil || opts.Audit == nil {
		return nil, errors.New("engine needs a custody store and an audit log")
	}
	e := &Engine{
		opts: opts, clock: opts.Clock, started: opts.Clock.Now(),
		requests: map[string]*api.Request{}, sessions: map[string]*api.Session{},
		watchers: map[chan api.Event]struct{}{},
	}
	if _, err := state.Load(e.statePath(), &e.st); err != nil {
		return nil, err
	}
	if e.st.Approvers == nil {
		e.st.Approvers = map[string]*approverRec{}
	}
	if e.st.Accounts == nil {
		e.st.Accounts = map[string]*api.Account{}
	}
	e.st.Version = 1
	e.setPolicy(opts.Policy, opts.PolicySource, opts.PolicyErr)
	return e, nil
}

func (e *Engine) statePath() string { return filepath.Join(e.opts.Home, StateFile) }

// SetPolicy replaces the policy in force (a reload). A nil policy with err set makes the engine
// refuse new requests and approvals until a valid policy is loaded.
func (e *Engine) SetPolicy(p *policy.Policy, source string, err error) {
	e.mu.Lock()
	e.setPolicy(p, source, err)
	e.mu.Unlock()
	e.publish(api.Event{Kind: api.EventStatus, Message: "policy reloaded"})
}

func (e *Engine) setPolicy(p *policy.Policy, source string, err error) {
	e.opts.PolicySource = source
	if err != nil || p == nil {
		if err == nil {
			err = errors.New("no policy")
		}
		e.pol, e.polErr = nil, err
		return
	}
	e.pol, e.polErr = p, nil
	c := rules.Config{
		Skew:       p.TOTPSkewSteps,
		SessionTTL: p.SessionTTL(),
		RequestTTL: p.RequestTTL(),
		MaxOpen:    p.MaxOpenRequests,
		Throttle: rules.ThrottleConfig{
			MaxFailures:    p.Throttle.MaxFailures,
			Window:         p.Throttle.Window(),
			Lockout:        p.Throttle.Lockout(),
			MaxLockout:     p.Throttle.MaxLockout(),
			MaxConsecutive: p.Throttle.MaxConsecutiveFailures,
		},
		MayApprove: p.MayApprove,
	}
	if h := p.PostingHours; h != nil {
		c.Within = h.Within
		c.OutsideRefuse = h.Outside == policy.OutsideRefuse
	}
	e.cfg = c
}

// Policy returns the policy in force, its source, and its error if it is invalid.
func (e *Engine) Policy() (*policy.Policy, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pol, e.opts.PolicySource, e.polErr
}

// SetKeyringError records the keyring's health as last probed (nil: usable).
func (e *Engine) SetKeyringError(err error) {
	e.mu.Lock()
	changed := (err == nil) != (e.keyringErr == nil)
	e.keyringErr = err
	e.mu.Unlock()
	if changed {
		e.publish(api.Event{Kind: api.EventStatus, Message: "keyring state changed"})
	}
}

// For returns the Backend for one caller. The transport vouches for the caller's identity.
func (e *Engine) For(c api.Caller) api.Backend { return &view{e: e, c: c} }

// Record writes an audit event on behalf of the daemon itself (start, stop, policy load).
func (e *Engine) Record(user, event, severity string, fields map[string]any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.record(user, event, severity, fields)
}

// record writes one audit line. Callers hold mu, so lines follow the order of the changes.
func (e *Engine) record(user, event, severity string, fields map[string]any) error {
	err := e.opts.Audit.Record(user, event, severity, fields)
	if err != nil {
		e.auditErr = err
		return &api.Error{Code: api.CodeAuditUnavailable, Err: err,
			Message: fmt.Sprintf("the audit log cannot be written, so nothing was done: %v (free disk space or fix the permissions of %s, then try again)", err, e.opts.Audit.Path())}
	}
	e.auditErr = nil
	return nil
}

// Tick expires requests and sessions whose time has passed and audits each. The daemon calls it
// when the next one is due (NextExpiry); every operation also expires what is due first.
func (e *Engine) Tick() {
	e.mu.Lock()
	now := e.clock.Now()
	events := e.expireDue(now)
	// Forget decided requests and spent sessions after a day, so memory stays small.
	for id, r := range e.requests {
		if r.State != api.RequestPending && now.Sub(r.Expires) > 24*time.Hour {
			delete(e.requests, id)
		}
	}
	for id, s := range e.sessions {
		if s.State != api.SessionActive && now.Sub(s.Expires) > 24*time.Hour {
			delete(e.sessions, id)
		}
	}
	e.mu.Unlock()
	for _, ev := range events {
		e.publish(ev)
	}
}

// expireDue moves every pending request and active session whose time has passed to expired,
// with its audit line, and returns the events to publish. Every operation calls it (through
// nowExpiring) before it looks at requests or sessions, so no expiry goes unrecorded. The
// expiry stands even without its line (failing closed); Status shows the audit error and the
// log names the line that is missing. Callers hold mu.
func (e *Engine) expireDue(now time.Time) []api.Event {
	var events []api.Event
	for _, r := range e.requests {
		if rules.Expire(r, now) {
			if err := e.record(r.Requester, "request_expired", SevInfo, map[string]any{"request_id": r.ID, "account": r.Account}); err != nil {
				log.Printf("request %s expired, but its audit line could not be written: %v", r.ID, err)
			}
			rc := *r
			events = append(events, api.Event{Kind: api.EventRequest, Time: now, Request: &rc})
		}
	}
	for _, s := range e.sessions {
		if rules.ExpireSession(s, now) {
			if err := e.record(s.Requester, "session_expired", SevInfo, map[string]any{"session_id": s.ID, "account": s.Account}); err != nil {
				log.Printf("session %s expired, but its audit line could not be written: %v", s.ID, err)
			}
			sc := *s
			events = append(events, api.Event{Kind: api.EventSession, Time: now, Session: &sc})
		}
	}
	return events
}

// nowExpiring returns the time and expires what is due by then, publishing the changes in the
// background. Callers hold mu.
func (e *Engine) nowExpiring() time.Time {
	now := e.clock.Now()
	e.publishLater(e.expireDue(now))
	return now
}

// withdrawal is what removing an approver or an account takes back: pending requests and
// active sessions that rest on it, and approvals that no longer count.
type withdrawal struct {
	approver  string         // the approver whose approvals are withdrawn, if any
	requests  []*api.Request // pending requests to revoke
	approvals []*api.Request // pending requests that lose the approver's approval
	sessions  []*api.Session // active sessions to revoke
}

// withdrawApprover finds what rests on approver id: their approvals on pending requests and the
// active sessions they approved (a lost phone must not leave a session open). Callers hold mu.
func (e *Engine) withdrawApprover(id string) withdrawal {
	w := withdrawal{approver: id}
	for _, r := range e.requests {
		if r.State == api.RequestPending && slices.Contains(r.ApprovedBy, id) {
			w.approvals = append(w.approvals, r)
		}
	}
	for _, s := range e.sessions {
		if s.State == api.SessionActive && slices.Contains(s.ApprovedBy, id) {
			w.sessions = append(w.sessions, s)
		}
	}
	return w
}

// withdrawAccount finds the pending requests and active sessions of account. Callers hold mu.
func (e *Engine) withdrawAccount(account string) withdrawal {
	var w withdrawal
	for _, r := range e.requests {
		if r.State == api.RequestPending && r.Account == account {
			w.requests = append(w.requests, r)
		}
	}
	for _, s := range e.sessions {
		if s.State == api.SessionActive && s.Account == account {
			w.sessions = append(w.sessions, s)
		}
	}
	return w
}

// note adds the withdrawal's counts to an audit line's fields.
func (w withdrawal) note(f map[string]any) map[string]any {
	if len(w.sessions) > 0 {
		f["sessions_revoked"] = len(w.sessions)
	}
	if len(w.requests) > 0 {
		f["requests_revoked"] = len(w.requests)
	}
	if len(w.approvals) > 0 {
		f["approvals_withdrawn"] = len(w.approvals)
	}
	return f
}

// apply carries the withdrawal out and publishes the changes. Callers hold mu.
func (e *Engine) apply(w withdrawal) {
	var events []api.Event
	for _, s := range w.sessions {
		if rules.Revoke(s) {
			sc := *s
			events = append(events, api.Event{Kind: api.EventSession, Session: &sc})
		}
	}
	for _, r := range w.requests {
		if rules.RevokeRequest(r) {
			rc := *r
			events = append(events, api.Event{Kind: api.EventRequest, Request: &rc})
		}
	}
	for _, r := range w.approvals {
		r.ApprovedBy = slices.DeleteFunc(r.ApprovedBy, func(s string) bool { return s == w.approver })
		rc := *r
		rc.ApprovedBy = slices.Clone(r.ApprovedBy)
		events = append(events, api.Event{Kind: api.EventRequest, Request: &rc})
	}
	e.publishLater(events)
}

// NextExpiry returns when the next pending request or active session runs out, or the zero time
// when nothing is open. The daemon sleeps until then instead of polling.
func (e *Engine) NextExpiry() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var next time.Time
	for _, r := range e.requests {
		if r.State == api.RequestPending && (next.IsZero() || r.Expires.Before(next)) {
			next = r.Expires
		}
	}
	for _, s := range e.sessions {
		if s.State == api.SessionActive && (next.IsZero() || s.Expires.Before(next)) {
			next = s.Expires
		}
	}
	return next
}

// saveState persists e.st. Callers hold mu.
func (e *Engine) saveState() error {
	err := state.Save(e.statePath(), &e.st)
	if errors.Is(err, state.ErrNotDurable) {
		// The new state is in place: undoing the change in memory would make memory and disk
		// disagree. Carry on, and say so.
		log.Printf("the daemon state was saved, but syncing its folder failed: %v", err)
		return nil
	}
	if err != nil {
		return &api.Error{Code: api.CodeInternal, Err: err,
			Message: fmt.Sprintf("saving the daemon state failed, so nothing was done: %v", err)}
	}
	return nil
}

// watch registers a watcher channel.
func (e *Engine) watch() chan api.Event {
	ch := make(chan api.Event, 64)
	e.mu.Lock()
	e.watchers[ch] = struct{}{}
	e.mu.Unlock()
	return ch
}

func (e *Engine) unwatch(ch chan api.Event) {
	e.mu.Lock()
	if _, ok := e.watchers[ch]; ok {
		delete(e.watchers, ch)
		close(ch)
	}
	e.mu.Unlock()
}

// publishLater publishes events in the background, for callers that hold mu (publish takes it).
func (e *Engine) publishLater(events []api.Event) {
	if len(events) == 0 {
		return
	}
	go func() {
		for _, ev := range events {
			e.publish(ev)
		}
	}()
}

// publish sends ev to every watcher without blocking: a slow watcher misses events, and
// re-reads the state on the next one it gets (watchers keep snapshots, not deltas).
func (e *Engine) publish(ev api.Event) {
	if ev.Time.IsZero() {
		ev.Time = e.clock.Now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.watchers {
		select {
		case ch <- ev:
		default:
		}
	}
}

var idEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newID returns prefix plus n random characters from an alphabet without look-alikes, short
// enough to read out over the phone.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + idEncoding.EncodeToString(b)[:n]
}

// freshID returns a newID not yet a key of taken. Request ids are short, to be read out over the
// phone, so a clash is possible: draw again. Callers hold mu.
func freshID[V any](taken map[string]V, prefix string, n int) string {
	for {
		if id := newID(prefix, n); !hasKey(taken, id) {
			return id
		}
	}
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// keyringError maps a custody error to a stable code with a hint.
func keyringError(what string, err error) error {
	switch {
	case errors.Is(err, custody.ErrNoKeyring):
		return &api.Error{Code: api.CodeNoKeyring, Err: err, Message: fmt.Sprintf("%s: %v", what, err)}
	case errors.Is(err, custody.ErrLocked):
		return &api.Error{Code: api.CodeKeyringLocked, Err: err, Message: fmt.Sprintf("%s: %v", what, err)}
	case errors.Is(err, custody.ErrNotFound):
		return &api.Error{Code: api.CodeNotFound, Err: err, Message: fmt.Sprintf("%s: the secret is missing from the OS keyring (re-enrol or re-add it)", what)}
	default:
		return &api.Error{Code: api.CodeInternal, Err: err, Message: fmt.Sprintf("%s: %v", what, err)}
	}
}

// firstWords shortens text for audit summaries and notifications.
func firstWords(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// pid is reported in Status.
var pid = os.Getpid()
