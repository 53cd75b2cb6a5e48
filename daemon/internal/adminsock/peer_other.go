//go:build !linux && !darwin

package adminsock

import (
	"errors"
	"net"
)

// peerUID is not implemented here yet: Windows will use a named pipe with a user-only ACL.
// Refusing every caller keeps the socket closed rather than open to anyone.
func peerUID(c *net.UnixConn) (int, error) {
	return -1, errors.New("peer credentials are not supported on this OS yet")
}
