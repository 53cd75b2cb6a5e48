//go:build !headless && (windows || darwin || (linux && cgo))

package tray

import (
	"context"
	"fmt"
	"log"
	"os"
	"runtime"
	"sync/atomic"

	"github.com/getlantern/systray"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/tray/icons"
)

// Available reports whether this process can show a tray icon, and if not, why. On Linux it
// checks for a display first: without one, the GTK under systray ends the whole process with
// status 1 instead of returning an error.
func Available() (bool, string) {
	if runtime.GOOS != "linux" {
		return true, ""
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return false, "no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set)"
	}
	if reason := displayUnreachable(); reason != "" {
		return false, reason
	}
	return true, ""
}

// started guards against a second Run: the native loop can run only once per process.
var started atomic.Bool

// Run shows the tray icon and menu for b until ctx ends or the user picks Quit, then returns
// nil. It returns [ErrUnavailable] at once when [Available] reports false.
//
// Run must be called from the main goroutine, which systray locks to the process's main OS
// thread when the package loads: macOS and Windows only deliver tray events there. So the
// daemon's main runs everything else on other goroutines and calls Run last. Run can be called
// only once per process.
func Run(ctx context.Context, b api.Backend, opts Options) error {
	if ok, reason := Available(); !ok {
		return fmt.Errorf("%w: %s", ErrUnavailable, reason)
	}
	if started.Swap(true) {
		return fmt.Errorf("tray already ran in this process")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logf := opts.Logf
	if logf == nil {
		logf = log.Printf
	}
	prepareGTK()
	done := make(chan error, 1)
	var ready atomic.Bool
	onReady := func() {
		ready.Store(true)
		ui := newSystrayUI(logf)
		if reason := trayHostMissing(); reason != "" {
			// Said once: the daemon works without the icon, and the icon appears when a tray
			// host starts later.
			logf("tray: %s; carrying on without a visible icon", reason)
		}
		c := newController(b, opts, ui.render)
		go func() {
			done <- c.run(ctx, ui.clicks)
			systray.Quit()
		}()
	}
	// onExit runs when the native loop ends for any reason: stop the controller too.
	systray.Run(onReady, cancel)
	if !ready.Load() {
		return nil
	}
	return <-done
}

// iconFor returns the icon bytes the platform's tray takes: an .ico on Windows, a PNG
// elsewhere. Linux panels scale the PNG to their height, so a large one stays sharp; macOS
// draws it at 16 points, 32 pixels on a Retina screen.
func iconFor(state IconState) ([]byte, error) {
	switch runtime.GOOS {
	case "windows":
		return icons.ICO(string(state))
	case "darwin":
		return icons.PNG(string(state), 32)
	default:
		return icons.PNG(string(state), 64)
	}
}

// systrayUI is the menu as fixed systray items. systray cannot remove or reorder items, so each
// variable section is a row of preallocated slots, shown or hidden as the menu needs.
type systrayUI struct {
	logf   func(string, ...any)
	clicks chan slot

	icon  IconState
	items map[slot]*systray.MenuItem
	shown map[slot]Item // what each visible slot shows now, to skip redundant updates
}

func newSystrayUI(logf func(string, ...any)) *systrayUI {
	u := &systrayUI{logf: logf, clicks: make(chan slot), items: map[slot]*systray.MenuItem{}, shown: map[slot]Item{}}
	u.add(slot{secHeadline, 0}, nil)
	for i := range MaxProblems {
		u.add(slot{secProblem, i}, nil)
	}
	systray.AddSeparator()
	for i := range MaxEntries {
		u.add(slot{secEntry, i}, nil)
	}
	systray.AddSeparator()
	u.add(slot{secLock, 0}, nil)
	u.add(slot{secEnrol, 0}, nil)
	u.add(slot{secAccounts, 0}, nil)
	u.add(slot{secAudit, 0}, nil)
	systray.AddSeparator()
	about := systray.AddMenuItem("About", "")
	for i := range MaxAbout {
		u.add(slot{secAbout, i}, about)
	}
	u.add(slot{secQuit, 0}, nil)
	return u
}

// add creates the item for s and forwards its clicks to the event loop.
func (u *systrayUI) add(s slot, parent *systray.MenuItem) {
	var mi *systray.MenuItem
	if parent != nil {
		mi = parent.AddSubMenuItem("", "")
	} else {
		mi = systray.AddMenuItem("", "")
	}
	mi.Hide()
	u.items[s] = mi
	go func() {
		for range mi.ClickedCh {
			u.clicks <- s
		}
	}()
}

func (u *systrayUI) render(m Menu) {
	if m.Icon != u.icon {
		if b, err := iconFor(m.Icon); err != nil {
			u.logf("tray: %v", err)
		} else {
			systray.SetIcon(b)
			u.icon = m.Icon
		}
	}
	systray.SetTooltip(m.Tooltip)
	u.set(slot{secHeadline, 0}, &m.Headline)
	u.setAll(secProblem, MaxProblems, m.Problems)
	u.setAll(secEntry, MaxEntries, m.Entries)
	u.set(slot{secLock, 0}, &m.Lock)
	u.set(slot{secEnrol, 0}, &m.Enrol)
	u.set(slot{secAccounts, 0}, &m.Accounts)
	u.set(slot{secAudit, 0}, &m.Audit)
	u.setAll(secAbout, MaxAbout, m.About)
	u.set(slot{secQuit, 0}, &m.Quit)
}

func (u *systrayUI) setAll(sec section, n int, items []Item) {
	for i := range n {
		if i < len(items) {
			u.set(slot{sec, i}, &items[i])
		} else {
			u.set(slot{sec, i}, nil)
		}
	}
}

// set shows it in slot s, or hides the slot when it is nil.
func (u *systrayUI) set(s slot, it *Item) {
	mi := u.items[s]
	old, visible := u.shown[s]
	if it == nil {
		if visible {
			mi.Hide()
			delete(u.shown, s)
		}
		return
	}
	if visible && old == *it {
		return
	}
	if old.Label != it.Label || !visible {
		mi.SetTitle(it.Label)
	}
	if old.Tooltip != it.Tooltip || !visible {
		mi.SetTooltip(it.Tooltip)
	}
	if it.Enabled {
		mi.Enable()
	} else {
		mi.Disable()
	}
	if !visible {
		mi.Show()
	}
	u.shown[s] = *it
}
