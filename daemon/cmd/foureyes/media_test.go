package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/mediastore"
)

// TestAuditMedia: `foureyes audit media` writes out a kept copy after checking its SHA-256,
// and refuses a missing copy, a changed copy, a name that is no digest and an existing --out.
func TestAuditMedia(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, mediastore.Dir)
	img := bytes.Repeat([]byte("poster "), 1000)
	h := sha256.Sum256(img)
	sha := hex.EncodeToString(h[:])
	s, err := mediastore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if done, err := s.Put("r1", sha, int64(len(img)), 1<<20, 0, img); err != nil || !done {
		t.Fatal(done, err)
	}
	cli := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		code := run(e, append([]string{"audit", "media"}, args...))
		return code, out.String() + errb.String()
	}

	out := filepath.Join(tmp, "posted.png")
	if code, msg := cli(sha, "--dir", dir, "--out", out); code != exitOK || !strings.Contains(msg, "verified") {
		t.Fatalf("exit %d: %s", code, msg)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("written file differs (%v)", err)
	}
	if code, msg := cli(sha, "--dir", dir, "--out", out); code == exitOK || !strings.Contains(msg, "exists") {
		t.Errorf("over an existing file: exit %d: %s", code, msg)
	}

	missing := strings.Repeat("0", 64)
	if code, msg := cli(missing, "--dir", dir, "--out", filepath.Join(tmp, "missing.png")); code != exitRefused || !strings.Contains(msg, "no copy") {
		t.Errorf("missing copy: exit %d: %s", code, msg)
	}
	if code, _ := cli("../../etc/passwd", "--dir", dir, "--out", filepath.Join(tmp, "x")); code != exitUsage {
		t.Errorf("a name that is no digest: exit %d", code)
	}
	if code, _ := cli(sha, "--dir", dir); code != exitUsage {
		t.Errorf("without --out: exit %d", code)
	}

	// A copy changed on disk is not written out.
	if err := os.WriteFile(filepath.Join(dir, sha), append(bytes.Clone(img), '!'), 0o600); err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(tmp, "changed.png")
	if code, msg := cli(sha, "--dir", dir, "--out", changed); code == exitOK || !strings.Contains(msg, "changed on disk") {
		t.Errorf("changed copy: exit %d: %s", code, msg)
	}
	if _, err := os.Stat(changed); !os.IsNotExist(err) {
		t.Errorf("a changed copy was written out: %v", err)
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".media-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
