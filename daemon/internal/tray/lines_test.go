package tray

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

// refusingBackend answers Lock with the service's refusal, as the admin socket's client
// returns it.
type refusingBackend struct {
	*fakeBackend
	err error
}

func (r refusingBackend) Lock(context.Context, string) (api.LockResult, error) {
	return api.LockResult{}, r.err
}

// linesRun runs RunLines over b and returns the lines as they come and the choice writer.
func linesRun(t *testing.T, b api.Backend, opts Options) (<-chan Line, io.WriteCloser, <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	lines := make(chan Line, 64)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = inW.Close(); _ = outR.Close() })
	opts.Logf = t.Logf
	opts.Now = func() time.Time { return t0 }
	go func() { done <- RunLines(ctx, b, opts, outW, inR); _ = outW.Close() }()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var l Line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("not a line: %q: %v", sc.Text(), err)
			}
			lines <- l
		}
		close(lines)
	}()
	return lines, inW, done
}

func nextLine(t *testing.T, lines <-chan Line, ok func(Line) bool) Line {
	t.Helper()
	for {
		select {
		case l, open := <-lines:
			if !open {
				t.Fatal("RunLines ended")
			}
			if ok(l) {
				return l
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no such line")
		}
	}
}

// RunLines writes the menu a tray would show and its notifications, and takes choices by name;
// an unknown choice is said, not acted on; quit ends it.
func TestRunLines(t *testing.T) {
	b := &fakeBackend{status: healthy(), events: make(chan api.Event), locks: make(chan string, 1)}
	lines, in, done := linesRun(t, b, Options{Service: true})
	m := nextLine(t, lines, func(l Line) bool { return l.Menu != nil }).Menu
	if m.Icon != IconReady || m.Headline != "Ready: no session open" || len(m.Items) != 5 || m.Items[3].Label != "Audit trail: IT's in service mode" || m.Items[3].Enabled {
		t.Fatalf("first menu: %+v", m)
	}
	x := active("s1", "r1", 7*time.Minute)
	b.mu.Lock()
	b.sessions = []api.Session{x}
	b.mu.Unlock()
	b.events <- api.Event{Kind: api.EventSession, Time: t0, Session: &x}
	// The notification and the new menu, in either order.
	var notified, shown bool
	nextLine(t, lines, func(l Line) bool {
		notified = notified || l.Notification != nil && l.Notification.Title == "Posting session open"
		shown = shown || l.Menu != nil && l.Menu.Icon == IconSession
		return notified && shown
	})

	if _, err := io.WriteString(in, "post it\nlock\n"); err != nil {
		t.Fatal(err)
	}
	if l := nextLine(t, lines, func(l Line) bool { return l.Error != "" }); !strings.Contains(l.Error, `unknown choice "post it"`) {
		t.Errorf("unknown choice: %q", l.Error)
	}
	if reason := <-b.locks; reason != lockReason {
		t.Errorf("lock reason %q", reason)
	}
	if _, err := io.WriteString(in, "quit\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("RunLines: %v", err)
	}
}

// An action the socket refuses comes back as its own error (here a daemon of another user's,
// whose socket is not shared), and the tray shows its words.
func TestRefusedActionIsShown(t *testing.T) {
	refusal := api.Errorf(api.CodeNotPermitted, "only the user the daemon runs as may use its admin socket")
	b := refusingBackend{&fakeBackend{status: healthy(), events: make(chan api.Event)}, refusal}
	lines, in, _ := linesRun(t, b, Options{Service: true})
	nextLine(t, lines, func(l Line) bool { return l.Menu != nil })
	if _, err := io.WriteString(in, "lock\n"); err != nil {
		t.Fatal(err)
	}
	n := nextLine(t, lines, func(l Line) bool { return l.Notification != nil }).Notification
	if n.Title != "Lock failed" || !strings.HasSuffix(n.Body, refusal.Message) || n.Urgency != UrgencyNormal {
		t.Fatalf("refused lock shown as %+v", n)
	}
}

// In service mode the trail is IT's: the menu says so instead of offering to open it; the
// daemon unreachable is the service unreachable.
func TestMenuServiceMode(t *testing.T) {
	m := BuildMenu(Snapshot{Status: healthy(), Service: true}, t0)
	if m.Enrol.Enabled || m.Accounts.Enabled || m.Audit.Enabled || m.Audit.Action != ActionNone {
		t.Fatalf("service-mode menu: enrol %+v accounts %+v audit %+v", m.Enrol, m.Accounts, m.Audit)
	}
	if !strings.Contains(m.Audit.Tooltip, healthy().AuditLog) {
		t.Errorf("audit tooltip %q does not name the trail", m.Audit.Tooltip)
	}
	m = BuildMenu(Snapshot{StatusErr: "no answer on /run/foureyes/foureyes.sock", Service: true}, t0)
	if len(m.Problems) != 1 || m.Problems[0].Label != "foureyes service not reachable" || m.Problems[0].Tooltip != "no answer on /run/foureyes/foureyes.sock" {
		t.Fatalf("service unreachable: %+v", m.Problems)
	}
	// The pages when served; user mode keeps its audit item.
	if m := BuildMenu(Snapshot{Status: healthy(), UI: true, Service: true}, t0); !m.Enrol.Enabled || !m.Accounts.Enabled {
		t.Fatalf("service-mode menu with the pages: %+v %+v", m.Enrol, m.Accounts)
	}
	if m := BuildMenu(Snapshot{Status: healthy(), UI: true}, t0); !m.Enrol.Enabled || m.Audit.Label != "Open audit trail" || !m.Audit.Enabled {
		t.Fatalf("user-mode menu: %+v %+v", m.Enrol, m.Audit)
	}
}
