package peeruid

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// On macOS the kernel lists every TCP socket with the uid of its maker in a sysctl any user may
// read (pcblist.go parses it). Built and compiled in CI, not run there (no Mac in CI).

func tcpSockets() ([]pcb, error) {
	buf, err := unix.SysctlRaw("net.inet.tcp.pcblist_n")
	if err != nil {
		return nil, fmt.Errorf("reading the kernel's socket list (sysctl net.inet.tcp.pcblist_n): %w", err)
	}
	socks, err := parsePCBList(buf)
	if err != nil {
		return nil, fmt.Errorf("reading the kernel's socket list (sysctl net.inet.tcp.pcblist_n): %w", err)
	}
	return socks, nil
}

func lookup(local, remote netip.AddrPort) (int, error) {
	socks, err := tcpSockets()
	if err != nil {
		return -1, err
	}
	return lookupIn(socks, local, remote)
}

// portHolder names the listener's uid; its process stays unknown (PID 0): macOS lists no
// process for a socket without libproc.
func portHolder(port uint16) (Holder, error) {
	socks, err := tcpSockets()
	if err != nil {
		return Holder{}, err
	}
	return holderIn(socks, port)
}
