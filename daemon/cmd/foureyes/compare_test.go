package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/audit"
)

// copyForwarder keeps what a system log would have received.
type copyForwarder struct{ buf *bytes.Buffer }

func (c copyForwarder) Forward(rec audit.Record) error {
	c.buf.WriteString("Dec  1 10:00:00 laptop foureyes[42]: " + audit.ForwardedText(rec) + "\n")
	return nil
}

func TestCLIAuditCompare(t *testing.T) {
	c := newCLI(t)
	trail := filepath.Join(c.home, "audit.jsonl")
	var fw bytes.Buffer
	l, err := audit.Open(trail, audit.Options{Forwarders: []audit.Forwarder{copyForwarder{&fw}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"eins", "zwei", "drei", "vier"} {
		if err := l.Record("staff", "request", "info", map[string]any{"text": text}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile := filepath.Join(c.home, "auth.log")
	if err := os.WriteFile(copyFile, fw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("", "audit", "compare", "--syslog", copyFile); !strings.Contains(out, "agrees with the copy") || !strings.Contains(out, "4 of its 4 lines") {
		t.Fatalf("compare of an untouched trail: %s", out)
	}
	if out := c.ok(fw.String(), "audit", "compare", "--syslog", "-", "--json"); !strings.Contains(out, `"ok": true`) {
		t.Fatalf("--json from standard input: %s", out)
	}

	// --journal asks journald, at its fixed place, for one user's forwarded lines only.
	if got, want := strings.Join(journalArgs(1000), " "), "--no-pager -o cat SYSLOG_IDENTIFIER=foureyes _UID=1000"; got != want {
		t.Fatalf("journalctl arguments %q, want %q", got, want)
	}
	out, errs, code := c.run("", "audit", "compare", "--journal")
	switch {
	case code == exitOK && strings.Contains(out, "agrees with the copy in journald"):
	case code != exitOK && (strings.Contains(errs, "holds no forwarded foureyes line") || strings.Contains(errs, "journalctl is not installed here") ||
		strings.Contains(errs, "reading the forwarded lines with journalctl")):
	default:
		t.Fatalf("--journal: exit %d, %s %s", code, out, errs)
	}

	// The tail cut off: verify still passes, compare does not.
	raw, _ := os.ReadFile(trail)
	ls := bytes.SplitAfter(raw, []byte("\n"))
	if err := os.WriteFile(trail, bytes.Join(ls[:2], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("", "audit", "verify")
	_, errs, code = c.run("", "audit", "compare", "--syslog", copyFile)
	if code != exitRefused || !strings.Contains(errs, "does NOT agree") || !strings.Contains(errs, "2 forwarded lines are missing from the trail (lines 3 to 4)") {
		t.Fatalf("cut tail: exit %d, %s", code, errs)
	}

	// Wrong usage and a copy with nothing in it.
	for _, args := range [][]string{{"audit", "compare"}, {"audit", "compare", "--journal", "--syslog", copyFile}} {
		if _, errs, code := c.run("", args...); code != exitUsage || !strings.Contains(errs, "exactly one of --journal and --syslog") {
			t.Fatalf("%v: exit %d %s", args, code, errs)
		}
	}
	empty := filepath.Join(c.home, "empty.log")
	if err := os.WriteFile(empty, []byte("Dec  1 sshd[1]: hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.run("", "audit", "compare", "--syslog", empty); code != exitRefused || !strings.Contains(errs, "holds no forwarded foureyes line") {
		t.Fatalf("empty copy: exit %d %s", code, errs)
	}
	if _, errs, code := c.run("", "audit", "compare", "--syslog", filepath.Join(c.home, "nope.log")); code == exitOK || !strings.Contains(errs, "opening the forwarded copy") {
		t.Fatalf("missing copy: exit %d %s", code, errs)
	}
}

func TestCLIAccountRotate(t *testing.T) {
	needKeyring(t)
	c := newCLI(t)
	c.startDaemon()
	t0 := time.Now()
	anna := enrol(t, c, "anna", "")
	c.ok("", "approver", "confirm", "anna", oathtool(t, anna, t0))
	c.ok("pw-1\n", "account", "add", "--platform", "x", "--handle", "@ministry", "--username", "press", "--password-stdin")
	rid := strings.TrimSpace(c.ok("", "account", "rotate", "x:@ministry"))
	if !strings.HasPrefix(rid, "r") {
		t.Fatalf("account rotate printed %q, want a request id", rid)
	}
	if out := c.ok("", "account", "list"); !strings.Contains(out, "password rotation under way") {
		t.Fatalf("account list: %s", out)
	}
	c.refused("exists", "account", "rotate", "x:@ministry")
	c.refused("not_found", "account", "rotate", "x:@nobody")
	if _, errs, code := c.run("", "account", "rotate"); code != exitUsage || !strings.Contains(errs, "name one account") {
		t.Fatalf("no account: exit %d %s", code, errs)
	}
	sid := strings.TrimSpace(c.ok("", "approve", rid, "--approver", "anna", "--code", oathtool(t, anna, t0.Add(30*time.Second))))
	if !strings.HasPrefix(sid, "s") {
		t.Fatalf("approve printed %q, want a session id", sid)
	}
	// --generate asks for the rotation right after taking the account into custody.
	if out := c.ok("pw-2\n", "account", "add", "--platform", "x", "--handle", "@second", "--username", "press2", "--password-stdin", "--generate"); !strings.Contains(out, "password rotation r") {
		t.Fatalf("account add --generate: %s", out)
	}
	// Bluesky changes a password with a code it e-mails (an admin types it): --generate asks for
	// that rotation too.
	if out := c.ok("pw-3\n", "account", "add", "--platform", "bluesky", "--handle", "@ministry.bsky.social", "--username", "press@example.org", "--password-stdin", "--generate"); !strings.Contains(out, "password rotation r") {
		t.Fatalf("account add --generate on Bluesky: %s", out)
	}
	raw, _ := os.ReadFile(filepath.Join(c.home, "audit.jsonl"))
	if !bytes.Contains(raw, []byte(`"action":"rotate"`)) || bytes.Contains(raw, []byte("pw-1")) || bytes.Contains(raw, []byte("pw-2")) {
		t.Fatal("the trail lacks the rotation request, or holds a password")
	}
}
