//go:build linux

package trim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mapping is one mapping of /proc/self/maps or /proc/self/smaps; Rss and Anonymous (bytes)
// only come from smaps.
type mapping struct {
	start, end uint64
	perms      string
	path       string
	rss, anon  uint64
}

// releaseProgram asks the kernel to take back the pages of this program's own file that are
// in memory: the code and read-only data start-up touched (package initialisation, TLS, D-Bus,
// JSON Schema) and idling never uses again. Only the file's read-only mappings are advised:
// never anonymous memory (heap, stacks), never shared libraries, never the writable data
// segment (its written pages are private copies that only swap could take).
//
// MADV_PAGEOUT (Linux 5.4) reclaims the pages outright, but the kernel does so only for a
// file the process owns or may write: for a program installed by root and run by a user it
// silently leaves them. Then, and on kernels without MADV_PAGEOUT, MADV_DONTNEED unmaps them
// from this process instead: they stay in the page cache, which the kernel drops first when
// memory is short, as if the program had ended; the next use maps them again (a minor fault).
// MADV_DONTNEED would throw away private changes to a mapping, so it is given only to
// mappings that have none (Anonymous: 0 kB in smaps; a debugger's breakpoint would be one).
func releaseProgram(r *Result) error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("finding this program's file: %w", err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/proc/self/exe", &fs); err == nil && (fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC) {
		r.Skipped = exe + " is on a memory file system (tmpfs): its pages are the file itself, not a cache of it"
		return nil
	}
	ms, err := readProgramMappings(exe)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fmt.Errorf("no read-only mapping of %s in /proc/self/smaps", exe)
	}
	r.ResidentBefore = resident(ms)
	advice, name := unix.MADV_PAGEOUT, "MADV_PAGEOUT"
	if !mayPageOut() {
		advice, name = unix.MADV_DONTNEED, "MADV_DONTNEED"
	}
	n, err := adviseAll(ms, advice)
	if advice == unix.MADV_PAGEOUT && errors.Is(err, unix.EINVAL) {
		// Linux before 5.4 does not know MADV_PAGEOUT.
		advice, name = unix.MADV_DONTNEED, "MADV_DONTNEED"
		n, err = adviseAll(ms, advice)
	}
	if err != nil {
		return fmt.Errorf("madvise(%s) on %s: %w", name, exe, err)
	}
	r.Advice, r.Mappings = name, n
	if n == 0 {
		r.Advice, r.Skipped = "", "every read-only mapping of "+exe+" has private changes (a debugger's breakpoints?)"
		return nil
	}
	if after, err := readProgramMappings(exe); err == nil {
		r.ResidentAfter = resident(after)
	}
	return nil
}

// madvise is the system call; tests replace it to play an older kernel.
var madvise = func(start, length uint64, advice int) error {
	if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(length), uintptr(advice)); e != 0 {
		return e
	}
	return nil
}

// mayPageOut reports whether the kernel will page out this program's file for this process:
// it does so only for a file the process owns or may write (or with CAP_FOWNER, as root).
// Tests replace it to take the other path.
var mayPageOut = func() bool {
	if unix.Geteuid() == 0 {
		return true
	}
	var st unix.Stat_t
	if unix.Stat("/proc/self/exe", &st) == nil && int(st.Uid) == unix.Geteuid() {
		return true
	}
	// A running program cannot be opened for writing (ETXTBSY), but the permission is there.
	err := unix.Faccessat(unix.AT_FDCWD, "/proc/self/exe", unix.W_OK, unix.AT_EACCESS)
	return err == nil || errors.Is(err, unix.ETXTBSY)
}

// adviseAll gives advice to each mapping and returns how many it advised. MADV_DONTNEED skips
// mappings with private changes, which it would discard.
func adviseAll(ms []mapping, advice int) (int, error) {
	n := 0
	for _, m := range ms {
		if advice == unix.MADV_DONTNEED && m.anon != 0 {
			continue
		}
		if err := madvise(m.start, m.end-m.start, advice); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func resident(ms []mapping) (sum uint64) {
	for _, m := range ms {
		sum += m.rss
	}
	return sum
}

// readProgramMappings returns the read-only mappings of the file exe in /proc/self/smaps.
func readProgramMappings(exe string) ([]mapping, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("reading this process's mappings: %w", err)
	}
	defer func() { _ = f.Close() }()
	ms, err := parseMaps(f)
	if err != nil {
		return nil, fmt.Errorf("reading /proc/self/smaps: %w", err)
	}
	return programMappings(ms, exe), nil
}

// programMappings picks the read-only mappings of exactly the file exe (not a library, not a
// file whose name starts with exe's, not anonymous memory).
func programMappings(ms []mapping, exe string) []mapping {
	var out []mapping
	for _, m := range ms {
		if m.path == exe && !strings.Contains(m.perms, "w") {
			out = append(out, m)
		}
	}
	return out
}

// parseMaps reads the text of /proc/PID/maps or /proc/PID/smaps. A mapping's line is
// "start-end perms offset dev inode [path]"; the path may hold spaces and ends the line. In
// smaps, "Name: value kB" lines follow each mapping.
func parseMaps(r io.Reader) ([]mapping, error) {
	var ms []mapping
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		first, rest, _ := strings.Cut(line, " ")
		if strings.HasSuffix(first, ":") {
			if len(ms) == 0 {
				return nil, fmt.Errorf("line %d: %q comes before any mapping", n, line)
			}
			m := &ms[len(ms)-1]
			switch first {
			case "Rss:":
				m.rss = kB(rest)
			case "Anonymous:":
				m.anon = kB(rest)
			}
			continue
		}
		lo, hi, ok := strings.Cut(first, "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end < start {
			return nil, fmt.Errorf("line %d: %q is not a mapping (start-end perms offset dev inode path)", n, line)
		}
		// perms, offset, dev, inode, then the path: the rest of the line.
		var fields [4]string
		for i := range fields {
			rest = strings.TrimLeft(rest, " ")
			fields[i], rest, _ = strings.Cut(rest, " ")
		}
		if fields[3] == "" {
			return nil, fmt.Errorf("line %d: %q is not a mapping (start-end perms offset dev inode path)", n, line)
		}
		ms = append(ms, mapping{start: start, end: end, perms: fields[0], path: strings.TrimLeft(rest, " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return ms, nil
}

// kB reads "   123 kB" as bytes; 0 if it is not a number.
func kB(s string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(s), " kB"), 10, 64)
	return v * 1024
}
