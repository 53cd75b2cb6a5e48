//go:build !linux

package trim

// releaseProgram leaves the program's pages alone: only Linux has a way to hand back a
// program's own clean pages that this package uses.
func releaseProgram(r *Result) error {
	r.Skipped = "not on Linux"
	return nil
}
