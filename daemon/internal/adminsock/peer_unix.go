//go:build linux || darwin

package adminsock

import (
	"fmt"
	"net"
)

// peerUID returns the user id of the process at the other end of c, as the kernel reports it.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var uid int
	var cerr error
	if err := raw.Control(func(fd uintptr) { uid, cerr = sockoptPeerUID(int(fd)) }); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, fmt.Errorf("reading peer credentials: %w", cerr)
	}
	return uid, nil
}
