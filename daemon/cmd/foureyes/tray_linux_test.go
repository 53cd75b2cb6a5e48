package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/tray"
)

// staffTray is `foureyes tray --lines` run as the staff user against the service: the same tray
// controller as the icon's, writing what it would show as JSON lines.
type staffTray struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan tray.Line
	done  chan error
	seen  []string
}

func (s *svc) startStaffTray() *staffTray {
	s.t.Helper()
	cmd := s.staff.Command([]string{"PATH=/usr/bin:/bin", "FOUREYES_SOCKET=" + s.socket, "HOME=/nonexistent"}, s.bin, "tray", "--lines")
	in, err := cmd.StdinPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	errs := &logBuffer{}
	cmd.Stderr = errs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	st := &staffTray{t: s.t, in: in, lines: make(chan tray.Line, 256), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			var l tray.Line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l.Error = "not a tray line: " + sc.Text()
			}
			st.lines <- l
		}
		close(st.lines)
		st.done <- cmd.Wait()
	}()
	s.t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Process.Kill()
		if s.t.Failed() {
			s.t.Logf("the staff user's tray wrote on stderr:\n%s", errs)
		}
	})
	return st
}

// next reads lines until one satisfies ok; the limit only turns "never shown" into a failure
// that lists what was shown instead.
func (st *staffTray) next(what string, ok func(tray.Line) bool) tray.Line {
	st.t.Helper()
	limit := time.After(30 * time.Second)
	for {
		select {
		case l, open := <-st.lines:
			if !open {
				st.t.Fatalf("the staff user's tray ended before showing %s; it showed:\n%s", what, strings.Join(st.seen, "\n"))
			}
			b, _ := json.Marshal(l)
			st.seen = append(st.seen, string(b))
			if l.Error != "" {
				st.t.Fatalf("the staff user's tray: %s", l.Error)
			}
			if ok(l) {
				return l
			}
		case <-limit:
			st.t.Fatalf("the staff user's tray did not show %s; it showed:\n%s", what, strings.Join(st.seen, "\n"))
		}
	}
}

func (st *staffTray) notification(title, contains string) tray.Notification {
	st.t.Helper()
	return *st.next("the notification "+title, func(l tray.Line) bool {
		return l.Notification != nil && l.Notification.Title == title && strings.Contains(l.Notification.Body, contains)
	}).Notification
}

func (st *staffTray) menu(what string, ok func(*tray.LineMenu) bool) *tray.LineMenu {
	st.t.Helper()
	return st.next("a menu with "+what, func(l tray.Line) bool { return l.Menu != nil && ok(l.Menu) }).Menu
}

func (st *staffTray) choose(choice string) {
	st.t.Helper()
	if _, err := io.WriteString(st.in, choice+"\n"); err != nil {
		st.t.Fatalf("choosing %s in the staff user's tray: %v", choice, err)
	}
}

func hasEntry(m *tray.LineMenu, prefix string) bool {
	for _, e := range m.Entries {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func item(m *tray.LineMenu, label string) (tray.LineItem, bool) {
	for _, it := range m.Items {
		if it.Label == label {
			return it, true
		}
	}
	return tray.LineItem{}, false
}

// The per-user tray of service mode, run as a real second OS user, follows the service over its
// socket: root's request shows in the staff user's tray as it is made, the staff user (approver
// ben) approves it and the tray tells of the session, the tray's Lock now revokes it in the
// staff user's name (the service takes it from the socket's peer credentials), and when the
// service stops the tray says so.
func TestServiceTray(t *testing.T) {
	s := startService(t)
	staff := s.staff.Name
	t0 := time.Now()
	var anna, ben struct{ Secret string }
	if err := json.Unmarshal([]byte(s.rootOK("\n", "approver", "enroll", "anna", "--name", "Anna", "--json")), &anna); err != nil {
		t.Fatal(err)
	}
	s.rootOK("", "approver", "confirm", "anna", oathtool(t, anna.Secret, t0))
	vouch := oathtool(t, anna.Secret, t0.Add(30*time.Second))
	if err := json.Unmarshal([]byte(s.rootOK(vouch+"\n", "approver", "enroll", "ben", "--name", "Ben", "--os-user", staff, "--by", "anna", "--json")), &ben); err != nil {
		t.Fatal(err)
	}
	s.rootOK("", "approver", "confirm", "ben", oathtool(t, ben.Secret, time.Now()))
	s.rootOK("pw\n", "account", "add", "--platform", "x", "--handle", "@ministry", "--username", "press@example.org", "--password-stdin")

	st := s.startStaffTray()
	first := st.menu("the service's state", func(m *tray.LineMenu) bool { return len(m.About) > 1 })
	// The trail is in the service's folder: the menu says it is IT's instead of offering to
	// open it; the local pages are not built for service mode, so they are not offered.
	if it, ok := item(first, "Audit trail: IT's in service mode"); !ok || it.Enabled || !strings.Contains(it.Tooltip, "sudo foureyes audit verify") {
		t.Errorf("the audit item in service mode: %+v in %+v", it, first.Items)
	}
	for _, label := range []string{"Enrol an approver…", "Accounts…"} {
		if it, ok := item(first, label); !ok || it.Enabled || !strings.Contains(it.Tooltip, "not built yet in service mode") {
			t.Errorf("%s in service mode: %+v", label, it)
		}
	}
	if it, ok := item(first, "Lock now"); !ok || !it.Enabled {
		t.Errorf("Lock now in service mode: %+v", it)
	}

	// Root asks; the staff user's tray tells of it and lists it.
	var req struct{ ID string }
	if err := json.Unmarshal([]byte(s.rootOK("Guten Morgen aus dem Ministerium!\n", "request", "--account", "x:@ministry", "--text-file", "-", "--json")), &req); err != nil {
		t.Fatal(err)
	}
	st.notification("Approval requested", "root asks to post on x:@ministry: “Guten Morgen aus dem Ministerium!”")
	st.menu("root's request waiting", func(m *tray.LineMenu) bool { return hasEntry(m, "Waiting: x:@ministry · post · “Guten Morgen") })

	// The staff user approves it as ben (theirs to approve: it is not their own request).
	s.staffOK(oathtool(t, ben.Secret, time.Now().Add(30*time.Second))+"\n", "approve", req.ID, "--approver", "ben", "--json")
	st.notification("Posting session open", "root may post once on x:@ministry")
	st.menu("the open session", func(m *tray.LineMenu) bool {
		return hasEntry(m, "Open: x:@ministry · post")
	})

	// Lock now in the staff user's tray revokes the session, in the staff user's name.
	st.choose("lock")
	st.notification("Locked", "1 sessions")
	st.menu("nothing open", func(m *tray.LineMenu) bool { return !hasEntry(m, "Open:") })
	var locked bool
	for _, line := range strings.Split(strings.TrimSpace(s.trail()), "\n") {
		r, err := audit.ParseRecord([]byte(line))
		if err != nil {
			t.Fatalf("trail line %q: %v", line, err)
		}
		if r.Event == "lock" {
			locked = r.User == staff && r.Fields["reason"] == "lock now (tray)"
		}
	}
	if !locked {
		t.Fatalf("no lock line by %s with the tray's reason in the trail:\n%s", staff, s.trail())
	}

	// The service stops: the tray says it cannot reach it and what to do.
	_ = s.proc.Process.Signal(os.Interrupt)
	down := st.menu("the service gone", func(m *tray.LineMenu) bool {
		return len(m.Problems) > 0 && m.Problems[0] == "foureyes service not reachable"
	})
	if down.Icon != tray.IconProblem {
		t.Errorf("icon with the service gone: %s", down.Icon)
	}
	st.choose("quit")
	if err := <-st.done; err != nil {
		t.Fatalf("the staff user's tray after quit: %v", err)
	}
}
