package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fastTimings keep the tests short; the logic is the same as with the daemon's.
var fastTimings = collectorTimings{
	confirmAfter: 100 * time.Millisecond,
	backoffMin:   20 * time.Millisecond,
	backoffMax:   300 * time.Millisecond,
	ioTimeout:    10 * time.Second,
}

func newTestCollector(t testing.TB, queuePath string, cfg *CollectorConfig) *Collector {
	t.Helper()
	c := NewCollector(queuePath, t.Logf)
	c.t = fastTimings
	if err := c.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(0) })
	return c
}

// The proof: 10,000 events through a network cut, a daemon restart with events in the queue,
// and a collector restart, to a real rsyslog with its TLS input and mutual TLS. None is lost,
// the order is kept (a seq appears for the first time only after every seq before it), and
// audit compare on rsyslog's file agrees with the trail.
func TestCollectorRsyslog10k(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, "org")
	rs := startRsyslog(t, dir, pki, "x509/certvalid")
	px := startProxy(t, fmt.Sprintf("127.0.0.1:%d", rs.Port))
	cfg := &CollectorConfig{Address: px.Addr(), CAFile: pki.CA, ClientCertFile: pki.ClientCert,
		ClientKeyFile: pki.ClientKey, ServerName: "collector.test", QueueMaxBytes: 64 << 20}
	trail := filepath.Join(dir, "state", "audit.jsonl")
	qpath := filepath.Join(dir, "state", "collector.queue")
	open := func() (*Log, *Collector) {
		c := NewCollector(qpath, t.Logf)
		c.t = fastTimings
		if err := c.Configure(cfg); err != nil {
			t.Fatal(err)
		}
		l, err := Open(trail, Options{Forwarders: []Forwarder{c}})
		if err != nil {
			t.Fatal(err)
		}
		return l, c
	}
	l, c := open()
	t.Cleanup(func() { _ = c.Close(0); _ = l.Close() })

	const total = 10000
	for i := 1; i <= total; i++ {
		switch i {
		case 2000:
			px.Cut()
		case 3000:
			// The daemon stops with the cut's events in the queue, and resumes them.
			if n := c.Waiting(); n < 1000 {
				t.Fatalf("%d events wait in the queue during the cut, want at least 1000", n)
			}
			if err := c.Close(0); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l, c = open()
			if n := c.Waiting(); n < 1000 {
				t.Fatalf("after the restart %d events wait in the queue, want at least 1000", n)
			}
		case 4000:
			px.Restore()
		case 6000:
			rs.stop()
		case 7000:
			rs.start()
		}
		if _, err := l.Append(sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the queue to empty", func() bool { return c.Waiting() == 0 })
	head, _ := l.Head()
	if head != total {
		t.Fatalf("the trail has %d lines, want %d (a forwarding_failed line?)", head, total)
	}
	waitFor(t, "the collector's file to hold the last event", func() bool {
		seqs := collectorSeqs(t, rs.Out)
		return len(seqs) > 0 && seqs[len(seqs)-1] == head
	})
	seqs := collectorSeqs(t, rs.Out)
	var next uint64 = 1
	dups := 0
	for i, s := range seqs {
		switch {
		case s == next:
			next++
		case s < next:
			dups++ // sent again after a reconnect: compare checks its hash
		default:
			t.Fatalf("message %d of the collector's file has seq %d before seq %d arrived: lost or out of order", i+1, s, next)
		}
	}
	if next != head+1 {
		t.Fatalf("the collector has seqs 1 to %d, the trail %d", next-1, head)
	}
	t.Logf("%d messages in the collector's file for %d events (%d sent again after reconnecting)", len(seqs), head, dups)

	tr, err := os.Open(trail)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close() }()
	fw, err := os.Open(rs.Out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fw.Close() }()
	cmp, err := Compare(tr, fw)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.OK() || cmp.Matched != total || cmp.ForwardedLines != total || len(cmp.Gaps) != 0 {
		t.Fatalf("compare with the collector's file: %+v", cmp)
	}
	// The header fields rsyslog parsed out of the RFC 5424 message.
	b, _ := os.ReadFile(rs.Out)
	first := strings.SplitN(string(b), "\n", 2)[0]
	host, _ := os.Hostname()
	if !strings.Contains(first, " "+syslogToken(host, 255)+" foureyes[") || !strings.Contains(first, "] "+sampleEvent(1).Event+" seq=1 event=") {
		t.Fatalf("rsyslog's line does not carry host, APP-NAME, PROCID and MSGID: %q", first)
	}
}
