package audit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// stepClock is a clock that moves one millisecond on every reading.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStepClock() *stepClock {
	return &stepClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func testOptions() Options { return Options{Now: newStepClock().Now} }

func openTemp(t testing.TB, opts Options) (*Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	l, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, path
}

func mustAppend(t testing.TB, l *Log, e Event) Record {
	t.Helper()
	rec, err := l.Append(e)
	if err != nil {
		t.Fatalf("Append(%+v): %v", e, err)
	}
	return rec
}

// sampleEvent returns the i-th of a realistic mix of events.
func sampleEvent(i int) Event {
	req := fmt.Sprintf("r%06d", i/6)
	text := fmt.Sprintf("Heute im Landtag: Beratung zum Haushalt 2027, Tagesordnungspunkt %d. Die Ministerin "+
		"erl\u00e4utert die Schwerpunkte f\u00fcr Bildung und Stra\u00dfenbau. Mehr: https://example.org/p/%d "+
		"#Landtag #Haushalt @presse \U0001f4e2", i%40, i)
	digest := fmt.Sprintf("%064x", i*7919)
	switch i % 6 {
	case 0:
		return Event{User: "alice", Event: "request", Fields: map[string]any{
			FieldAccount: "mastodon:@ministerium", FieldAction: "post", FieldRequestID: req, FieldDigest: digest, FieldText: text}}
	case 1:
		return Event{User: "presse1", Event: "code_failed", Fields: map[string]any{
			FieldRequestID: req, FieldApprover: "presse1", "failures": 1}}
	case 2:
		return Event{User: "presse1", Event: "approval", Fields: map[string]any{
			FieldAccount: "mastodon:@ministerium", FieldAction: "post", FieldRequestID: req, FieldApprover: "presse1",
			FieldRequester: "alice", FieldDigest: digest, FieldText: text}}
	case 3:
		return Event{User: "alice", Event: "session_issued", Fields: map[string]any{
			FieldRequestID: req, FieldSessionID: "s" + req[1:], FieldDigest: digest, "expires": "2026-11-23T09:10:00Z"}}
	case 4:
		return Event{User: "alice", Event: "published", Fields: map[string]any{
			FieldAccount: "mastodon:@ministerium", FieldSessionID: "s" + req[1:], FieldDigest: digest, FieldText: text}}
	default:
		return Event{User: "bob", Event: "blocked", Severity: SeverityHigh, Fields: map[string]any{
			"host": "x.com", "reason": "no session"}}
	}
}

// writeSynthetic writes a valid log of n sample lines to path without an fsync per line, for
// benchmarks and the bench script. It returns the file size.
func writeSynthetic(tb testing.TB, path string, n int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	w := bufio.NewWriterSize(f, 1<<20)
	clock := newStepClock()
	prev := zeroHash
	var line []byte
	var size int64
	for i := range n {
		e := sampleEvent(i)
		fields, _, err := encodeFields(e.Fields)
		if err != nil {
			tb.Fatal(err)
		}
		sev := e.Severity
		if sev == "" {
			sev = SeverityInfo
		}
		line, prev, err = appendLine(line[:0], uint64(i+1), clock.Now(), e.User, e.Event, sev, fields, prev)
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = w.Write(line) // errors surface at Flush, checked below
		size += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return size
}

func lines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))
}
