package main

import (
	"bufio"
	"encoding/json"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// cur is the newest menu read: a notification and the menu it goes with can come in
	// either order, so a menu already read past is still the tray's current one.
	cur *tray.LineMenu
}

func (s *svc) startStaffTray() *staffTray {
	s.t.Helper()
	// The staff user's own runtime folder, where the tray writes the pages' handoff files.
	runtime := filepath.Join(s.root, "runtime-"+s.staff.Name)
	if err := os.Mkdir(runtime, 0o700); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Chown(runtime, int(s.staff.UID), int(s.staff.GID)); err != nil {
		s.t.Fatal(err)
	}
	cmd := s.staff.Command([]string{"PATH=/usr/bin:/bin", "FOUREYES_SOCKET=" + s.socket, "HOME=/nonexistent", "XDG_RUNTIME_DIR=" + runtime}, s.bin, "tray", "--lines")
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
			if l.Menu != nil {
				st.cur = l.Menu
			}
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
	if st.cur != nil && ok(st.cur) {
		return st.cur
	}
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
	// open it. The local pages are this tray's own.
	if it, ok := item(first, "Audit trail: IT's in service mode"); !ok || it.Enabled || !strings.Contains(it.Tooltip, "sudo foureyes audit verify") {
		t.Errorf("the audit item in service mode: %+v in %+v", it, first.Items)
	}
	for _, label := range []string{"Enrol an approver…", "Accounts…"} {
		if it, ok := item(first, label); !ok || !it.Enabled {
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
	// It comes back (same folder, same socket): the tray connects again by itself.
	if err := s.proc.Wait(); err != nil {
		t.Fatalf("the service did not stop cleanly: %v", err)
	}
	again := exec.Command(s.bin, "service", "--state-dir", s.state, "--socket", s.socket, "--policy", filepath.Join(s.root, "policy.json"))
	again.Env = []string{"PATH=/usr/bin:/bin"}
	again.Stdout, again.Stderr = s.logs, s.logs
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = again.Process.Signal(os.Interrupt)
		_ = again.Wait()
	})
	st.menu("the service back", func(m *tray.LineMenu) bool {
		return len(m.Problems) == 0 || m.Problems[0] != "foureyes service not reachable"
	})
	st.choose("quit")
	if err := <-st.done; err != nil {
		t.Fatalf("the staff user's tray after quit: %v", err)
	}
}

// page is a local page of the staff user's tray, reached as the staff user (the pages serve
// their own OS user only) with curl, as a browser would: the handoff file's token for the
// page's address, then GETs and POSTs carrying the page's Origin and CSRF token.
type page struct {
	s    *svc
	st   *staffTray
	base string // http://127.0.0.1:PORT/s/SECRET
	name string
}

var (
	handoffAction = regexp.MustCompile(`action="(http://127\.0\.0\.1:[0-9]+/open)"`)
	handoffToken  = regexp.MustCompile(`name="t" value="([^"]+)"`)
	csrfField     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	location      = regexp.MustCompile(`(?mi)^location: (\S+)`)
)

func (s *svc) curlAsStaff(args ...string) string {
	s.t.Helper()
	out, errs, code := runCmd(s.t, s.staff.Command([]string{"PATH=/usr/bin:/bin"}, "/usr/bin/curl", append([]string{"-sS", "--max-time", "30"}, args...)...), "")
	if code != 0 {
		s.t.Fatalf("curl %v as %s: exit %d: %s", args, s.staff.Name, code, errs)
	}
	return out
}

// openPage picks the page in the staff user's tray and follows its handoff file.
func (st *staffTray) openPage(s *svc, name string) *page {
	s.t.Helper()
	st.choose(name)
	n := st.notification("Open this page in the browser", "file://")
	b, err := os.ReadFile(strings.TrimPrefix(n.Body, "file://"))
	if err != nil {
		s.t.Fatalf("the handoff file of the %s page: %v", name, err)
	}
	act, tok := handoffAction.FindSubmatch(b), handoffToken.FindSubmatch(b)
	if act == nil || tok == nil {
		s.t.Fatalf("no form in the handoff file:\n%s", b)
	}
	head := s.curlAsStaff("-i", "-H", "Origin: null", "--data-urlencode", "t="+string(tok[1]), string(act[1]))
	loc := location.FindStringSubmatch(head)
	if loc == nil || !strings.HasSuffix(loc[1], "/"+name) {
		s.t.Fatalf("redeeming the handoff token: %s", head)
	}
	origin := strings.TrimSuffix(string(act[1]), "/open")
	return &page{s: s, st: st, base: origin + strings.TrimSuffix(loc[1], "/"+name), name: name}
}

// post sends the page's form with fields, and returns the page it ends on.
func (p *page) post(fields ...string) string {
	p.s.t.Helper()
	csrf := csrfField.FindStringSubmatch(p.s.curlAsStaff(p.base + "/" + p.name))
	if csrf == nil {
		p.s.t.Fatalf("no CSRF token on the %s page", p.name)
	}
	origin := p.base[:strings.Index(p.base, "/s/")]
	args := []string{"-L", "-H", "Origin: " + origin, "--data-urlencode", "csrf=" + csrf[1]}
	for _, f := range fields {
		args = append(args, "--data-urlencode", f)
	}
	return html.UnescapeString(p.s.curlAsStaff(append(args, p.base+"/"+p.name)...))
}

// The enrolment and accounts pages of service mode are the staff user's tray's, over the
// service's socket: a staff member enrols a second approver there on the first approver's code
// (and confirms the phone), and the accounts page shows the service's refusal of what is IT's,
// which the trail records as an alarm in the staff member's name.
func TestServiceTrayPages(t *testing.T) {
	s := startService(t)
	staff := s.staff.Name
	t0 := time.Now()
	var anna struct{ Secret string }
	if err := json.Unmarshal([]byte(s.rootOK("\n", "approver", "enroll", "anna", "--name", "Anna", "--json")), &anna); err != nil {
		t.Fatal(err)
	}
	s.rootOK("", "approver", "confirm", "anna", oathtool(t, anna.Secret, t0))
	st := s.startStaffTray()
	st.menu("the pages offered", func(m *tray.LineMenu) bool {
		it, ok := item(m, "Accounts…")
		return ok && it.Enabled
	})

	acc := st.openPage(s, "accounts")
	body := acc.post("op=add", "platform=x", "handle=@mine", "username=me@example.org", "password=chosen-by-staff")
	if !strings.Contains(body, "account.add is for IT in service mode") || strings.Contains(body, "chosen-by-staff") {
		t.Fatalf("the accounts page after the staff user's add:\n%s", body)
	}
	if !strings.Contains(s.trail(), `"event":"command_refused","severity":"high"`) || !strings.Contains(s.trail(), `"os_user":"`+staff+`"`) {
		t.Fatalf("no command_refused alarm naming %s:\n%s", staff, s.trail())
	}

	en := st.openPage(s, "enrol")
	body = en.post("op=enrol", "id=ben", "name=Ben", "os_user="+staff, "by=anna", "by_code="+oathtool(t, anna.Secret, t0.Add(30*time.Second)))
	secret := regexp.MustCompile(`<span class="secret">([A-Z2-7 ]+)</span>`).FindStringSubmatch(body)
	if secret == nil {
		t.Fatalf("the enrolment page shows no secret:\n%s", body)
	}
	body = en.post("op=confirm", "id=ben", "code="+oathtool(t, strings.ReplaceAll(secret[1], " ", ""), time.Now()))
	if !strings.Contains(body, "Confirmed.") {
		t.Fatalf("confirming ben on the page:\n%s", body)
	}
	var list []struct {
		ID        string
		Confirmed bool
		OSUser    string `json:"os_user"`
	}
	if err := json.Unmarshal([]byte(s.rootOK("", "approver", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	var ok bool
	for _, a := range list {
		ok = ok || a.ID == "ben" && a.Confirmed && a.OSUser == staff
	}
	if !ok {
		t.Fatalf("ben is not a confirmed approver of the service after the page: %+v", list)
	}
	if !strings.Contains(s.trail(), `"user":"`+staff+`","event":"approver_enrolled"`) {
		t.Errorf("the enrolment is not in the trail in %s's name:\n%s", staff, s.trail())
	}
}
