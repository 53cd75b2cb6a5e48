package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rec struct {
	A string `json:"a"`
	N int    `json:"n"`
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "state.json")
	var r rec
	found, err := Load(p, &r)
	if err != nil || found {
		t.Fatalf("missing file: found=%v err=%v", found, err)
	}
	if err := Save(p, rec{"x", 1}); err != nil {
		t.Fatal(err)
	}
	if err := Save(p, rec{"y", 2}); err != nil {
		t.Fatal(err)
	}
	found, err = Load(p, &r)
	if err != nil || !found || r != (rec{"y", 2}) {
		t.Fatalf("got %+v found=%v err=%v", r, found, err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode: %v %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestLoadDamaged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(p, []byte(`{"a":`), 0o600); err != nil {
		t.Fatal(err)
	}
	var r rec
	_, err := Load(p, &r)
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("want a damaged-state error, got %v", err)
	}
}

func TestSaveFailsLeavesOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Save(p, rec{"old", 1}); err != nil {
		t.Fatal(err)
	}
	t.Run("save", func(t *testing.T) {
		failWrites(t, dir)
		if err := Save(p, rec{"new", 2}); err == nil {
			t.Fatal("a save that cannot write must fail")
		}
	})
	var r rec
	if _, err := Load(p, &r); err != nil {
		t.Fatal(err)
	}
	if r.A != "old" {
		t.Fatalf("old state lost: %+v", r)
	}
}

func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, name := range []string{"state.json", "state.json.tmp-123", "state.json.tmp-456", "other.tmp-1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemp(path); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 2 || left[0] != filepath.Join(dir, "other.tmp-1") || left[1] != path {
		t.Fatalf("left: %v, want other.tmp-1 and state.json", left)
	}
}
