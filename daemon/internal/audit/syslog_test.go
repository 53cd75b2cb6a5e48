//go:build !windows && !plan9

package audit

import (
	"foureyes/daemon/internal/testenv"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestSyslogForwarder(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		testenv.Need(t, "unix datagram sockets ("+err.Error()+")", "the system log forwarder speaks to /dev/log over one")
	}
	defer func() { _ = conn.Close() }()
	fw, err := dialSyslog("unixgram", sock, "foureyes-audit")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fw.Close() }()
	opts := testOptions()
	opts.Forwarders = []Forwarder{fw}
	l, _ := openTemp(t, opts)

	tests := []struct {
		name     string
		e        Event
		priority string // facility auth (4) * 8 + severity
	}{
		{"info", Event{User: "alice", Event: "request"}, "<38>"},
		{"high is a warning", Event{User: "bob", Event: "publish_mismatch", Severity: SeverityHigh}, "<36>"},
	}
	buf := make([]byte, 64<<10)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := mustAppend(t, l, tt.e)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			msg := string(buf[:n])
			if !strings.HasPrefix(msg, tt.priority) {
				t.Errorf("message %q, want priority %s", msg, tt.priority)
			}
			for _, want := range []string{"foureyes-audit[", "event=" + rec.Event, "severity=" + rec.Severity, "hash=" + rec.Hash, string(rec.Raw)} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if err := l.ForwardErr(); err != nil {
				t.Errorf("ForwardErr = %v", err)
			}
		})
	}
}

// Started before the system log, the forwarder connects as soon as the system log is there;
// until then the trail says forwarding fails.
func TestSyslogForwarderConnectsLater(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	fw, err := dialSyslog("unixgram", sock, "foureyes-audit")
	if err == nil {
		t.Fatal("dialling a socket that does not exist succeeded")
	}
	defer func() { _ = fw.Close() }()
	opts := testOptions()
	opts.Forwarders = []Forwarder{fw}
	l, _ := openTemp(t, opts)
	mustAppend(t, l, Event{User: "alice", Event: "request"})
	if err := l.ForwardErr(); err == nil {
		t.Fatal("no system log, yet forwarding reports no error")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatalf("no unix datagram sockets: %v", err)
	}
	defer func() { _ = conn.Close() }()
	rec := mustAppend(t, l, Event{User: "alice", Event: "approval"})
	if err := l.ForwardErr(); err != nil {
		t.Fatalf("system log there, ForwardErr = %v", err)
	}
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "hash="+rec.Hash) {
		t.Fatalf("first message after the system log came up = %q, %v", buf[:n], err)
	}
}
