package rules

import "time"

// A publishing request that only the network gate stopped (the page gate did not recognise the
// button, the request came from page script, the composer sits in a shadow root) means the
// platform table no longer describes that page. Nothing went out, but staff saw a post fail
// without the approval flow, and the same gap could be a way round the page gate: IT must
// update the table promptly, so the event is high severity, and rate-limited so that a page
// repeating the request cannot flood the trail.
const (
	// UnrecognisedWindow is how long one tab, platform and host get only one line.
	UnrecognisedWindow = time.Minute
	// UnrecognisedPerWindow caps the lines of all keys together within one window.
	UnrecognisedPerWindow = 20
)

// UnrecognisedLog is what the rate limit remembers between reports (in memory only: a restart
// may write one more line, never fewer).
type UnrecognisedLog struct {
	Last        map[string]time.Time // key -> time of its last line, within the window
	WindowStart time.Time            // start of the window Lines counts
	Lines       int                  // lines written in the current window
	Suppressed  int                  // reports refused since the last line written
}

// Unrecognised decides about one report under key (tab, platform and host) at now: a
// high-severity platform_unrecognised line, or none while the key had one within the window
// or the window's cap is reached. It returns the new log and how many reports were refused
// before this line (to be recorded with it), and never changes l.
func Unrecognised(l UnrecognisedLog, key string, now time.Time) (UnrecognisedLog, Decision, int) {
	n := l
	n.Last = make(map[string]time.Time, len(l.Last)+1)
	for k, t := range l.Last {
		if now.Sub(t) < UnrecognisedWindow && !t.After(now) {
			n.Last[k] = t
		}
	}
	if now.Sub(n.WindowStart) >= UnrecognisedWindow || n.WindowStart.After(now) {
		n.WindowStart, n.Lines = now, 0
	}
	if _, seen := n.Last[key]; seen || n.Lines >= UnrecognisedPerWindow {
		n.Suppressed++
		return n, Decision{}, 0
	}
	n.Last[key] = now
	n.Lines++
	before := n.Suppressed
	n.Suppressed = 0
	return n, Decision{Event: "platform_unrecognised", Severity: High}, before
}
