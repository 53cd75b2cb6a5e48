package tray

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/textclip"
)

// IconState is which icon the tray shows; the names match the files in ./icons.
type IconState string

// The icon states, from calm to alarming. A problem outranks an open session, which outranks a
// fresh lock, which outranks ready.
const (
	IconReady   IconState = "ready"   // nothing open, nothing wrong
	IconSession IconState = "session" // a posting session is open (publishing is possible now)
	IconLocked  IconState = "locked"  // "Lock now" revoked everything and nothing new started
	IconProblem IconState = "problem" // something blocks publishing or needs attention
)

// Snapshot is all the tray knows about the daemon: the last answers to Status, ListRequests
// and ListSessions, refreshed whenever Watch reports a change. The tray keeps no other state.
type Snapshot struct {
	Status   api.Status
	Requests []api.Request
	Sessions []api.Session
	// StatusErr is set when the daemon could not be asked; the rest is then stale.
	StatusErr string
	// Locked is set by a lock event and cleared by the next request or session.
	Locked bool
	// UI reports whether the local pages (enrol, accounts) can be opened.
	UI bool
	// Version is the tray's own version, shown in About when the daemon's is unknown.
	Version string
	// Service: the backend is the system service (see [Options.Service]).
	Service bool
}

// Action is what clicking a menu item does.
type Action int

// Menu actions.
const (
	ActionNone     Action = iota // an information line
	ActionShow                   // show a request's or session's details as a notification
	ActionLock                   // Backend.Lock
	ActionEnrol                  // open the enrolment page
	ActionAccounts               // open the accounts page
	ActionAudit                  // open the audit log's folder
	ActionQuit                   // quit the tray (and with it the daemon, if OnQuit says so)
)

// Item is one menu line.
type Item struct {
	Label   string
	Tooltip string
	Action  Action
	Enabled bool
	// Ref is the request or session ID an ActionShow item is about.
	Ref string
}

// Limits of the menu's variable sections. The tray preallocates this many lines because
// systray cannot remove items, only hide them.
const (
	MaxProblems = 5 // daemon unreachable, keyring, audit log, policy, extension
	MaxEntries  = 8 // pending requests and open sessions, the last may be "and N more"
	MaxAbout    = 5
)

// Menu is what the tray shows for one snapshot, in display order: headline, problems, entries,
// separator, actions, separator, About submenu, Quit.
type Menu struct {
	Icon     IconState
	Tooltip  string
	Headline Item
	Problems []Item
	Entries  []Item
	Lock     Item
	Enrol    Item
	Accounts Item
	Audit    Item
	About    []Item // lines of the About submenu
	Quit     Item
}

// BuildMenu decides the menu for snapshot s at time now. It is pure: the tray renders its
// result, tests compare it.
func BuildMenu(s Snapshot, now time.Time) Menu {
	m := Menu{
		Problems: problems(s),
		Lock:     Item{Label: "Lock now", Tooltip: "Revoke every open session and pending request", Action: ActionLock, Enabled: s.StatusErr == ""},
		Enrol:    Item{Label: "Enrol an approver…", Tooltip: "Set up a press officer's authenticator app", Action: ActionEnrol, Enabled: s.UI && s.StatusErr == ""},
		Accounts: Item{Label: "Accounts…", Tooltip: "Add official accounts and change their stored passwords", Action: ActionAccounts, Enabled: s.UI && s.StatusErr == ""},
		Audit:    Item{Label: "Open audit trail", Tooltip: s.Status.AuditLog, Action: ActionAudit, Enabled: s.StatusErr == "" && s.Status.AuditLog != ""},
		Quit:     Item{Label: "Quit", Action: ActionQuit, Enabled: true},
		About:    about(s),
	}
	if s.Service {
		// The trail is in the service's folder, which only root may read.
		m.Audit = Item{Label: "Audit trail: IT's in service mode", Tooltip: "Root reads it: sudo foureyes audit verify --file " + s.Status.AuditLog, Action: ActionNone}
	}
	reqs, sess := pendingRequests(s, now), openSessions(s, now)
	m.Entries = entries(s, reqs, sess, now)

	switch {
	case len(m.Problems) > 0:
		m.Icon = IconProblem
		// The problems follow as lines of their own; the headline only counts them.
		m.Headline.Label = "Needs attention"
		if len(m.Problems) > 1 {
			m.Headline.Label = fmt.Sprintf("Needs attention: %d problems", len(m.Problems))
		}
	case len(sess) > 0:
		m.Icon = IconSession
		first := sess[0] // soonest to end
		if len(sess) == 1 {
			m.Headline.Label = fmt.Sprintf("Session open: %s · %s", first.Account, timeLeft(first.Expires, now))
		} else {
			m.Headline.Label = fmt.Sprintf("%d sessions open · next ends in %s", len(sess), duration(first.Expires.Sub(now)))
		}
	case s.Locked && len(reqs) == 0:
		m.Icon = IconLocked
		m.Headline.Label = "Locked: all sessions revoked"
	default:
		m.Icon = IconReady
		m.Headline.Label = "Ready: no session open"
	}
	if len(m.Problems) == 0 && len(sess) == 0 && len(reqs) > 0 {
		m.Headline.Label += fmt.Sprintf(" · %s waiting", plural(len(reqs), "request", "requests"))
	}
	m.Tooltip = "foureyes: " + m.Headline.Label
	if len(m.Problems) == 1 {
		m.Tooltip += ": " + m.Problems[0].Label
	}
	return m
}

// problems lists what blocks publishing or needs someone's attention, most basic first.
func problems(s Snapshot) []Item {
	if s.StatusErr != "" {
		if s.Service {
			return []Item{{Label: "foureyes service not reachable", Tooltip: s.StatusErr}}
		}
		return []Item{{Label: "Daemon not reachable", Tooltip: s.StatusErr}}
	}
	st := s.Status
	var p []Item
	if st.KeyringError != "" {
		p = append(p, Item{Label: "Keyring locked or unavailable", Tooltip: st.KeyringError})
	}
	if st.AuditError != "" {
		p = append(p, Item{Label: "Audit log cannot be written", Tooltip: st.AuditError})
	}
	if st.PolicyError != "" {
		p = append(p, Item{Label: "Policy invalid", Tooltip: st.PolicyError})
	}
	if st.Extensions == 0 {
		p = append(p, Item{Label: "Browser extension not connected", Tooltip: "Start the browser, or ask IT to install the foureyes extension"})
	}
	return p
}

func pendingRequests(s Snapshot, now time.Time) []api.Request {
	var out []api.Request
	for _, r := range s.Requests {
		if r.State == api.RequestPending && r.Expires.After(now) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b api.Request) int { return a.Expires.Compare(b.Expires) })
	return out
}

func openSessions(s Snapshot, now time.Time) []api.Session {
	var out []api.Session
	for _, x := range s.Sessions {
		if x.State == api.SessionActive && x.Expires.After(now) {
			out = append(out, x)
		}
	}
	slices.SortStableFunc(out, func(a, b api.Session) int { return a.Expires.Compare(b.Expires) })
	return out
}

// entries lists open sessions first (they can publish right now), then waiting requests,
// capped at MaxEntries with a last "and N more" line.
func entries(s Snapshot, reqs []api.Request, sess []api.Session, now time.Time) []Item {
	var out []Item
	for _, x := range sess {
		label := fmt.Sprintf("Open: %s · %s", x.Account, x.Action)
		if r, ok := findRequest(s.Requests, x.RequestID); ok {
			label += " · " + quote(textclip.Words(r.Text, 32))
		}
		out = append(out, Item{
			Label:   label + " · " + timeLeft(x.Expires, now),
			Tooltip: "Approved by " + strings.Join(x.ApprovedBy, ", "),
			Action:  ActionShow, Enabled: true, Ref: x.ID,
		})
	}
	for _, r := range reqs {
		label := fmt.Sprintf("Waiting: %s · %s · %s", r.Account, r.Action, quote(textclip.Words(r.Text, 32)))
		if r.ApprovalsNeeded > 1 {
			label += fmt.Sprintf(" · %d of %d approvals", len(r.ApprovedBy), r.ApprovalsNeeded)
		}
		out = append(out, Item{
			Label:   label + " · " + timeLeft(r.Expires, now),
			Tooltip: "Requested by " + r.Requester,
			Action:  ActionShow, Enabled: true, Ref: r.ID,
		})
	}
	if len(out) == 0 {
		return []Item{{Label: "No pending requests"}}
	}
	if len(out) > MaxEntries {
		more := len(out) - (MaxEntries - 1)
		out = append(out[:MaxEntries-1], Item{Label: fmt.Sprintf("…and %d more", more)})
	}
	return out
}

func about(s Snapshot) []Item {
	version := s.Status.Version
	if version == "" {
		version = s.Version
	}
	if version == "" {
		version = "unknown"
	}
	lines := []Item{{Label: "foureyes " + version}}
	if s.StatusErr != "" {
		return lines
	}
	policy := s.Status.PolicySource
	if policy == "" {
		policy = "unknown"
	}
	lines = append(lines, Item{Label: "Policy: " + policy})
	if s.Status.PolicyError != "" {
		lines = append(lines, Item{Label: "Policy error: " + textclip.Clip(s.Status.PolicyError, 60), Tooltip: s.Status.PolicyError})
	}
	lines = append(lines,
		Item{Label: fmt.Sprintf("%s · %s", plural(s.Status.Accounts, "account", "accounts"), plural(s.Status.Approvers, "approver", "approvers"))},
	)
	if s.Status.AuditLog != "" {
		lines = append(lines, Item{Label: "Audit log: " + s.Status.AuditLog})
	}
	return lines[:min(len(lines), MaxAbout)]
}

func findRequest(reqs []api.Request, id string) (api.Request, bool) {
	for _, r := range reqs {
		if r.ID == id {
			return r, true
		}
	}
	return api.Request{}, false
}

func quote(s string) string { return "“" + s + "”" }

func timeLeft(exp, now time.Time) string {
	return duration(exp.Sub(now)) + " left"
}

// duration rounds up to whole minutes, so "1 min left" never means "already over".
func duration(d time.Duration) string {
	if d < time.Minute {
		return "<1 min"
	}
	mins := int((d + time.Minute - 1) / time.Minute)
	if mins < 60 {
		return fmt.Sprintf("%d min", mins)
	}
	return fmt.Sprintf("%d h %d min", mins/60, mins%60)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
