package rules

import (
	"fmt"
	"testing"
	"time"
)

// A page that repeats a request the page gate missed gets one high-severity line per tab,
// platform and host a minute; every key together at most UnrecognisedPerWindow; the next line
// after a quiet spell says how many reports were left out.
func TestUnrecognisedRateLimit(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var l UnrecognisedLog
	var d Decision
	var before int

	l, d, _ = Unrecognised(l, "7|mastodon|social.example", t0)
	if d.Event != "platform_unrecognised" || d.Severity != High {
		t.Fatalf("first report: %+v, want a high-severity platform_unrecognised line", d)
	}
	for i := range 5 {
		l, d, _ = Unrecognised(l, "7|mastodon|social.example", t0.Add(time.Duration(i+1)*time.Second))
		if d.Event != "" {
			t.Fatalf("repeat %d within the minute wrote a line", i)
		}
	}
	if l.Suppressed != 5 {
		t.Fatalf("suppressed = %d, want 5", l.Suppressed)
	}
	// Another tab is another key; its line carries the count left out.
	l, d, before = Unrecognised(l, "8|mastodon|social.example", t0.Add(10*time.Second))
	if d.Event == "" || before != 5 || l.Suppressed != 0 {
		t.Fatalf("another tab: %+v, suppressed before %d, now %d; want a line carrying 5", d, before, l.Suppressed)
	}
	// A minute after its last line the key gets one again.
	l, d, before = Unrecognised(l, "7|mastodon|social.example", t0.Add(UnrecognisedWindow))
	if d.Event == "" || before != 0 {
		t.Fatalf("after the window: %+v, suppressed before %d; want a line", d, before)
	}

	// Many keys: the window's cap holds.
	var m UnrecognisedLog
	lines := 0
	for i := range 3 * UnrecognisedPerWindow {
		m, d, _ = Unrecognised(m, fmt.Sprintf("%d|x|x.com", i), t0.Add(time.Duration(i)*time.Millisecond))
		if d.Event != "" {
			lines++
		}
	}
	if lines != UnrecognisedPerWindow {
		t.Fatalf("%d lines for %d keys in one window, want the cap %d", lines, 3*UnrecognisedPerWindow, UnrecognisedPerWindow)
	}
	if len(m.Last) > UnrecognisedPerWindow {
		t.Fatalf("the log remembers %d keys, more than the cap", len(m.Last))
	}
	// The input log is never changed (the engine undoes by keeping the old value).
	old := len(l.Last)
	_, _, _ = Unrecognised(l, "new|x|x.com", t0.Add(2*UnrecognisedWindow))
	if len(l.Last) != old {
		t.Fatal("Unrecognised changed the log it was given")
	}
}
