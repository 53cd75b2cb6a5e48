// Package engine owns the daemon's state and calls the rules, custody, audit and state packages
// in the right order. Transports reach it only through the values [Engine.Owner] and
// [Engine.Staff] hand out, each bound to a caller the transport established; what a caller may
// do is the type of that value ([api.Backend] or only [api.Staff]).
//
// Every change goes through one path ([Engine.run]): decide (rules), apply to memory, persist,
// write the audit lines, undo everything if persisting or a line fails, release the lock, then
// tell the watchers. If an audit line cannot be written, nothing changes and no session exists.
//
// The engine's files follow what it owns: accounts.go, approvers.go, requests.go, sessions.go;
// lifecycle.go runs its own work (expiries, policy reloads, the keyring check, start and stop
// lines); words.go words the rules' refusals for people.
package engine

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/mediastore"
	"foureyes/daemon/internal/platforms"
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

// Options configure an Engine.
type Options struct {
	Home  string // state directory
	Store custody.Store
	Audit Auditor
	// Policy is the policy in force at start; nil with PolicyErr set: the policy is invalid.
	Policy       *policy.Policy
	PolicySource string
	PolicyErr    error
	// LoadPolicy reads the policy again for [Engine.ReloadPolicy] (nil: reloads keep it).
	LoadPolicy func() (*policy.Policy, string, error)
	Clock      clock.Clock
	Version    string
	// Extensions reports how many extension connections the bridge holds (nil: none).
	Extensions func() int
	BridgeAddr string
	// StartFields are added to the daemon_started audit line.
	StartFields map[string]any
	// LookupUser reports whether an OS user of that login name exists (nil: os/user).
	LookupUser func(name string) error
	// Activity is called on every request from any transport and every timer the engine
	// handles (nil: nothing); the daemon gives memory back once it stops (trim.Idle).
	Activity func()
	// PolicyInForce is called with each policy that comes into force, once its lines are
	// written (nil: nothing); the daemon points the audit collector at it.
	PolicyInForce func(*policy.Policy)
}

// Forwarder is an Auditor that also copies lines elsewhere (the system log) and can say why
// that fails.
type Forwarder interface {
	ForwardErr() error
	// SetForwarding follows the policy's audit.syslog.
	SetForwarding(on bool)
}

// Engine is the daemon's core.
type Engine struct {
	opts    Options
	clock   clock.Clock
	started time.Time
	self    api.Caller // the daemon itself, for its own audit lines
	wake    chan struct{}

	// mu guards the fields that follow.
	mu         sync.Mutex
	pol        *policy.Policy
	polErr     error
	cfg        rules.Config
	loc        *time.Location // where times are shown: the policy's time zone
	st         persisted
	requests   map[string]*rules.Request
	sessions   map[string]*rules.Session
	keyringErr error
	auditErr   error
	hello      func(origin string) (api.BridgeHello, error)
	helloFor   func(origin string, c api.Caller) (api.BridgeHello, error) // service mode: see service.go
	bridgeErr  error
	// inTrail holds the approvers the trail has enrolled and not removed (read at the start,
	// see checkTrail, and kept as lines are written): while there are any, no first approver
	// can be enrolled without a code, whatever the state file says.
	inTrail map[string]bool

	// keyringChecked is when keyringErr was last learnt (zero: never).
	keyringChecked time.Time

	// unrecognised rate-limits platform_unrecognised lines (unrecognised.go).
	unrecognised rules.UnrecognisedLog

	// media is the store of attached files' copies (policy keep_media; keepmedia.go). It has
	// its own lock: files are written outside mu.
	media *mediastore.Store

	watchMu  sync.Mutex
	watchers map[chan api.Event]struct{}

	// keyringCheckMu guards keyringCheck: the keyring check under way (nil: none), which
	// every status caller waits for rather than starting another.
	keyringCheckMu sync.Mutex
	keyringCheck   chan struct{}
	keyringWait    time.Duration // keyringStatusWait; tests lengthen it
}

type approverRec struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	OSUser    string `json:"os_user,omitempty"`
	Confirmed bool   `json:"confirmed"`
	// Unverified is what the last start found (see checkTrail); it is written so that the
	// file shows it, but every start decides it again from the trail.
	Unverified bool           `json:"unverified,omitempty"`
	Enrolled   time.Time      `json:"enrolled"`
	LastStep   uint64         `json:"last_step"`
	Throttle   rules.Throttle `json:"throttle"`
	// RadiusUser: the approver's codes are checked by the organisation's OTP server under this
	// user name, and no seed is in the keyring. RadiusUsed are the codes it accepted lately.
	RadiusUser string           `json:"radius_user,omitempty"`
	RadiusUsed []rules.UsedCode `json:"radius_used,omitempty"`
}

// persisted is what survives a restart. No secret is ever in it.
type persisted struct {
	Version   int                     `json:"version"`
	Approvers map[string]*approverRec `json:"approvers"`
	Accounts  map[string]*api.Account `json:"accounts"`
	// Policy is the effective policy last put in force (not a secret: the rules, not the keys).
	Policy json.RawMessage `json:"policy,omitempty"`
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
	if opts.LookupUser == nil {
		opts.LookupUser = func(name string) error { _, err := user.Lookup(name); return err }
	}
	e := &Engine{
		opts: opts, clock: opts.Clock, started: opts.Clock.Now(), keyringWait: keyringStatusWait,
		self:     api.Caller{OSUser: currentUser(), UID: os.Getuid(), Via: "daemon"},
		wake:     make(chan struct{}, 1),
		requests: map[string]*rules.Request{}, sessions: map[string]*rules.Session{},
		watchers: map[chan api.Event]struct{}{},
		inTrail:  map[string]bool{},
	}
	if _, err := state.Load(e.statePath(), &e.st); err != nil {
		return nil, err
	}
	if err := e.checkState(); err != nil {
		return nil, err
	}
	// The daemon owns its home (the audit log's lock says so): a save a crash interrupted
	// left a temporary file that nothing reads.
	if err := state.RemoveTemp(e.statePath()); err != nil {
		log.Printf("%v", err)
	}
	if e.st.Approvers == nil {
		e.st.Approvers = map[string]*approverRec{}
	}
	if e.st.Accounts == nil {
		e.st.Accounts = map[string]*api.Account{}
	}
	e.st.Version = 1
	var err error
	if e.media, err = openMediaStore(opts.Home); err != nil {
		// Fail closed: copies cannot be written, so under keep_media nothing with files is approved.
		log.Printf("media store: %v", err)
	}
	e.setPolicy(opts.Policy, opts.PolicySource, opts.PolicyErr)
	return e, nil
}

// Owner returns everything the laptop's own user may do, for a caller the admin socket or the
// tray established.
func (e *Engine) Owner(c api.Caller) api.Backend { return &ownerView{staffView{e: e, c: c}} }

// Staff returns only the staff half, for a caller the browser bridge established: a value that
// cannot be turned into the admin half.
func (e *Engine) Staff(c api.Caller) api.Staff { return &staffView{e: e, c: c} }

// SetBridgeError records why the browser bridge is not listening (nil: it is). The first
// failure is an alarm in the trail (no post can be approved through the browser meanwhile), and
// the bridge coming up again is recorded too.
func (e *Engine) SetBridgeError(err error) {
	_ = e.run(e.self, func(t *tx) error {
		t.sticky = true // the status says it, whether or not the line can be written
		was := e.bridgeErr
		e.bridgeErr = err
		switch {
		case err != nil && was == nil:
			t.record("bridge_down", rules.High, map[string]any{"error": err.Error(), "addr": e.opts.BridgeAddr})
		case err == nil && was != nil:
			t.record("bridge_up", rules.Info, map[string]any{"addr": e.opts.BridgeAddr})
		}
		if (err == nil) != (was == nil) {
			t.notify(api.Event{Kind: api.EventStatus, Message: "bridge state changed"})
		}
		return nil
	})
}

// LocalPageRefused records that the local pages (enrolment, accounts) refused a connection
// from another OS user of this computer (uid), or from one the kernel could not name (uid -1):
// an alarm, since someone tried the press officer's pages. count is how many refused
// connections the line stands for.
func (e *Engine) LocalPageRefused(uid int, remote, reason string, count int) error {
	f := map[string]any{"peer_uid": uid, "remote": remote, "reason": reason, "count": count}
	if u, err := LookupUID(uid); uid >= 0 && err == nil {
		f["peer_user"] = u.Username
	}
	return e.run(e.self, func(t *tx) error {
		t.record("local_page_refused", rules.High, f)
		return nil
	})
}

// SetBridgeHello sets where [api.Admin.BridgeHello] gets its tokens (the bridge, created after
// the engine).
func (e *Engine) SetBridgeHello(f func(origin string) (api.BridgeHello, error)) {
	e.locked(func() { e.hello = f })
}

func (e *Engine) statePath() string { return filepath.Join(e.opts.Home, StateFile) }

// setPolicy puts p in force, or refuses everything with err. Callers hold mu.
func (e *Engine) setPolicy(p *policy.Policy, source string, err error) {
	e.opts.PolicySource = source
	if err != nil || p == nil {
		if err == nil {
			err = errors.New("no policy")
		}
		e.pol, e.polErr = nil, err
		if e.cfg.Throttle.MaxConsecutive == 0 {
			// Requests and approvals are refused, but a code may still be checked (confirming an
			// enrolment, a denial): never with all-zero numbers, which would disable an approver
			// at the first wrong code. The embedded default's numbers apply to those.
			e.cfg, e.loc = configFor(policy.Default())
		}
		return
	}
	e.pol, e.polErr = p, nil
	e.cfg, e.loc = configFor(p)
}

// configFor turns a valid policy into the rules' numbers and the time zone times are shown in.
func configFor(p *policy.Policy) (rules.Config, *time.Location) {
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
		MaxLength:  maxLength,
	}
	if p.Radius != nil {
		c.RemoteWindow = p.Radius.ReplayWindow()
	}
	if m := p.AuthorMark; m != nil && m.Required {
		c.AuthorMark = m.Matches
	}
	loc := time.UTC
	if h := p.PostingHours; h != nil {
		c.Within = h.Within
		c.OutsideRefuse = h.Outside == policy.OutsideRefuse
		c.NextOpen = h.NextOpen
		if l, err := time.LoadLocation(h.TimeZone); err == nil {
			loc = l
		}
	}
	return c, loc
}

// maxLength is the most characters account's platform takes in one post (0: not known).
func maxLength(account string) int {
	id, _, _ := strings.Cut(account, ":")
	p, _ := platforms.Get(id)
	return p.MaxLength
}

// Policy returns the policy in force, its source, and its error if it is invalid.
func (e *Engine) Policy() (p *policy.Policy, source string, err error) {
	e.locked(func() { p, source, err = e.pol, e.opts.PolicySource, e.polErr })
	return p, source, err
}

// policyOK refuses while the policy in force is invalid. Callers hold mu.
func (e *Engine) policyOK() error {
	if e.polErr != nil {
		return &api.Error{Code: api.CodeInvalidPolicy, Err: e.polErr,
			Message: fmt.Sprintf("the policy in force (%s) is invalid, so no approvals are possible: %v", e.opts.PolicySource, e.polErr)}
	}
	return nil
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
	e.watchMu.Lock()
	e.watchers[ch] = struct{}{}
	e.watchMu.Unlock()
	return ch
}

func (e *Engine) unwatch(ch chan api.Event) {
	e.watchMu.Lock()
	if _, ok := e.watchers[ch]; ok {
		delete(e.watchers, ch)
		close(ch)
	}
	e.watchMu.Unlock()
}

var idEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// freshID returns prefix plus n random characters from an alphabet without look-alikes, short
// enough to read out over the phone, not yet a key of taken. Request ids are short, so a clash
// is possible: draw again. Callers hold mu.
func freshID[V any](taken map[string]V, prefix string, n int) string {
	for {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Sprintf("reading random bytes for an id: %v", err)) // crypto/rand never fails on supported systems
		}
		id := prefix + idEncoding.EncodeToString(b)[:n]
		if _, ok := taken[id]; !ok {
			return id
		}
	}
}

// keyringError maps a custody error to a stable code with a hint, and keeps a locked or
// missing keyring for the status at once. Callers hold mu.
func (e *Engine) keyringError(what string, err error) error {
	if errors.Is(err, custody.ErrNoKeyring) || errors.Is(err, custody.ErrLocked) {
		e.keyringErr, e.keyringChecked = err, e.clock.Now()
	}
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

// pid is reported in Status.
var pid = os.Getpid()
