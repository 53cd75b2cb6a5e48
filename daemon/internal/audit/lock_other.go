//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package audit

import "os"

// lockFile is a no-op where flock is missing: there, the caller must make sure that only one
// process writes a log.
func lockFile(*os.File) error { return nil }
