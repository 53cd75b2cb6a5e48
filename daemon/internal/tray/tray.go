// Package tray is the system-tray icon and menu: a thin client of [api.Backend], built the way
// tailscale's client/systray is. It keeps only a [Snapshot] of the daemon's state, rebuilds the
// menu from it with the pure [BuildMenu] whenever Watch reports a change, raises desktop
// notifications chosen by the pure [NotificationsFor], and runs one event loop.
//
// The menu offers: pending requests and open sessions with the time they have left, "Lock now",
// "Enrol an approver…" and "Accounts…" (local pages, see package localui), "Open audit trail",
// About (version, policy in force and its source) and Quit.
//
// The daemon's main calls [Available] and, if it reports true, [Run] on the main goroutine.
// Builds with the "headless" tag, and Linux builds without cgo, have no tray: Available reports
// why and Run returns [ErrUnavailable].
package tray

import (
	"context"
	"errors"
	"fmt"
	"log"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"foureyes/daemon/internal/api"
)

// ErrUnavailable is returned by Run when there is no tray to show (see [Available]).
var ErrUnavailable = errors.New("system tray unavailable")

// Options configures [Run]. Every field may be left zero.
type Options struct {
	// Version is the tray's own version, shown in About if the daemon does not report one.
	Version string
	// OnQuit is called when the user picks Quit, before Run returns; the daemon's main usually
	// cancels its context here.
	OnQuit func()
	// OpenURL opens a local page in the browser. Nil uses the desktop's opener (xdg-open, open,
	// explorer).
	OpenURL func(url string) error
	// UIURL returns what to open for a local page, "enrol" or "accounts": the file:// URL of a
	// fresh handoff file (localui.Server.Handoff), which holds no secret in its URL. Nil
	// disables those menu items.
	UIURL func(page string) (string, error)
	// Notifier shows desktop notifications. Nil uses notify-send on Linux, osascript on macOS,
	// and nothing on Windows.
	Notifier Notifier
	// Logf logs the tray's own problems. Nil uses the standard logger.
	Logf func(format string, args ...any)
	// Now tells the time; nil is time.Now. Tests set it.
	Now func() time.Time
	// OnAction is called on every click of a menu item (nil: nothing): activity, after which
	// the daemon gives memory back once it is idle again.
	OnAction func()
	// Service says the backend is the system service (service mode, `foureyes tray`), not a
	// daemon of the user's own: the audit trail is then IT's to read, and the menu says so.
	Service bool
}

// Desktop quirks and timings, named so they are not scattered through the code.
const (
	// callTimeout bounds each call into the backend from the tray.
	callTimeout = 5 * time.Second
	// rewatchDelay is how long the tray waits before asking again when Watch failed or ended
	// (the daemon restarting, in split mode).
	rewatchDelay = 3 * time.Second
	// lockReason is what the audit log records for the tray's "Lock now".
	lockReason = "lock now (tray)"
)

// section names a part of the menu; a click is reported as a section and an index in it,
// because systray items are fixed slots whose meaning changes with each rebuild.
type section int

const (
	secHeadline section = iota
	secProblem
	secEntry
	secLock
	secEnrol
	secAccounts
	secAudit
	secAbout
	secQuit
)

type slot struct {
	sec section
	i   int
}

// item returns the menu item now shown in s.
func (m Menu) item(s slot) (Item, bool) {
	pick := func(items []Item) (Item, bool) {
		if s.i < 0 || s.i >= len(items) {
			return Item{}, false
		}
		return items[s.i], true
	}
	switch s.sec {
	case secHeadline:
		return m.Headline, true
	case secProblem:
		return pick(m.Problems)
	case secEntry:
		return pick(m.Entries)
	case secLock:
		return m.Lock, true
	case secEnrol:
		return m.Enrol, true
	case secAccounts:
		return m.Accounts, true
	case secAudit:
		return m.Audit, true
	case secAbout:
		return pick(m.About)
	case secQuit:
		return m.Quit, true
	}
	return Item{}, false
}

// controller is the tray's one event loop. Only run touches snap and menu.
type controller struct {
	b      api.Backend
	opts   Options
	render func(Menu)
	snap   Snapshot
	menu   Menu
	// notifyFailed keeps a missing notify-send from filling the log: only the first failure is
	// logged.
	notifyFailed atomic.Bool
}

func newController(b api.Backend, opts Options, render func(Menu)) *controller {
	if opts.OpenURL == nil {
		opts.OpenURL = openWithDesktop
	}
	if opts.Notifier == nil {
		opts.Notifier = defaultNotifier()
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &controller{
		b: b, opts: opts, render: render,
		snap: Snapshot{UI: opts.UIURL != nil, Version: opts.Version, Service: opts.Service},
	}
}

// run is the event loop: Watch events, clicks and the minute tick. It returns nil when ctx
// ends or Quit is clicked.
func (c *controller) run(ctx context.Context, clicks <-chan slot) error {
	events, err := c.b.Watch(ctx)
	var rewatch <-chan time.Time
	if err != nil {
		c.opts.Logf("tray: watching the daemon: %v", err)
		rewatch = time.After(rewatchDelay)
	}
	c.refresh(ctx)
	// tick refreshes the "min left" labels; it runs only while something has time left, so an
	// idle tray never wakes up on its own.
	var tick *time.Timer
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	for {
		c.show()
		var tickC <-chan time.Time
		if c.hasCountdown() {
			if tick == nil {
				tick = time.NewTimer(time.Minute)
			} else {
				tick.Reset(time.Minute)
			}
			tickC = tick.C
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				c.snap.StatusErr = "lost the connection to the daemon"
				rewatch = time.After(rewatchDelay)
				continue
			}
			c.apply(ctx, ev)
		case <-rewatch:
			rewatch = nil
			if events, err = c.b.Watch(ctx); err != nil {
				c.opts.Logf("tray: watching the daemon: %v", err)
				rewatch = time.After(rewatchDelay)
			}
			c.refresh(ctx)
		case <-tickC:
		case s := <-clicks:
			if c.opts.OnAction != nil {
				c.opts.OnAction()
			}
			item, ok := c.menu.item(s)
			if !ok || !item.Enabled {
				continue
			}
			if item.Action == ActionQuit {
				if c.opts.OnQuit != nil {
					c.opts.OnQuit()
				}
				return nil
			}
			c.act(ctx, item)
		}
	}
}

// apply handles one Watch event: notify, then refresh the snapshot.
func (c *controller) apply(ctx context.Context, ev api.Event) {
	for _, n := range NotificationsFor(ev) {
		c.notify(ctx, n)
	}
	switch {
	case ev.Kind == api.EventLock:
		c.snap.Locked = true
	case ev.Request != nil && ev.Request.State == api.RequestPending,
		ev.Session != nil && ev.Session.State == api.SessionActive:
		c.snap.Locked = false
	}
	c.refresh(ctx)
}

// refresh asks the daemon for the state the menu shows.
func (c *controller) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	st, err := c.b.Status(ctx)
	if err != nil {
		c.snap.StatusErr = err.Error()
		return
	}
	c.snap.Status, c.snap.StatusErr = st, ""
	if reqs, err := c.b.ListRequests(ctx); err != nil {
		c.opts.Logf("tray: listing requests: %v", err)
	} else {
		c.snap.Requests = reqs
	}
	if sess, err := c.b.ListSessions(ctx); err != nil {
		c.opts.Logf("tray: listing sessions: %v", err)
	} else {
		c.snap.Sessions = sess
	}
}

func (c *controller) show() {
	c.menu = BuildMenu(c.snap, c.opts.Now())
	c.render(c.menu)
}

func (c *controller) hasCountdown() bool {
	now := c.opts.Now()
	return len(pendingRequests(c.snap, now)) > 0 || len(openSessions(c.snap, now)) > 0
}

// act carries out a click. Slow work (backend calls, starting a browser) runs on its own
// goroutine so the menu stays responsive; it touches no tray state, and what it changes comes
// back as Watch events.
func (c *controller) act(ctx context.Context, item Item) {
	switch item.Action {
	case ActionShow:
		if n, ok := c.details(item.Ref); ok {
			c.notify(ctx, n)
		}
	case ActionLock:
		go func() {
			ctx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			if _, err := c.b.Lock(ctx, lockReason); err != nil {
				c.fail(ctx, "Lock failed", fmt.Errorf("locking: %w", err))
			}
		}()
	case ActionEnrol, ActionAccounts:
		page := "enrol"
		if item.Action == ActionAccounts {
			page = "accounts"
		}
		go func() {
			url, err := c.opts.UIURL(page)
			if err == nil {
				err = c.opts.OpenURL(url)
			}
			if err != nil {
				c.fail(ctx, "Could not open the "+page+" page", err)
			}
		}()
	case ActionAudit:
		dir := filepath.Dir(c.snap.Status.AuditLog)
		go func() {
			if err := openWithDesktop(dir); err != nil {
				c.fail(ctx, "Could not open the audit trail", err)
			}
		}()
	}
}

// details is the notification that shows a request's or session's full text on click.
func (c *controller) details(ref string) (Notification, bool) {
	now := c.opts.Now()
	for _, x := range c.snap.Sessions {
		if x.ID == ref {
			body := fmt.Sprintf("%s on %s, approved by %s, %s.", x.Action, x.Account, joinNames(x.ApprovedBy), timeLeft(x.Expires, now))
			if r, ok := findRequest(c.snap.Requests, x.RequestID); ok {
				body += "\n\n" + r.Text
			}
			return Notification{Title: "Open session", Body: body, Urgency: UrgencyLow}, true
		}
	}
	if r, ok := findRequest(c.snap.Requests, ref); ok {
		body := fmt.Sprintf("%s asks to %s on %s, %s.\n\n%s", r.Requester, r.Action, r.Account, timeLeft(r.Expires, now), r.Text)
		return Notification{Title: "Waiting for approval", Body: body, Urgency: UrgencyLow}, true
	}
	return Notification{}, false
}

func (c *controller) notify(ctx context.Context, n Notification) {
	go func() {
		if err := c.opts.Notifier.Notify(ctx, n); err != nil && !c.notifyFailed.Swap(true) {
			c.opts.Logf("tray: %v (further notification errors are not logged)", err)
		}
	}()
}

// fail tells the user an action failed, and logs it.
func (c *controller) fail(ctx context.Context, title string, err error) {
	c.opts.Logf("tray: %s: %v", title, err)
	c.notify(ctx, Notification{Title: title, Body: err.Error(), Urgency: UrgencyNormal})
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "nobody"
	}
	return strings.Join(names, ", ")
}
