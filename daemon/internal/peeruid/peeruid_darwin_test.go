package peeruid

import (
	"net"
	"os"
	"strconv"
	"testing"
)

// On a Mac, against the real kernel (no Mac runs in CI: this runs where a developer runs it).
// Both ends of a connection within this process belong to this process's user, over IPv4,
// IPv6 and from an IPv4 client to a dual-stack listener; the listener's port is held by this
// user.
func TestOwnConnectionMac(t *testing.T) {
	for _, tc := range []struct{ name, listenNet, listenAddr, dialNet string }{
		{"ipv4", "tcp4", "127.0.0.1:0", "tcp4"},
		{"ipv6", "tcp6", "[::1]:0", "tcp6"},
		{"ipv4-mapped", "tcp", "[::]:0", "tcp4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen(tc.listenNet, tc.listenAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ln.Close() }()
			port := ln.Addr().(*net.TCPAddr).Port
			addr := ln.Addr().String()
			if tc.name == "ipv4-mapped" {
				addr = "127.0.0.1:" + strconv.Itoa(port)
			}
			client, err := net.Dial(tc.dialNet, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = client.Close() }()
			server, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = server.Close() }()
			for name, c := range map[string]net.Conn{"server end": server, "client end": client} {
				if uid, err := Of(c); err != nil || uid != os.Getuid() {
					t.Errorf("%s: uid %d, %v; want %d", name, uid, err, os.Getuid())
				}
			}
			if h, err := PortHolder(uint16(port)); err != nil || h.UID != os.Getuid() {
				t.Errorf("PortHolder(%d) = %+v, %v; want uid %d", port, h, err, os.Getuid())
			}
		})
	}
}
