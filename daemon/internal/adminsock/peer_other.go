//go:build !linux && !darwin && !windows

package adminsock

import (
	"errors"
	"net"
)

// peerUID is not built on this system (Windows has its admin pipe instead, pipe_windows.go).
// Refusing every caller keeps the socket closed rather than open to anyone.
func peerUID(c *net.UnixConn) (int, error) {
	return -1, errors.New("peer credentials are not supported on this OS yet")
}
