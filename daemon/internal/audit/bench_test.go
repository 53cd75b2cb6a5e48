package audit

import (
	"path/filepath"
	"testing"
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
