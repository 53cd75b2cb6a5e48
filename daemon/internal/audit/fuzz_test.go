package audit

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzVerify feeds Verify arbitrary bytes (it must never panic, and whatever it accepts must
// parse line by line), and a log built from the fuzzed user and text (it must verify).
func FuzzVerify(f *testing.F) {
	var valid bytes.Buffer
	prev := zeroHash
	for i := range 6 {
		e := sampleEvent(i)
		fields, _, _ := encodeFields(e.Fields)
		var line []byte
		line, prev, _ = appendLine(nil, uint64(i+1), time.Unix(int64(i), 0), e.User, e.Event, "info", fields, prev)
		valid.Write(line)
	}
	f.Add(valid.Bytes(), "alice", "Gr\u00fc\u00dfe")
	f.Add(valid.Bytes()[:valid.Len()-7], "", "")
	f.Add([]byte(`{"seq":1,"time":"x","prev":"`+zeroHash+`","hash":"`+zeroHash+`"}`+"\n"), "\n", "\xff")
	f.Add([]byte("\n\n{}\n"), `","hash":"`, `"}`+"\n")
	f.Fuzz(func(t *testing.T, data []byte, user, text string) {
		if res, err := Verify(bytes.NewReader(data)); err == nil {
			if n := uint64(bytes.Count(data, []byte("\n"))); res.Lines != n {
				t.Fatalf("verified %d lines of %d", res.Lines, n)
			}
			for _, line := range bytes.SplitAfter(data, []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				if _, err := ParseRecord(line[:len(line)-1]); err != nil {
					t.Fatalf("verified log has a line that does not parse: %v", err)
				}
			}
		} else {
			var ve *VerifyError
			if errors.As(err, &ve) && ve.Line == 0 {
				t.Fatalf("VerifyError without a line: %v", err)
			}
		}

		fields, _, err := encodeFields(map[string]any{FieldText: text, user: text})
		if err != nil {
			if errors.Is(err, ErrSecretField) {
				return
			}
			t.Fatal(err)
		}
		var log []byte
		prev := zeroHash
		for i := range 2 {
			log, prev, err = appendLine(log, uint64(i+1), time.Unix(1, 0), user, "request", "high", fields, prev)
			if err != nil {
				t.Fatal(err)
			}
		}
		res, err := Verify(bytes.NewReader(log))
		if err != nil {
			t.Fatalf("a log built from %q, %q does not verify: %v\n%s", user, text, err, log)
		}
		if res.Lines != 2 || res.Head != prev {
			t.Fatalf("result %+v, want 2 lines head %s", res, prev)
		}
	})
}
