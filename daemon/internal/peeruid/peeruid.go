// Package peeruid finds the OS user at the other end of a loopback TCP connection. TCP on
// 127.0.0.1 carries no credentials: any user of the computer can connect to any port, so a
// server meant for one user (the local pages) must ask the kernel who connected.
//
// On Linux the kernel lists every TCP socket of the network namespace, with its owner's uid, in
// /proc/net/tcp and /proc/net/tcp6: the peer of a connection is the socket whose local address
// is the connection's remote address and the other way round. macOS lists the same in the sysctl
// net.inet.tcp.pcblist_n (pcblist.go). Windows lists each connection's owning process
// (GetExtendedTcpTable, tcptable.go), whose token names the user; Windows has no uid, so the
// number is winacl.UID's, the same the admin pipe gives that user. On other systems the lookup
// is not built yet and every call returns [ErrUnsupported], so callers fail closed.
package peeruid

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrUnsupported is returned on systems where the lookup is not built yet.
var ErrUnsupported = errors.New("finding the user at the other end of a local connection is not built yet on this system")

// ErrNoPeer is returned when the kernel lists no live socket at the other end: the peer is
// in another network namespace, or has already closed its end.
var ErrNoPeer = errors.New("the kernel lists no open socket at the other end of the connection")

// Of returns the uid of the OS user whose process holds the other end of c, a TCP connection
// over loopback that this process accepted or dialed.
func Of(c net.Conn) (int, error) {
	local, lerr := tcpAddrPort(c.LocalAddr())
	remote, rerr := tcpAddrPort(c.RemoteAddr())
	if err := errors.Join(lerr, rerr); err != nil {
		return -1, err
	}
	return Lookup(local, remote)
}

// Lookup returns the uid owning the socket whose own address is remote and whose peer is
// local: the other end of the connection local↔remote as this process sees it.
func Lookup(local, remote netip.AddrPort) (int, error) {
	uid, err := lookup(norm(local), norm(remote))
	if err != nil {
		return -1, fmt.Errorf("who is connected from %s: %w", remote, err)
	}
	return uid, nil
}

// Holder is the program listening on a port.
type Holder struct {
	UID int
	// PID and Command are known only when this process may read the holder's open files (the
	// same user, or root); otherwise PID is 0 and Command empty.
	PID     int
	Command string
}

// PortHolder names who listens on TCP port on the loopback or on every address: whoever
// holds a port another program needs.
func PortHolder(port uint16) (Holder, error) {
	h, err := portHolder(port)
	if err != nil {
		return Holder{}, fmt.Errorf("who listens on port %d: %w", port, err)
	}
	return h, nil
}

func tcpAddrPort(a net.Addr) (netip.AddrPort, error) {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%v is not a TCP address", a)
	}
	return t.AddrPort(), nil
}

// norm drops the IPv4-in-IPv6 form, so a v4 socket and a v6 socket with a mapped address
// compare equal.
func norm(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
