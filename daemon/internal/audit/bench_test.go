package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAppend measures one durable append: encode, write, fsync.
func BenchmarkAppend(b *testing.B) {
	l, _ := openTemp(b, testOptions())
	events := make([]Event, 6)
	for i := range events {
		events[i] = sampleEvent(i)
	}
	i := 0
	for b.Loop() {
		if _, err := l.Append(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerify1M verifies a log of 1,000,000 realistic lines.
func BenchmarkVerify1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	size := writeSynthetic(b, path, 1_000_000)
	b.SetBytes(size)
	for b.Loop() {
		res, err := VerifyFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if res.Lines != 1_000_000 {
			b.Fatalf("verified %d lines", res.Lines)
		}
	}
}

// TestGenerateLog writes a synthetic log for daemon/scripts/bench-audit.sh when FOUREYES_AUDIT_GENLOG
// names the file (FOUREYES_AUDIT_GENLOG_LINES lines, default 1,000,000).
func TestGenerateLog(t *testing.T) {
	path := os.Getenv("FOUREYES_AUDIT_GENLOG")
	if path == "" {
		t.Skip("FOUREYES_AUDIT_GENLOG not set")
	}
	n := 1_000_000
	if s := os.Getenv("FOUREYES_AUDIT_GENLOG_LINES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	size := writeSynthetic(t, path, n)
	fmt.Printf("wrote %d lines, %d bytes to %s\n", n, size, path)
}

// TestVerifyLogFile verifies the file FOUREYES_AUDIT_VERIFY names and prints the figures, for
// daemon/scripts/bench-audit.sh.
func TestVerifyLogFile(t *testing.T) {
	path := os.Getenv("FOUREYES_AUDIT_VERIFY")
	if path == "" {
		t.Skip("FOUREYES_AUDIT_VERIFY not set")
	}
	start := time.Now()
	res, err := VerifyFile(path)
	d := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("verified %d lines, %d bytes in %.1f ms (%.0f MB/s), head %s\n",
		res.Lines, res.Bytes, float64(d.Microseconds())/1000, float64(res.Bytes)/d.Seconds()/1e6, res.Head)
}
