//go:build !windows && !plan9

package audit

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/testenv"
)

// forwardedTrail writes n events through a real syslog forwarder to a datagram socket and
// returns the trail's path and what the system log received, one message a line, as a syslog
// file holds it.
func forwardedTrail(t *testing.T, n int, text string) (string, []byte) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		testenv.Need(t, "unix datagram sockets ("+err.Error()+")", "audit compare reads what the forwarder sent")
	}
	defer func() { _ = conn.Close() }()
	fw, err := dialSyslog("unixgram", sock, "foureyes")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fw.Close() }()
	opts := testOptions()
	opts.Forwarders = []Forwarder{fw}
	l, path := openTemp(t, opts)
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for i := range n {
		e := sampleEvent(i)
		e.Fields = map[string]any{"text": text, "i": i}
		mustAppend(t, l, e)
		m, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(bytes.TrimSuffix(buf[:m], []byte("\n")))
		got.WriteByte('\n')
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, got.Bytes()
}

func compareFiles(t *testing.T, path string, forwarded []byte) Comparison {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	c, err := Compare(f, bytes.NewReader(forwarded))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompareAgreesWithItsOwnCopy(t *testing.T) {
	path, fw := forwardedTrail(t, 30, "Guten Morgen")
	c := compareFiles(t, path, fw)
	if !c.OK() || c.Matched != 30 || c.LocalLines != 30 || c.NotForwarded != 0 {
		t.Fatalf("%+v", c)
	}
	// A copy kept for less time than the trail: the older lines are counted, not a problem.
	half := bytes.SplitAfter(fw, []byte("\n"))
	c = compareFiles(t, path, bytes.Join(half[10:], nil))
	if !c.OK() || c.BeforeCopy != 10 || c.NotForwarded != 0 || c.Matched != 20 {
		t.Fatalf("a copy that starts later: %+v", c)
	}
}

// Cutting the tail off the trail passes audit verify; the forwarded copy shows it.
func TestCompareFindsACutTail(t *testing.T) {
	path, fw := forwardedTrail(t, 30, "x")
	ls := lines(t, path)
	if err := os.WriteFile(path, bytes.Join(ls[:25], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("the cut trail should still verify (that is the gap): %v", err)
	}
	c := compareFiles(t, path, fw)
	if c.OK() || len(c.Problems) != 1 || !strings.Contains(c.Problems[0], "5 forwarded lines are missing from the trail (lines 26 to 30)") {
		t.Fatalf("%+v", c)
	}
}

// The whole chain rewritten consistently (other texts, every hash recomputed) verifies; the
// forwarded copy shows every line changed.
func TestCompareFindsARewrittenChain(t *testing.T) {
	path, fw := forwardedTrail(t, 30, "the approved text")
	forged, _ := forwardedTrail(t, 30, "a text nobody approved")
	if _, err := VerifyFile(forged); err != nil {
		t.Fatalf("the forged chain should verify on its own: %v", err)
	}
	data, err := os.ReadFile(forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c := compareFiles(t, path, fw)
	if c.OK() || c.Matched != 0 || !strings.Contains(c.Problems[0], "line 1: the trail's line differs from the copy forwarded") {
		t.Fatalf("%+v", c)
	}
	if n := len(c.Problems); n != maxProblems+1 || !strings.Contains(c.Problems[n-1], "more differences") {
		t.Fatalf("the report is not bounded: %d problems", n)
	}
}

func TestCompareFindsOneChangedLineAndMixedCopies(t *testing.T) {
	path, fw := forwardedTrail(t, 5, "a")
	_, other := forwardedTrail(t, 5, "b")
	c := compareFiles(t, path, append(append([]byte{}, fw...), other...))
	if c.OK() || !strings.Contains(c.Problems[0], "holds two different lines with this number") {
		t.Fatalf("a copy with two trails: %+v", c)
	}
	// Noise around the messages (other programs, the system log's own prefixes) is skipped.
	noisy := append([]byte("Dec  1 10:00:00 host sshd[1]: Accepted publickey\nseq=x event=y\n"), fw...)
	if c := compareFiles(t, path, noisy); !c.OK() || c.Matched != 5 {
		t.Fatalf("noise: %+v", c)
	}
	// A local line that is not an audit line at all.
	raw, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(raw, []byte("not a line\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := compareFiles(t, path, fw); c.OK() || !strings.Contains(c.Problems[0], "local line 6: malformed") {
		t.Fatalf("garbage line: %+v", c)
	}
}

// Lines appended to the trail by hand (with hashes that chain on, as anyone can compute) were
// never forwarded: a gap the trail does not explain is a problem. A gap after the trail's own
// forwarding_failed line is listed, not a problem.
func TestCompareFindsLinesAddedByHand(t *testing.T) {
	path, fw := forwardedTrail(t, 10, "x")
	// Lines 11 and 12 are written while nothing forwards them; then the daemon forwards again.
	sock := filepath.Join(t.TempDir(), "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	fwd, err := dialSyslog("unixgram", sock, "foureyes")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fwd.Close() }()
	l, err := Open(path, Options{Now: newStepClock().Now, Forwarders: []Forwarder{fwd}})
	if err != nil {
		t.Fatal(err)
	}
	l.SetForwarding(false)
	mustAppend(t, l, Event{User: "staff", Event: "approver_enrolled", Severity: SeverityHigh, Fields: map[string]any{"approver": "ghost"}})
	mustAppend(t, l, Event{User: "staff", Event: "approver_confirmed", Fields: map[string]any{"approver": "ghost"}})
	l.SetForwarding(true)
	mustAppend(t, l, Event{User: "staff", Event: "daemon_started"})
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("the trail with added lines verifies on its own: %v", err)
	}
	copyNow := append(append([]byte{}, fw...), append(bytes.TrimSuffix(buf[:n], []byte("\n")), '\n')...)
	c := compareFiles(t, path, copyNow)
	if c.OK() || c.NotForwarded != 2 || !strings.Contains(strings.Join(c.Problems, "\n"), "lines 11 to 12 never forwarded, and the trail does not say") {
		t.Fatalf("%+v", c)
	}

	// The same gap after the trail's own forwarding_failed line is explained.
	path2, fw2 := forwardedTrail(t, 3, "y")
	l2, err := Open(path2, Options{Now: newStepClock().Now, Forwarders: []Forwarder{failingForwarder{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l2, Event{User: "staff", Event: "request"}) // fails to forward: line 4, then forwarding_failed is line 5
	_ = l2.Close()
	c = compareFiles(t, path2, fw2)
	if !c.OK() || len(c.Gaps) != 1 || !strings.Contains(c.Gaps[0], "lines 4 to 5 not forwarded: the trail says forwarding failed (line 5)") {
		t.Fatalf("%+v", c)
	}
	// But a change to who may approve that never left the laptop is a problem, explained or not.
	l3, err := Open(path2, Options{Now: newStepClock().Now, Forwarders: []Forwarder{failingForwarder{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l3, Event{User: "staff", Event: "approver_enrolled", Severity: SeverityHigh, Fields: map[string]any{"approver": "ghost"}})
	_ = l3.Close()
	c = compareFiles(t, path2, fw2)
	if c.OK() || !strings.Contains(c.Problems[0], "line 6 (approver_enrolled) changes who may approve or what is in custody, and is not in the copy") {
		t.Fatalf("%+v", c)
	}
}

type failingForwarder struct{}

func (failingForwarder) Forward(Record) error { return errors.New("no system log") }

// A collector holds a message twice when the daemon sent it again after a reconnect (RFC 5425
// has no acknowledgement): the same seq with the same hash is one line, and still agrees; the
// same seq with another hash is a problem.
func TestCompareToleratesResentLines(t *testing.T) {
	path, fw := forwardedTrail(t, 10, "resent")
	lines := strings.Split(strings.TrimSuffix(string(fw), "\n"), "\n")
	// Lines 1 to 7 arrived, the connection broke, lines 5 to 10 were sent again.
	resent := strings.Join(append(append([]string{}, lines[:7]...), lines[4:]...), "\n") + "\n"
	c := compareFiles(t, path, []byte(resent))
	if !c.OK() || c.Matched != 10 || c.ForwardedLines != 10 {
		t.Fatalf("a copy with resent lines: %+v", c)
	}
	other := strings.Replace(lines[5], "hash=", "hash=0", 1)
	other = other[:strings.Index(other, "hash=")+5+64] + other[strings.Index(other, "hash=")+5+65:]
	c = compareFiles(t, path, []byte(resent+other+"\n"))
	if c.OK() || !strings.Contains(strings.Join(c.Problems, "\n"), "two different lines with this number") {
		t.Fatalf("a resent line with another hash: %+v", c)
	}
}
