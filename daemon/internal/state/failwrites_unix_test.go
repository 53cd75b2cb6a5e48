//go:build unix

package state

import (
	"os"
	"syscall"
	"testing"
)

// failWrites makes writing a file into dir fail until the test ends. A read-only directory does
// it for an ordinary user; root ignores directory permissions, so for root a file size limit of
// zero bytes makes the write itself fail (EFBIG: Go ignores SIGXFSZ). The limit applies to the
// whole test process, which is why it is lifted again before the test returns.
func failWrites(t *testing.T, dir string) {
	t.Helper()
	if os.Getuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		return
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 0, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Errorf("restoring the file size limit: %v", err)
		}
	})
}
