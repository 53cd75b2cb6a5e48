//go:build benchtools

// The audit benchmark's tools, not tests: daemon/scripts/bench-audit.sh builds them with
// -tags benchtools and runs them on a log of a million lines.

package audit

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestGenerateLog writes a synthetic log for daemon/scripts/bench-audit.sh when FOUREYES_AUDIT_GENLOG
// names the file (FOUREYES_AUDIT_GENLOG_LINES lines, default 1,000,000).
func TestGenerateLog(t *testing.T) {
	path := os.Getenv("FOUREYES_AUDIT_GENLOG")
	if path == "" {
		t.Fatal("FOUREYES_AUDIT_GENLOG names the file to write")
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
		t.Fatal("FOUREYES_AUDIT_VERIFY names the file to verify")
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
