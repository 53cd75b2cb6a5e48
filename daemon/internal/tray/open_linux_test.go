package tray

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/localui"
)

// The tray's real opener, given what the local pages hand it, starts xdg-open with the handoff
// file's URL only: the one-time token is in the file (readable by this user alone), never on
// the command line every user can read. xdg-open is a stand-in on PATH that writes down its
// command line.
func TestOpenedPageKeepsTheTokenOffTheCommandLine(t *testing.T) {
	bin := t.TempDir()
	argvFile := filepath.Join(t.TempDir(), "argv")
	script := "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" > \"$FOUREYES_ARGV_FILE\"\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FOUREYES_ARGV_FILE", argvFile)

	ui, err := localui.New(pageBackend{}, localui.Options{HandoffDir: filepath.Join(t.TempDir(), "foureyes"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := ui.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	target, err := ui.Handoff("enrol")
	if err != nil {
		t.Fatal(err)
	}
	if err := openWithDesktop(target); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(argv) != 2 || filepath.Base(argv[0]) != "xdg-open" || argv[1] != target || !strings.HasPrefix(argv[1], "file:///") {
		t.Fatalf("xdg-open started with %q, want [xdg-open %s]", argv, target)
	}
	// The token the browser will post is in the file, and nowhere on the command line.
	u, _ := url.Parse(argv[1])
	page, err := os.ReadFile(u.Path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="t" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no token in the handoff file:\n%s", page)
	}
	if strings.Contains(string(b), string(m[1])) {
		t.Fatal("the one-time token is on the opener's command line")
	}
	// And the file does open the page.
	req, _ := http.NewRequest(http.MethodPost, "http://"+ui.Addr()+"/open", strings.NewReader("t="+string(m[1])))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/enrol") {
		t.Errorf("posting the file's token: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// pageBackend is enough backend for the enrolment page's first step.
type pageBackend struct{ api.Backend }
