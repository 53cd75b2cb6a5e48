package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTestQueue(t *testing.T, path string, max int64) (*queue, string) {
	t.Helper()
	q, note, err := openQueue(path, max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.close() })
	return q, note
}

// frames splits octet-counted frames back into messages.
func frames(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for len(b) > 0 {
		sp := strings.IndexByte(string(b), ' ')
		var n int
		if _, err := fmt.Sscanf(string(b[:sp]), "%d", &n); err != nil || sp+1+n > len(b) {
			t.Fatalf("bad frame at %q", b)
		}
		out = append(out, string(b[sp+1:sp+1+n]))
		b = b[sp+1+n:]
	}
	return out
}

func TestQueueSendsInOrderAndResumesAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "collector.queue")
	q, note := openTestQueue(t, path, 1<<20)
	if note != "" {
		t.Fatalf("new queue: note %q", note)
	}
	for i := 1; i <= 5; i++ {
		if err := q.push(fmt.Appendf(nil, "message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("queue file mode: %v %v", st.Mode(), err)
	}
	head, _, n := q.state()
	b, next, err := q.read(head, 1<<20, nil)
	if err != nil || n != 5 {
		t.Fatal(err, n)
	}
	got := frames(t, b)
	if len(got) != 5 || got[0] != "message 1" || got[4] != "message 5" {
		t.Fatalf("frames %q", got)
	}
	// Confirm the first two only (where the third record starts).
	b2, third, _ := q.read(head, 1, nil) // one record at a time
	if len(frames(t, b2)) != 1 {
		t.Fatalf("read with a small limit gave %q", b2)
	}
	_, third, _ = q.read(third, 1, nil)
	if err := q.confirm(third); err != nil {
		t.Fatal(err)
	}
	if _, _, n := q.state(); n != 3 {
		t.Fatalf("after confirming two: %d wait", n)
	}
	_ = next
	// A restart resumes from the head: the three unconfirmed, in order.
	if err := q.close(); err != nil {
		t.Fatal(err)
	}
	q2, note := openTestQueue(t, path, 1<<20)
	if note != "" {
		t.Fatalf("reopen: note %q", note)
	}
	head, _, n = q2.state()
	b, end, _ := q2.read(head, 1<<20, nil)
	if got := frames(t, b); n != 3 || len(got) != 3 || got[0] != "message 3" {
		t.Fatalf("after reopen: %d wait, frames %q", n, got)
	}
	if err := q2.confirm(end); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Size() != queueHdrSize {
		t.Fatalf("an empty queue is %d bytes, want the header's %d", st.Size(), queueHdrSize)
	}
	// Offsets held before the file was cut back still work.
	if err := q2.push([]byte("message 6")); err != nil {
		t.Fatal(err)
	}
	b, _, _ = q2.read(end, 1<<20, nil)
	if got := frames(t, b); len(got) != 1 || got[0] != "message 6" {
		t.Fatalf("after emptying: %q", got)
	}
}

// A crash while appending leaves a torn last record: the queue drops it with a note and keeps
// every whole record before it; it never panics on any cut of the file.
func TestQueueTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "collector.queue")
	q, _ := openTestQueue(t, path, 1<<20)
	ends := []int{int(queueHdrSize)}
	for i := 1; i <= 3; i++ {
		m := fmt.Appendf(nil, "message %d", i)
		if err := q.push(m); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, ends[len(ends)-1]+recHdrSize+len(m)+1)
	}
	_ = q.close()
	whole, err := os.ReadFile(path)
	if err != nil || len(whole) != ends[3] {
		t.Fatalf("queue file: %d bytes, %v", len(whole), err)
	}
	for cut := 0; cut < len(whole); cut++ {
		p := filepath.Join(dir, fmt.Sprintf("cut%d", cut))
		if err := os.WriteFile(p, whole[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		q, note, err := openQueue(p, 1<<20)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		want, boundary := 0, cut == 0
		for i, e := range ends {
			if e <= cut {
				want = i
			}
			boundary = boundary || e == cut
		}
		if _, _, n := q.state(); n != want {
			t.Errorf("cut at %d: %d records wait, want %d", cut, n, want)
		}
		if !boundary && !strings.Contains(note, "collector queue") {
			t.Errorf("cut at %d: no note of the torn record or header", cut)
		}
		if boundary && note != "" {
			t.Errorf("cut at %d (a record boundary): note %q", cut, note)
		}
		if cut > int(queueHdrSize) && !boundary && !strings.Contains(note, "torn") {
			t.Errorf("cut at %d: note %q does not say the record is torn", cut, note)
		}
		_ = q.close()
		// What was cut off is gone from the file, so the next append continues whole records.
		left, _ := os.ReadFile(p)
		if len(queuedMessages(left)) != want {
			t.Errorf("cut at %d: the file holds %d whole records, want %d", cut, len(queuedMessages(left)), want)
		}
	}
}

func TestQueueFullAndCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "collector.queue")
	msg := []byte(strings.Repeat("x", 1000))
	q, _ := openTestQueue(t, path, 10*1019) // room for ten records of 1,000 bytes
	for i := 0; i < 10; i++ {
		if err := q.push(msg); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := q.push(msg); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("eleventh push: %v, want ErrQueueFull", err)
	}
	// Sending four frees room for four more: the sent records are moved out of the file.
	head, _, _ := q.state()
	pos := head
	for i := 0; i < 4; i++ {
		_, pos, _ = q.read(pos, 1, nil)
	}
	if err := q.confirm(pos); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := q.push(msg); err != nil {
			t.Fatalf("push after sending four: %v", err)
		}
	}
	if err := q.push(msg); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("push past the bound after compaction: %v", err)
	}
	if _, _, n := q.state(); n != 10 {
		t.Fatalf("%d wait, want 10", n)
	}
	// The offsets held across the compaction still read the right records, in order.
	b, _, err := q.read(pos, 1<<20, nil)
	if err != nil || len(frames(t, b)) != 10 {
		t.Fatalf("after compaction: %v, %d frames", err, len(frames(t, b)))
	}
	_ = q.close()
	q2, note := openTestQueue(t, path, 10*1019)
	if _, _, n := q2.state(); n != 10 || note != "" {
		t.Fatalf("reopened after compaction: %d wait, note %q", n, note)
	}
}
