package tray

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"foureyes/daemon/internal/api"
)

// LineMenu is a menu as [RunLines] writes it: the labels a person would read, in order.
type LineMenu struct {
	Icon     IconState  `json:"icon"`
	Tooltip  string     `json:"tooltip"`
	Headline string     `json:"headline"`
	Problems []string   `json:"problems,omitempty"`
	Entries  []string   `json:"entries"`
	Items    []LineItem `json:"items"` // the actions: Lock now, the pages, the audit trail, Quit
	About    []string   `json:"about"`
}

// LineItem is one action of a [LineMenu] and whether it can be picked now.
type LineItem struct {
	Label   string `json:"label"`
	Tooltip string `json:"tooltip,omitempty"`
	Enabled bool   `json:"enabled"`
}

// Line is one line [RunLines] writes: a menu, a notification, or a choice it did not know.
type Line struct {
	Menu         *LineMenu     `json:"menu,omitempty"`
	Notification *Notification `json:"notification,omitempty"`
	Error        string        `json:"error,omitempty"`
}

// lineChoices are the menu choices RunLines reads, one a line.
var lineChoices = map[string]slot{
	"lock": {secLock, 0}, "enrol": {secEnrol, 0}, "accounts": {secAccounts, 0}, "quit": {secQuit, 0},
}

// RunLines runs the tray's loop without an icon, for a terminal or a script where there is no
// desktop: each menu the tray would show and each notification it would raise is written to w
// as one JSON object a line ([Line]), and menu choices are read from r, one a line: "lock"
// (Lock now), "enrol", "accounts" (a notification names the page's handoff file to open, unless
// opts.OpenURL opens it), "quit". The end of r stops the reading, not the loop. It returns when
// ctx ends or "quit" is read; opts.Notifier is not used.
func RunLines(ctx context.Context, b api.Backend, opts Options, w io.Writer, r io.Reader) error {
	lw := &lineWriter{w: w}
	opts.Notifier = lw
	if opts.OpenURL == nil {
		// No desktop to open a page on: say where it is instead.
		opts.OpenURL = func(url string) error {
			lw.write(Line{Notification: &Notification{Title: "Open this page in the browser", Body: url, Urgency: UrgencyNormal}})
			return nil
		}
	}
	c := newController(b, opts, func(m Menu) { lw.write(Line{Menu: lineMenu(m)}) })
	clicks := make(chan slot)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			choice := strings.TrimSpace(sc.Text())
			s, ok := lineChoices[choice]
			if !ok {
				lw.write(Line{Error: fmt.Sprintf("unknown choice %q: lock, enrol, accounts or quit", choice)})
				continue
			}
			select {
			case clicks <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	return c.run(ctx, clicks)
}

func lineMenu(m Menu) *LineMenu {
	labels := func(items []Item) []string {
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = it.Label
		}
		return out
	}
	lm := &LineMenu{Icon: m.Icon, Tooltip: m.Tooltip, Headline: m.Headline.Label,
		Problems: labels(m.Problems), Entries: labels(m.Entries), About: labels(m.About)}
	for _, it := range []Item{m.Lock, m.Enrol, m.Accounts, m.Audit, m.Quit} {
		lm.Items = append(lm.Items, LineItem{Label: it.Label, Tooltip: it.Tooltip, Enabled: it.Enabled})
	}
	return lm
}

// lineWriter writes whole lines: menus come from the loop, notifications from goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(v Line) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(append(b, '\n'))
}

// Notify writes the notification as a line.
func (l *lineWriter) Notify(_ context.Context, n Notification) error {
	l.write(Line{Notification: &n})
	return nil
}
