//go:build linux

package adminsock

import "golang.org/x/sys/unix"

// sockoptPeerUID reads the peer's user id of the Unix socket fd (SO_PEERCRED).
func sockoptPeerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
