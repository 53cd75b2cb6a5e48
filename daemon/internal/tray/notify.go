package tray

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/manifest"
	"foureyes/daemon/internal/textclip"
)

// Urgency ranks a notification; desktops show critical ones until dismissed.
type Urgency string

// Notification urgencies, named as notify-send takes them.
const (
	UrgencyLow      Urgency = "low"
	UrgencyNormal   Urgency = "normal"
	UrgencyCritical Urgency = "critical"
)

// Notification is one desktop notification.
type Notification struct {
	Title   string  `json:"title"`
	Body    string  `json:"body"`
	Urgency Urgency `json:"urgency"`
}

// Notifier shows desktop notifications. Tests capture them; Options.Notifier replaces the
// platform default (notify-send on Linux, osascript on macOS, nothing on Windows).
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotificationsFor decides which notifications an event deserves. It is pure; times are
// measured from the event's own time.
func NotificationsFor(ev api.Event) []Notification {
	switch ev.Kind {
	case api.EventRequest:
		r := ev.Request
		if r == nil {
			return nil
		}
		what := fmt.Sprintf("%s on %s: %s", r.Action, r.Account, quote(textclip.Words(r.Text, 80)))
		// The attachments and the answered post are part of what is approved: say so.
		for _, line := range manifest.Describe(r.Action, r.Media, r.Target) {
			what += "; " + line
		}
		switch {
		case r.State == api.RequestPending && len(r.ApprovedBy) == 0:
			return []Notification{{
				Title:   "Approval requested",
				Body:    fmt.Sprintf("%s asks to %s. Expires in %s.", r.Requester, what, duration(r.Expires.Sub(ev.Time))),
				Urgency: UrgencyNormal,
			}}
		case r.State == api.RequestPending:
			return []Notification{{
				Title:   "Second approval needed",
				Body:    fmt.Sprintf("%s approved %s. One more approver is needed.", strings.Join(r.ApprovedBy, ", "), what),
				Urgency: UrgencyNormal,
			}}
		case r.State == api.RequestDenied:
			return []Notification{{Title: "Request denied", Body: "Denied: " + what + ".", Urgency: UrgencyNormal}}
		}
	case api.EventSession:
		x := ev.Session
		if x == nil || x.State != api.SessionActive {
			return nil
		}
		return []Notification{{
			Title: "Posting session open",
			Body: fmt.Sprintf("%s may %s once on %s within %s. Approved by %s.",
				x.Requester, x.Action, x.Account, duration(x.Expires.Sub(ev.Time)), strings.Join(x.ApprovedBy, ", ")),
			Urgency: UrgencyNormal,
		}}
	case api.EventPublished:
		body := ev.Message
		if ev.Session != nil {
			body = strings.TrimSpace(fmt.Sprintf("%s on %s went out. %s", ev.Session.Action, ev.Session.Account, ev.Message))
		}
		return []Notification{{Title: "Published", Body: body, Urgency: UrgencyLow}}
	case api.EventBlocked:
		body := ev.Message
		if body == "" {
			body = "The browser extension held back a post that had no approved session."
		}
		return []Notification{{Title: "Publishing blocked", Body: body, Urgency: UrgencyNormal}}
	case api.EventThrottled:
		body := fmt.Sprintf("Too many wrong codes for approver %s: their codes are refused for now.", ev.Approver)
		if ev.Message != "" {
			body += " " + ev.Message
		}
		return []Notification{{Title: "Approver throttled", Body: body, Urgency: UrgencyCritical}}
	case api.EventLock:
		body := ev.Message
		if body == "" {
			body = "Every open session and pending request was revoked."
		}
		return []Notification{{Title: "Locked", Body: body, Urgency: UrgencyLow}}
	}
	return nil
}

// commandNotifier runs the desktop's own notification tool.
type commandNotifier struct {
	// command builds the program and arguments for n; nil means the platform has none.
	command func(n Notification) []string
}

// notifyTimeout bounds one notification: a hung notification daemon must not stall the tray.
const notifyTimeout = 5 * time.Second

func (c commandNotifier) Notify(ctx context.Context, n Notification) error {
	if c.command == nil {
		return nil
	}
	argv := c.command(n)
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("notifying with %s: %w: %s", argv[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// defaultNotifier is the platform's notifier. Windows has no command-line notifier we can rely
// on, so there the daemon passes Options.Notifier or goes without.
func defaultNotifier() Notifier {
	switch runtime.GOOS {
	case "darwin":
		return commandNotifier{command: osascriptCommand}
	case "windows":
		return commandNotifier{}
	default:
		return commandNotifier{command: notifySendCommand}
	}
}

func notifySendCommand(n Notification) []string {
	u := n.Urgency
	if u == "" {
		u = UrgencyNormal
	}
	// "--" keeps a title that starts with a dash from being read as an option.
	return []string{"notify-send", "--app-name=foureyes", "--urgency=" + string(u), "--", n.Title, n.Body}
}

func osascriptCommand(n Notification) []string {
	script := fmt.Sprintf("display notification %s with title %s", appleScriptString(n.Body), appleScriptString(n.Title))
	return []string{"osascript", "-e", script}
}

// appleScriptString quotes s as an AppleScript string literal, so text from a post cannot end
// the string and run as script.
func appleScriptString(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", " ", "\n", " ").Replace(s)
	return `"` + s + `"`
}
