package nativehost

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadMessage feeds arbitrary bytes to the frame reader: it never panics, never returns more
// than MaxIncoming bytes, and a frame it returns writes back to the same bytes.
func FuzzReadMessage(f *testing.F) {
	var frame bytes.Buffer
	if err := WriteMessage(&frame, []byte(`{"type":"hello","origin":"chrome-extension://abc/"}`)); err != nil {
		f.Fatal(err)
	}
	f.Add(frame.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		msg, err := ReadMessage(r)
		if err != nil {
			if msg != nil {
				t.Fatalf("a message with an error: %q, %v", msg, err)
			}
			if len(data) == 0 && !errors.Is(err, io.EOF) {
				t.Fatalf("empty input: %v, want io.EOF", err)
			}
			return
		}
		if len(msg) > MaxIncoming {
			t.Fatalf("%d bytes, over the limit of %d", len(msg), MaxIncoming)
		}
		var back bytes.Buffer
		if err := WriteMessage(&back, msg); err != nil {
			return // WriteMessage has its own, smaller outgoing limit
		}
		if !bytes.Equal(back.Bytes(), data[:len(data)-r.Len()]) {
			t.Fatalf("frame does not round-trip")
		}
	})
}
