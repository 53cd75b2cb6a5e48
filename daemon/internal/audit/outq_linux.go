package audit

import (
	"net"
	"syscall"
	"unsafe"
)

// sendQueueEmpty reports whether the peer's TCP acknowledged every byte written to c (SIOCOUTQ
// counts the bytes sent but not acknowledged, and those not sent yet). Unknown counts as yes:
// the time the connection must stay up still applies.
func sendQueueEmpty(c *net.TCPConn) bool {
	if c == nil {
		return true
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	n := 0
	cerr := rc.Control(func(fd uintptr) {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
		if errno != 0 {
			n = 0
		}
	})
	return cerr != nil || n == 0
}
