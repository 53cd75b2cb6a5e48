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

// A collector whose certificate the configured CA did not sign gets nothing: the events stay in
// the queue, and the log's forwarding error (foureyes status) names the TLS failure. With the
// right CA they all arrive.
func TestCollectorWrongCARefused(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, "org")
	other := newTestPKI(t, dir, "other")
	rs := startRsyslog(t, dir, pki, "anon")
	cfg := &CollectorConfig{Address: fmt.Sprintf("127.0.0.1:%d", rs.Port), CAFile: other.CA,
		ServerName: "collector.test", QueueMaxBytes: 1 << 20}
	c := newTestCollector(t, filepath.Join(dir, "collector.queue"), cfg)
	l, _ := openTemp(t, Options{Forwarders: []Forwarder{c}})
	for i := 1; i <= 20; i++ {
		mustAppend(t, l, sampleEvent(i))
	}
	waitFor(t, "the TLS failure to show", func() bool { return l.ForwardErr() != nil })
	err := l.ForwardErr()
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), "20 events wait") {
		t.Fatalf("forwarding error: %v", err)
	}
	if c.Waiting() != 20 {
		t.Fatalf("%d events wait, want 20", c.Waiting())
	}
	if seqs := collectorSeqs(t, rs.Out); len(seqs) != 0 {
		t.Fatalf("the collector got %d messages over a connection the daemon could not verify", len(seqs))
	}
	// A wrong server name is refused too.
	bad := *cfg
	bad.CAFile, bad.ServerName = pki.CA, "logs.elsewhere.test"
	if err := c.Configure(&bad); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the name mismatch to show", func() bool {
		err := l.ForwardErr()
		return err != nil && strings.Contains(err.Error(), "logs.elsewhere.test")
	})
	// The right CA: the queue drains, in order.
	good := *cfg
	good.CAFile = pki.CA
	if err := c.Configure(&good); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to drain", func() bool { return c.Waiting() == 0 })
	waitFor(t, "the collector's file", func() bool { return len(collectorSeqs(t, rs.Out)) >= 20 })
	if err := l.ForwardErr(); err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
	for i, s := range collectorSeqs(t, rs.Out)[:20] {
		if s != uint64(i+1) {
			t.Fatalf("message %d has seq %d", i+1, s)
		}
	}
}

// Mutual TLS: a collector that asks for a client certificate refuses a daemon without one.
func TestCollectorClientCertificateRequired(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, "org")
	rs := startRsyslog(t, dir, pki, "x509/certvalid")
	cfg := &CollectorConfig{Address: fmt.Sprintf("127.0.0.1:%d", rs.Port), CAFile: pki.CA,
		ServerName: "collector.test", QueueMaxBytes: 1 << 20}
	c := newTestCollector(t, filepath.Join(dir, "collector.queue"), cfg)
	l, _ := openTemp(t, Options{Forwarders: []Forwarder{c}})
	mustAppend(t, l, sampleEvent(1))
	waitFor(t, "the refusal to show", func() bool { return c.Problem() != nil })
	if seqs := collectorSeqs(t, rs.Out); len(seqs) != 0 || c.Waiting() != 1 {
		t.Fatalf("without a client certificate: the collector got %d, %d wait", len(seqs), c.Waiting())
	}
	withCert := *cfg
	withCert.ClientCertFile, withCert.ClientKeyFile = pki.ClientCert, pki.ClientKey
	if err := c.Configure(&withCert); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to drain", func() bool { return c.Waiting() == 0 })
}

// A client key other users can read is refused before any connection.
func TestCollectorRefusesReadableClientKey(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, "org")
	if err := os.Chmod(pki.ClientKey, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := collectorTLS(&CollectorConfig{Address: "127.0.0.1:6514", CAFile: pki.CA, ClientCertFile: pki.ClientCert, ClientKeyFile: pki.ClientKey})
	if err == nil || !strings.Contains(err.Error(), "can be read by other users") {
		t.Fatalf("readable client key: %v", err)
	}
	if _, err := collectorTLS(&CollectorConfig{Address: "127.0.0.1:6514", CAFile: pki.ClientKey}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("a CA file without a certificate: %v", err)
	}
	tc, err := collectorTLS(&CollectorConfig{Address: "logs.example.org:6514", CAFile: pki.CA})
	if err != nil || tc.ServerName != "logs.example.org" || tc.MinVersion < 0x0303 || tc.InsecureSkipVerify {
		t.Fatalf("TLS config: %+v %v", tc, err)
	}
}

// The RFC 5424 message: PRI (auth, warning for alarms), version 1, the event's time, host,
// APP-NAME, PROCID, the event as MSGID, the seq in meta's sequenceId, and ForwardedText as MSG.
func TestSyslogMessage(t *testing.T) {
	l, _ := openTemp(t, testOptions())
	rec := mustAppend(t, l, Event{User: "anna", Event: "publish_mismatch", Severity: SeverityHigh, Fields: map[string]any{"account": "x:@m"}})
	got := string(syslogMessage(rec, "laptop-7", 4242))
	want := fmt.Sprintf(`<36>1 %s laptop-7 foureyes 4242 publish_mismatch [meta sequenceId="1"] %s`,
		rec.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), ForwardedText(rec))
	if got != want {
		t.Fatalf("message\n got %s\nwant %s", got, want)
	}
	rec.Severity, rec.Seq, rec.Event = SeverityInfo, 1<<40, strings.Repeat("e", 40)
	got = string(syslogMessage(rec, syslogToken("bad host\n", 255), 1))
	if !strings.HasPrefix(got, "<38>1 ") || !strings.Contains(got, " bad_host_ foureyes 1 "+strings.Repeat("e", 32)+" - seq=1099511627776 ") {
		t.Fatalf("message %s", got)
	}
}

// audit.syslog off turns off the system log only: the collector has its own key.
func TestCollectorNotTurnedOffWithSyslog(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, "org")
	c := newTestCollector(t, filepath.Join(dir, "collector.queue"), &CollectorConfig{Address: "127.0.0.1:1", CAFile: pki.CA, QueueMaxBytes: 1 << 20})
	sys := &recordingForwarder{}
	l, _ := openTemp(t, Options{Forwarders: []Forwarder{sys, c}})
	l.SetForwarding(false)
	mustAppend(t, l, sampleEvent(1))
	if c.Waiting() != 1 || len(sys.recs) != 0 {
		t.Fatalf("with audit.syslog off: collector queued %d, system log got %d", c.Waiting(), len(sys.recs))
	}
	// No collector in the policy: nothing is queued.
	if err := c.Configure(nil); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, sampleEvent(2))
	if c.Waiting() != 1 {
		t.Fatalf("without a collector: %d wait", c.Waiting())
	}
}

// A full queue never blocks or fails the trail: the event is written, the trail records
// forwarding_failed (an alarm) once, and forwarding_restored when there is room again.
func TestCollectorQueueFullIsAudited(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, "org")
	c := newTestCollector(t, filepath.Join(dir, "collector.queue"), &CollectorConfig{Address: "127.0.0.1:1", CAFile: pki.CA, QueueMaxBytes: 8 << 10})
	l, path := openTemp(t, Options{Forwarders: []Forwarder{c}})
	for i := 1; i <= 30; i++ {
		mustAppend(t, l, sampleEvent(i))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"event":"forwarding_failed"`); n != 1 {
		t.Fatalf("%d forwarding_failed lines, want 1:\n%s", n, b)
	}
	if !strings.Contains(string(b), "the collector's queue is full") {
		t.Fatal("the forwarding_failed line does not say the queue is full")
	}
	if err := l.ForwardErr(); err == nil || !strings.Contains(err.Error(), "queue is full") {
		t.Fatalf("ForwardErr: %v", err)
	}
	// Room again (the collector took them): the next event is queued and the trail says so.
	_, end, _ := c.q.state()
	if err := c.q.confirm(end); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, sampleEvent(31))
	b, _ = os.ReadFile(path)
	if !strings.Contains(string(b), `"event":"forwarding_restored"`) {
		t.Fatal("no forwarding_restored line once the queue had room")
	}
}
