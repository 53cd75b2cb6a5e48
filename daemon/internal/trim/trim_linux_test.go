package trim

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"golang.org/x/sys/unix"
)

const sampleMaps = `00400000-00c4e000 r-xp 00000000 fd:01 1316012                            /usr/bin/foureyes
00c4e000-0142d000 r--p 0084e000 fd:01 1316012                            /usr/bin/foureyes
0142d000-0147c000 rw-p 0102d000 fd:01 1316012                            /usr/bin/foureyes
0147c000-014b6000 rw-p 00000000 00:00 0 
01c8e000-01caf000 rw-p 00000000 00:00 0                                  [heap]
c000000000-c000400000 rw-p 00000000 00:00 0 
7f0d1c000000-7f0d1c021000 rw-p 00000000 00:00 0 
7f0d20a00000-7f0d20a28000 r--p 00000000 fd:01 2625046                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f0d20a28000-7f0d20bbd000 r-xp 00028000 fd:01 2625046                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f0d20c00000-7f0d20c10000 r-xp 00000000 fd:01 1316013                    /usr/bin/foureyes-old
7f0d20d00000-7f0d20d10000 r--p 00000000 fd:01 1316014                    /home/anna/my apps/foureyes
7f0d20e00000-7f0d20e10000 r--s 00000000 00:05 1316015                    /memfd:/usr/bin/foureyes (deleted)
7ffd4a9c1000-7ffd4a9e2000 rw-p 00000000 00:00 0                          [stack]
7ffd4a9f8000-7ffd4a9fc000 r--p 00000000 00:00 0                          [vvar]
`

// Only the program file's own read-only mappings are picked: not its writable data, not
// anonymous memory, not libraries, not a file whose name starts with the program's.
func TestProgramMappingsPicksExactlyTheProgram(t *testing.T) {
	ms, err := parseMaps(strings.NewReader(sampleMaps))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 14 {
		t.Fatalf("parsed %d mappings, want 14", len(ms))
	}
	got := programMappings(ms, "/usr/bin/foureyes")
	if len(got) != 2 || got[0].start != 0x400000 || got[0].end != 0xc4e000 || got[0].perms != "r-xp" ||
		got[1].start != 0xc4e000 || got[1].end != 0x142d000 || got[1].perms != "r--p" {
		t.Fatalf("picked %+v, want the r-xp and r--p mappings of /usr/bin/foureyes", got)
	}
	// A path with a space is one path.
	if got := programMappings(ms, "/home/anna/my apps/foureyes"); len(got) != 1 || got[0].start != 0x7f0d20d00000 {
		t.Fatalf("path with a space: picked %+v", got)
	}
	if got := programMappings(ms, "/usr/bin/foureye"); len(got) != 0 {
		t.Fatalf("a prefix of the path picked %+v", got)
	}
}

// smaps: the Rss and Anonymous lines belong to the mapping above them; MADV_DONTNEED is not
// given to a mapping with private changes.
func TestParseSmapsAndDontneedSkipsPrivateChanges(t *testing.T) {
	text := `00400000-00c4e000 r-xp 00000000 fd:01 1316012                            /usr/bin/foureyes
Size:               8504 kB
Rss:                4960 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me sd 
00c4e000-0142d000 r--p 0084e000 fd:01 1316012                            /usr/bin/foureyes
Size:               7036 kB
Rss:                2212 kB
Anonymous:             8 kB
VmFlags: rd mr mw me sd 
`
	ms, err := parseMaps(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].rss != 4960<<10 || ms[0].anon != 0 || ms[1].rss != 2212<<10 || ms[1].anon != 8<<10 {
		t.Fatalf("parsed %+v", ms)
	}
	var advised []uint64
	restore := madvise
	t.Cleanup(func() { madvise = restore })
	madvise = func(start, _ uint64, _ int) error { advised = append(advised, start); return nil }
	n, err := adviseAll(ms, unix.MADV_DONTNEED)
	if err != nil || n != 1 || len(advised) != 1 || advised[0] != 0x400000 {
		t.Fatalf("MADV_DONTNEED went to %x (n=%d, %v), want only the mapping without private changes", advised, n, err)
	}
	advised = nil
	if n, err := adviseAll(ms, unix.MADV_PAGEOUT); err != nil || n != 2 {
		t.Fatalf("MADV_PAGEOUT: n=%d, %v; want both mappings (it keeps private changes)", n, err)
	}
}

func TestParseMapsRejectsGarbage(t *testing.T) {
	for _, text := range []string{
		"Rss: 4 kB\n",
		"not a mapping\n",
		"00400000-00c4e000 r-xp 00000000\n",
		"00c4e000-00400000 r-xp 00000000 fd:01 1 /x\n",
	} {
		if _, err := parseMaps(strings.NewReader(text)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: err %v, want one naming line 1", text, err)
		}
	}
}

// programResident is what this test process has in memory of its own program file, read
// independently of the code under test.
func programResident(t *testing.T) uint64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := readProgramMappings(exe)
	if err != nil {
		t.Fatal(err)
	}
	return resident(ms)
}

// fileBacked reports whether the test binary lives on a disk. On tmpfs its pages cannot be given
// back, and the trim must say so instead: that is asserted here, and the caller's test ends
// there, passed (a skip would fail a CI run, and the behaviour was checked).
func fileBacked(t *testing.T) bool {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs("/proc/self/exe", &fs); err != nil {
		t.Fatalf("statfs of the test binary: %v", err)
	}
	if fs.Type != unix.TMPFS_MAGIC && fs.Type != unix.RAMFS_MAGIC {
		return true
	}
	var r Result
	if err := releaseProgram(&r); err != nil || r.Skipped == "" || r.Advice != "" {
		t.Fatalf("the test binary is on tmpfs, yet the trim gave %+v, %v; want it skipped, saying why", r, err)
	}
	t.Logf("the test binary is on tmpfs: %s (asserted that the trim says so)", r.Skipped)
	return false
}

// warm runs code of the test binary that neither the trim nor the measurement runs (JSON,
// regular expressions, templates, SHA-256), so there is something to give back.
func warm(t *testing.T) {
	t.Helper()
	ms, err := parseMaps(strings.NewReader(sampleMaps))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"maps": fmt.Sprint(ms), "n": len(ms)})
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?i)^([0-9a-f]+)-([0-9a-f]+) (r.x.)`)
	var out strings.Builder
	tpl := template.Must(template.New("x").Parse(`{{range .}}{{.}}{{end}}`))
	if err := tpl.Execute(&out, re.FindAllString(sampleMaps+string(b), -1)); err != nil {
		t.Fatal(err)
	}
	_ = sha256.Sum256([]byte(out.String()))
}

// On this kernel, for this process: the pages of the program file in memory drop after a trim.
// The test binary was just written, so it is flushed first: the kernel pages out only clean
// pages, as an installed program's are.
func TestNowReleasesTheProgramsPages(t *testing.T) {
	if !fileBacked(t) {
		return
	}
	if !mayPageOut() {
		t.Fatal("the test process owns its binary (or runs as root), yet MADV_PAGEOUT is taken as not allowed")
	}
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("flushing the test binary: %v", err)
	}
	_ = f.Close()
	warm(t)
	before := programResident(t)
	r, err := Now()
	if err != nil {
		t.Fatal(err)
	}
	after := programResident(t)
	if r.Advice != "MADV_PAGEOUT" || r.Mappings < 2 {
		t.Fatalf("result %+v: want MADV_PAGEOUT on the text and read-only data (Linux 5.4+ on this machine: %s)", r, kernel())
	}
	if after >= before || r.ResidentAfter >= r.ResidentBefore {
		t.Fatalf("program pages in memory: %d KiB before, %d KiB after (reported %d -> %d)", before>>10, after>>10, r.ResidentBefore>>10, r.ResidentAfter>>10)
	}
	t.Logf("program pages in memory: %d KiB before, %d KiB after; %d KiB of heap released", before>>10, after>>10, r.HeapReleased>>10)
}

// A program run by a user who does not own it (installed by root): the kernel would ignore
// MADV_PAGEOUT, so the pages are unmapped with MADV_DONTNEED, and they drop all the same.
func TestNowUnmapsAProgramItMayNotPageOut(t *testing.T) {
	if !fileBacked(t) {
		return
	}
	restore := mayPageOut
	t.Cleanup(func() { mayPageOut = restore })
	mayPageOut = func() bool { return false }
	warm(t)
	before := programResident(t)
	r, err := Now()
	if err != nil {
		t.Fatal(err)
	}
	after := programResident(t)
	if r.Advice != "MADV_DONTNEED" {
		t.Fatalf("result %+v, want MADV_DONTNEED", r)
	}
	if after >= before {
		t.Fatalf("program pages in memory: %d KiB before, %d KiB after", before>>10, after>>10)
	}
	t.Logf("program pages in memory: %d KiB before, %d KiB after", before>>10, after>>10)
}

// A kernel before 5.4 refuses MADV_PAGEOUT with EINVAL: the trim falls back to MADV_DONTNEED.
func TestNowFallsBackWhenPageoutIsUnknown(t *testing.T) {
	if !fileBacked(t) {
		return
	}
	restore := madvise
	t.Cleanup(func() { madvise = restore })
	var tried []int
	madvise = func(start, length uint64, advice int) error {
		tried = append(tried, advice)
		if advice == unix.MADV_PAGEOUT {
			return unix.EINVAL
		}
		return restore(start, length, advice)
	}
	warm(t)
	before := programResident(t)
	r, err := Now()
	if err != nil {
		t.Fatal(err)
	}
	after := programResident(t)
	if r.Advice != "MADV_DONTNEED" || len(tried) < 2 || tried[0] != unix.MADV_PAGEOUT {
		t.Fatalf("result %+v, advice tried %v: want MADV_PAGEOUT, then MADV_DONTNEED", r, tried)
	}
	if after >= before {
		t.Fatalf("program pages in memory: %d KiB before, %d KiB after", before>>10, after>>10)
	}

	// Any other refusal is an error naming the advice, not a silent no-op.
	madvise = func(uint64, uint64, int) error { return unix.EPERM }
	if _, err := Now(); !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "MADV_PAGEOUT") {
		t.Fatalf("EPERM from madvise: err %v", err)
	}
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown kernel"
	}
	return "Linux " + unix.ByteSliceToString(u.Release[:])
}
