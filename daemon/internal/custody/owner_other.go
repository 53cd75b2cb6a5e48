//go:build !unix

package custody

import "io/fs"

// ownerOf is not built on this system: the file store is the service mode of Linux and macOS
// (Windows service mode is not built yet).
func ownerOf(fs.FileInfo) (int, bool) { return 0, false }
