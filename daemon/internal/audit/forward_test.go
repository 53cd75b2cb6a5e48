package audit

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

type recordingForwarder struct {
	mu   sync.Mutex
	recs []Record
	fail error
}

func (f *recordingForwarder) Forward(rec Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.recs = append(f.recs, rec)
	return nil
}

func (f *recordingForwarder) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

func TestForwardersAreBestEffort(t *testing.T) {
	good, bad := &recordingForwarder{}, &recordingForwarder{}
	opts := testOptions()
	opts.Forwarders = []Forwarder{bad, good}
	l, _ := openTemp(t, opts)

	bad.setFail(errors.New("connection refused"))
	rec := mustAppend(t, l, sampleEvent(0))
	mustAppend(t, l, sampleEvent(1))
	// The failure is a line of the trail itself, once, right after the line that failed.
	events := func(rs []Record) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Event)
		}
		return strings.Join(out, ",")
	}
	if got := events(good.recs); got != "request,forwarding_failed,code_failed" || good.recs[0].Hash != rec.Hash || string(good.recs[0].Raw) != string(rec.Raw) {
		t.Fatalf("good forwarder got %s", got)
	}
	if n := good.recs[1]; n.Severity != SeverityHigh || !strings.Contains(n.Fields["error"].(string), "connection refused") {
		t.Fatalf("forwarding_failed line = %+v", n)
	}
	err := l.ForwardErr()
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "3 failures") {
		t.Fatalf("ForwardErr = %v", err)
	}

	bad.setFail(nil)
	mustAppend(t, l, sampleEvent(2))
	if err := l.ForwardErr(); err != nil {
		t.Fatalf("ForwardErr after recovery = %v", err)
	}
	if got := events(bad.recs); got != sampleEvent(2).Event+",forwarding_restored" || bad.recs[0].Seq != 4 {
		t.Errorf("recovered forwarder got %s", got)
	}
	res, err := VerifyFile(l.Path())
	if err != nil || res.Lines != 5 {
		t.Fatalf("the trail with its forwarding lines does not verify: %+v %v", res, err)
	}
}

func TestForwardMessage(t *testing.T) {
	l, _ := openTemp(t, testOptions())
	rec := mustAppend(t, l, Event{User: "bob", Event: "publish_mismatch", Severity: SeverityHigh,
		Fields: map[string]any{FieldText: strings.Repeat("\u00fc", maxForwarded)}})
	msg := forwardMessage(rec)
	want := "seq=1 event=publish_mismatch severity=high hash=" + rec.Hash + ` line={"seq":1,`
	if !strings.HasPrefix(msg, want) {
		t.Errorf("message starts %q, want %q", msg[:len(want)], want)
	}
	if !strings.HasSuffix(msg, " [cut]") || len(msg) > maxForwarded+200 || strings.ContainsAny(msg, "\n\r") {
		t.Errorf("long message not cut to one line: %d bytes", len(msg))
	}
	if !strings.HasSuffix(strings.TrimSuffix(msg, " [cut]"), "\u00fc") {
		t.Errorf("message cut inside a character")
	}
}
