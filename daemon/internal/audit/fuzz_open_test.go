package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// validLog is a small log of n sample lines.
func validLog(n int) []byte {
	var b bytes.Buffer
	prev := zeroHash
	for i := range n {
		e := sampleEvent(i)
		fields, _, _ := encodeFields(e.Fields)
		var line []byte
		line, prev, _ = appendLine(nil, uint64(i+1), time.Unix(int64(i), 0), e.User, e.Event, "info", fields, prev)
		b.Write(line)
	}
	return b.Bytes()
}

// FuzzOpenRepair feeds arbitrary bytes to what the daemon reads at start (Open, which reads
// only the tail) and to Repair. A log that verifies opens, continuing its chain; a log whose
// only fault is a torn last line is refused as torn, never as damaged, and once repaired it
// verifies and opens; Open never accepts a log whose last line is not sound.
func FuzzOpenRepair(f *testing.F) {
	valid := validLog(4)
	f.Add(valid)
	f.Add(valid[:len(valid)-9])
	f.Add(valid[:len(valid)/2])
	f.Add(append(bytes.Clone(valid), "{}\n"...))
	f.Add([]byte("x"))
	f.Add([]byte("\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		res, verr := Verify(bytes.NewReader(data))
		l, oerr := Open(path, Options{})
		if oerr == nil {
			seq, hash := l.Head()
			if verr == nil && (seq != res.Lines || hash != res.Head) {
				t.Fatalf("Open continues from %d %s, Verify ends at %d %s", seq, hash, res.Lines, res.Head)
			}
			if len(data) > 0 && data[len(data)-1] != '\n' {
				t.Fatalf("Open accepted a log that does not end in a newline")
			}
			// The next line continues the chain: the whole log verifies if it did before.
			if _, err := l.Append(Event{User: "u", Event: "fuzz"}); err != nil {
				t.Fatal(err)
			}
			_ = l.Close()
			if verr == nil {
				if _, err := VerifyFile(path); err != nil {
					t.Fatalf("an appended line broke a log that verified: %v", err)
				}
			}
			return
		}
		if verr == nil {
			t.Fatalf("Open refused a log that verifies: %v", oerr)
		}
		tornOnly := errors.Is(verr, ErrTorn)
		if tornOnly && !errors.Is(oerr, ErrTorn) {
			t.Fatalf("Verify says torn (%v), Open says %v", verr, oerr)
		}
		if !tornOnly {
			return
		}
		rep, err := Repair(path, "u", Options{})
		if err != nil {
			t.Fatalf("repairing a torn log: %v", err)
		}
		side, err := os.ReadFile(rep.TornFile)
		if err != nil || !bytes.Equal(side, data[rep.Offset:]) {
			t.Fatalf("the side file does not hold the torn bytes: %v", err)
		}
		if got, err := VerifyFile(path); err != nil || got.Lines != res.Lines+1 {
			t.Fatalf("the repaired log: %+v, %v (want %d lines)", got, err, res.Lines+1)
		}
	})
}

// FuzzExport exports arbitrary bytes as CSV and JSON: never a panic; a log that verifies
// exports whole (one CSV row per line after the header, a JSON array of every line); one that
// does not is refused unless forced.
func FuzzExport(f *testing.F) {
	valid := validLog(6)
	f.Add(valid, false)
	f.Add(valid[:len(valid)-3], true)
	f.Add([]byte("=cmd\n"), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, force bool) {
		res, verr := Verify(bytes.NewReader(data))
		for _, format := range []string{"csv", "json"} {
			var out bytes.Buffer
			err := ExportWith(bytes.NewReader(data), &out, ExportOptions{Format: format, Force: force})
			if verr == nil && err != nil {
				t.Fatalf("%s export of a log that verifies: %v", format, err)
			}
			if verr != nil && err == nil {
				t.Fatalf("%s export of a log that does not verify (%v) succeeded", format, verr)
			}
			if verr != nil {
				continue
			}
			switch format {
			case "csv":
				rows, err := csv.NewReader(&out).ReadAll()
				if err != nil || uint64(len(rows)) != res.Lines+1 {
					t.Fatalf("CSV of %d lines: %d rows, %v", res.Lines, len(rows), err)
				}
			case "json":
				var lines []json.RawMessage
				if err := json.Unmarshal(out.Bytes(), &lines); err != nil || uint64(len(lines)) != res.Lines {
					t.Fatalf("JSON of %d lines: %d, %v", res.Lines, len(lines), err)
				}
			}
		}
	})
}
