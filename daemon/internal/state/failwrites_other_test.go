//go:build !unix

package state

import (
	"os"
	"testing"
)

// failWrites makes writing a file into dir fail until the test ends: a read-only directory.
func failWrites(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
}
