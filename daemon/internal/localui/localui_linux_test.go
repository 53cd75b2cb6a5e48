package localui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/engine"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/testenv"
)

// helperEnv makes the test binary, run as another OS user, play that user's process.
const helperEnv = "FOUREYES_LOCALUI_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		fmt.Println(helper(mode))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper is the other user's attempt, answering in one line:
//   - "get URL": a GET, as a browser replaying a page's address;
//   - "post URL TOKEN": a handoff token posted as the handoff file would;
//   - "read PATH", "list PATH": reading a file (a handoff file), listing a folder.
func helper(mode string) string {
	op, arg, _ := strings.Cut(mode, " ")
	var resp *http.Response
	var err error
	switch op {
	case "get":
		resp, err = http.Get(arg)
	case "post":
		u, tok, _ := strings.Cut(arg, " ")
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"t": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "null")
		resp, err = http.DefaultClient.Do(req)
	case "read":
		var b []byte
		if b, err = os.ReadFile(arg); err == nil {
			return fmt.Sprintf("read %d bytes", len(b))
		}
	case "list":
		var ents []os.DirEntry
		if ents, err = os.ReadDir(arg); err == nil {
			return fmt.Sprintf("listed %d names", len(ents))
		}
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		return "error: " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("status %d, %d bytes", resp.StatusCode, len(b))
}

// asOther runs one helper attempt as the other user and returns its answer.
func asOther(t *testing.T, u testenv.OtherUser, bin, mode string) string {
	t.Helper()
	out, err := u.Command([]string{helperEnv + "=" + mode}, bin).Output()
	if err != nil {
		t.Fatalf("running %q as %s: %v", mode, u.Name, err)
	}
	line, _ := bufio.NewReader(strings.NewReader(string(out))).ReadString('\n')
	return strings.TrimSpace(line)
}

// engineEnv is a server in front of a real engine with a real audit trail, wired as the daemon
// wires them; its handoff folder's parents are open to everyone, so only the folder's and the
// file's own modes keep other users out.
func engineEnv(t *testing.T) (e *env, auditPath string) {
	t.Helper()
	home := t.TempDir()
	auditPath = filepath.Join(home, "audit.jsonl")
	alog, err := audit.Open(auditPath, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alog.Close() })
	eng, err := engine.New(engine.Options{Home: home, Store: custody.NewMemory(), Audit: alog, Policy: policy.Default(), PolicySource: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	open, err := os.MkdirTemp("", "foureyes-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(open) })
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	e = &env{clock: &testClock{now: time.Now()}, bodies: &strings.Builder{}}
	s, err := New(eng.Owner(api.Caller{UID: os.Getuid(), Via: "tray", OSUser: "owner"}), Options{
		Logf: t.Logf, Now: e.clock.Now, HandoffDir: filepath.Join(open, "foureyes"),
		OnRefused: func(r Refusal) {
			if err := eng.LocalPageRefused(r.UID, r.Remote, r.Reason, r.Count); err != nil {
				t.Errorf("recording a refusal: %v", err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.s, e.base = s, "http://"+s.Addr()
	return e, auditPath
}

// refusals returns the trail's local_page_refused lines.
func refusals(t *testing.T, auditPath string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		if m["event"] == "local_page_refused" {
			out = append(out, m)
		}
	}
	return out
}

// Another OS user replays everything the browser was given (the page's address with its
// secret, a handoff token): every connection is closed unanswered, the trail has a
// high-severity refusal naming that user, and the daemon's own user carries on.
func TestOtherUserCannotUseThePage(t *testing.T) {
	u := testenv.NeedOtherUser(t)
	bin := u.TestBinary(t)
	e, auditPath := engineEnv(t)
	c := browser(t)
	if body := e.open(t, c, "enrol"); !strings.Contains(body, "Step 1") {
		t.Fatal("the daemon's own user does not get the page")
	}
	page := e.url("/enrol")
	_, tok := e.handoff(t, "accounts")

	for _, attempt := range []string{"get " + page, "get " + e.url("/accounts"), "post " + e.base + "/open " + tok} {
		if got := asOther(t, u, bin, attempt); !strings.HasPrefix(got, "error: ") {
			t.Errorf("%s as %s: %s; want the connection refused", attempt, u.Name, got)
		}
	}
	lines := refusals(t, auditPath)
	if len(lines) == 0 {
		t.Fatal("no local_page_refused line in the trail")
	}
	l := lines[0]
	fields, _ := l["fields"].(map[string]any)
	if fields == nil {
		fields = l
	}
	if l["severity"] != "high" || fmt.Sprint(fields["peer_uid"]) != fmt.Sprint(u.UID) || fields["peer_user"] != u.Name {
		t.Errorf("refusal line %v: want severity high, peer_uid %d, peer_user %s", l, u.UID, u.Name)
	}
	// The attempts changed nothing for the owner: the page works, and the token the other user
	// posted was never read, so it still opens its page.
	if resp, _ := e.get(t, c, page); resp.StatusCode != http.StatusOK {
		t.Errorf("the owner's page after the attempts: %d", resp.StatusCode)
	}
	if resp := e.redeem(t, c, tok); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the owner's token after the other user tried it: %d", resp.StatusCode)
	}
}

// The handoff file cannot be read by another user, even with its folder opened up, and its
// name gives nothing to anyone.
func TestOtherUserCannotReadTheHandoff(t *testing.T) {
	u := testenv.NeedOtherUser(t)
	bin := u.TestBinary(t)
	e, _ := engineEnv(t)
	path, tok := e.handoff(t, "enrol")
	dir := filepath.Dir(path)
	for _, attempt := range []string{"list " + dir, "read " + path} {
		if got := asOther(t, u, bin, attempt); !strings.Contains(got, "permission denied") {
			t.Errorf("%s as %s: %s", attempt, u.Name, got)
		}
	}
	// Even if the folder were open to others, the file itself is not.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if got := asOther(t, u, bin, "read "+path); !strings.Contains(got, "permission denied") {
		t.Errorf("%s reads the handoff file in an open folder: %s", u.Name, got)
	}
	// The file's name is no token, for anyone.
	c := browser(t)
	name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), handoffPrefix), handoffSuffix)
	for _, guess := range []string{filepath.Base(path), name, fileURL(path)} {
		if resp := e.redeem(t, c, guess); resp.StatusCode != http.StatusForbidden {
			t.Errorf("redeeming the file's name %q: %d", guess, resp.StatusCode)
		}
	}
	if resp := e.redeem(t, c, tok); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the token itself: %d", resp.StatusCode)
	}
}

// The real browser: Chromium given only the handoff file's URL (all its command line holds)
// opens the page, and the file is gone afterwards.
func TestHandoffInChromium(t *testing.T) {
	testenv.Enabled(t, "FOUREYES_BROWSER_TESTS", "opens the local pages in a real browser; make test sets it")
	chromium := testenv.Program(t, "FOUREYES_CHROMIUM", "chromium", "chromium")
	e := newEnv(t)
	u, err := e.s.Handoff("enrol")
	if err != nil {
		t.Fatal(err)
	}
	fu, _ := url.Parse(u)
	cmd := exec.Command(chromium, "--headless=new", "--no-sandbox", "--user-data-dir="+t.TempDir(),
		"--disable-background-networking", "--no-first-run", "--virtual-time-budget=10000", "--dump-dom", u)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, "Enrol an approver") || !strings.Contains(dom, "Step 1: who approves?") || !strings.Contains(dom, `action="/s/`) {
		t.Fatalf("chromium did not reach the page through the handoff file:\n%s", dom)
	}
	if _, err := os.Stat(fu.Path); !os.IsNotExist(err) {
		t.Errorf("the handoff file is still there after the browser used it (%v)", err)
	}
}
