package mediastore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// put sends b in chunks of n bytes and returns the last answer.
func put(s *Store, key, sha string, b []byte, n int, max int64) (bool, error) {
	var done bool
	for off := 0; off < len(b) || off == 0; off += n {
		end := min(off+n, len(b))
		var err error
		done, err = s.Put(key, sha, int64(len(b)), max, int64(off), b[off:end])
		if err != nil || end == len(b) {
			return done, err
		}
	}
	return done, nil
}

// noParts: nothing half-received is left in the folder.
func noParts(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), partPrefix) {
			t.Errorf("a partial file %s is left in the store", e.Name())
		}
	}
}

func TestPutStoresExactBytesPrivately(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Dir)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := randomBytes(t, 200_000)
	sha := sum(b)
	done, err := put(s, "r1", sha, b, 32<<10, 1<<20)
	if err != nil || !done {
		t.Fatalf("put = %v, %v", done, err)
	}
	got, err := os.ReadFile(s.Path(sha))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("stored copy differs from the bytes sent (%v)", err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(sha): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	if !s.Has(sha) {
		t.Error("Has = false for a stored file")
	}
	noParts(t, dir)
	var out bytes.Buffer
	if n, err := Copy(dir, sha, &out); err != nil || n != int64(len(b)) || !bytes.Equal(out.Bytes(), b) {
		t.Errorf("Copy = %d, %v", n, err)
	}
	// The same file again (another post with the same image) is not received twice.
	if done, err := s.Put("r2", sha, int64(len(b)), 1<<20, 0, b[:10]); err != nil || !done {
		t.Errorf("a stored file sent again: %v, %v", done, err)
	}
}

func TestPutRefusesBadInput(t *testing.T) {
	b := randomBytes(t, 100_000)
	sha := sum(b)
	other := sum([]byte("another image"))
	tests := []struct {
		name string
		run  func(s *Store) error
		want error
	}{
		{"bytes of another file", func(s *Store) error { _, err := put(s, "r", other, b, 32<<10, 1<<20); return err }, ErrHashMismatch},
		{"one byte changed", func(s *Store) error {
			c := bytes.Clone(b)
			c[500] ^= 1
			_, err := put(s, "r", sha, c, 32<<10, 1<<20)
			return err
		}, ErrHashMismatch},
		{"file over the cap", func(s *Store) error { _, err := put(s, "r", sha, b, 32<<10, 99_999); return err }, ErrTooLarge},
		{"more bytes than declared", func(s *Store) error {
			_, err := s.Put("r", sha, 10, 1<<20, 0, b[:11])
			return err
		}, ErrTooLarge},
		{"chunk skipped", func(s *Store) error {
			if _, err := s.Put("r", sha, int64(len(b)), 1<<20, 0, b[:100]); err != nil {
				return err
			}
			_, err := s.Put("r", sha, int64(len(b)), 1<<20, 200, b[200:300])
			return err
		}, ErrOffset},
		{"first chunk not at 0", func(s *Store) error {
			_, err := s.Put("r", sha, int64(len(b)), 1<<20, 5, b[5:10])
			return err
		}, ErrOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), Dir)
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.run(s); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if s.Has(sha) || s.Has(other) {
				t.Error("a refused file is in the store")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("the store holds %d entries after a refusal", len(entries))
			}
			// After a refusal the file can be sent again from the start.
			if done, err := put(s, "r", sha, b, 32<<10, 1<<20); err != nil || !done {
				t.Errorf("sending the right bytes afterwards: %v, %v", done, err)
			}
		})
	}
}

// TestUnfinishedNeverStored: a file whose last chunk never came is not a copy; a restart removes
// what was received.
func TestUnfinishedNeverStored(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Dir)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := randomBytes(t, 50_000)
	sha := sum(b)
	if done, err := s.Put("r", sha, int64(len(b)), 1<<20, 0, b[:40_000]); err != nil || done {
		t.Fatalf("first chunk: %v, %v", done, err)
	}
	if s.Has(sha) {
		t.Fatal("a file is in the store before its last byte arrived")
	}
	if _, err := os.Stat(s.Path(sha)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the final name exists before the file is complete: %v", err)
	}
	if _, err := Open(dir); err != nil { // the daemon restarting
		t.Fatal(err)
	}
	noParts(t, dir)
	if _, err := Copy(dir, sha, &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Copy of an unfinished file = %v, want ErrNotFound", err)
	}
}

func TestStoreNotWritable(t *testing.T) {
	// The folder's place is taken by a file: every write fails, whoever runs the test.
	base := t.TempDir()
	dir := filepath.Join(base, Dir)
	if err := os.WriteFile(dir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err == nil {
		t.Fatal("Open succeeded on a file")
	}
	b := []byte("image bytes")
	if done, err := s.Put("r", sum(b), int64(len(b)), 1<<20, 0, b); err == nil || done || !strings.Contains(err.Error(), dir) {
		t.Errorf("Put into an unwritable store = %v, %v; want an error naming %s", done, err, dir)
	}
	if s.Has(sum(b)) {
		t.Error("Has = true in an unwritable store")
	}
}

func TestCopyDetectsChangedFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Dir)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("the approved image")
	sha := sum(b)
	if _, err := put(s, "r", sha, b, 4, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(sha), []byte("the approved imagE"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(dir, sha, &bytes.Buffer{}); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("Copy of a changed file = %v, want ErrHashMismatch", err)
	}
	if _, err := Copy(dir, "../etc/passwd", &bytes.Buffer{}); err == nil {
		t.Error("Copy accepted a name that is not a digest")
	}
}

// TestAbandonedPartsBounded: unfinished files beyond MaxParts push out the stalest one, whose
// temporary file goes too; the others carry on.
func TestAbandonedPartsBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Dir)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	full := func(i int) []byte { return []byte{byte(i), 1, 2, 3, 4, 5, 6, 7} }
	for i := range MaxParts + 1 {
		if _, err := s.Put("r", sum(full(i)), 8, 1<<20, 0, full(i)[:4]); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != MaxParts {
		t.Errorf("%d temporary files, want %d", len(entries), MaxParts)
	}
	// The first (stalest) was dropped: its next chunk no longer continues anything.
	if _, err := s.Put("r", sum(full(0)), 8, 1<<20, 4, full(0)[4:]); !errors.Is(err, ErrOffset) {
		t.Errorf("continuing a dropped file: %v, want ErrOffset", err)
	}
	if done, err := s.Put("r", sum(full(1)), 8, 1<<20, 4, full(1)[4:]); err != nil || !done {
		t.Errorf("continuing a kept file: %v, %v", done, err)
	}
	s.Drop("r")
	noParts(t, dir)
}

// BenchmarkStore10MB receives a 10 MB file in the extension's 32 KiB chunks: hashing, writing,
// syncing and renaming.
func BenchmarkStore10MB(b *testing.B) {
	data := randomBytes(b, 10<<20)
	sha := sum(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), Dir)
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if done, err := put(s, "r", sha, data, 32<<10, 100<<20); err != nil || !done {
			b.Fatal(done, err)
		}
	}
}
