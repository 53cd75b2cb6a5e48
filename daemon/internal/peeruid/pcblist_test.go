package peeruid

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// The lists below are built to XNU's layouts (pcblist.go) the way the kernel writes them:
// header, per socket the control block, the socket, two socket buffers, statistics and the TCP
// block, then the trailer. No Mac runs in CI, so a list read from a real kernel is not among
// them.

const xigLen = 24

func le32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

func record(kind uint32, n int) []byte {
	b := make([]byte, (n+7)&^7)
	le32(b, 0, uint32(n))
	le32(b, 4, kind)
	return b
}

func xinpgen(count int) []byte {
	b := make([]byte, xigLen)
	le32(b, 0, xigLen)
	le32(b, 4, uint32(count))
	return b
}

// inpcb is a struct xinpcb_n (its real size on current macOS is larger; only the prefix is read).
func inpcb(local, remote netip.AddrPort) []byte {
	b := record(xsoInpcb, 108)
	binary.BigEndian.PutUint16(b[inpLport:], local.Port())
	binary.BigEndian.PutUint16(b[inpFport:], remote.Port())
	put := func(off int, a netip.Addr) {
		if a.Is4() {
			b[inpVflag] |= inpIPv4
			v4 := a.As4()
			copy(b[off+12:], v4[:])
			return
		}
		b[inpVflag] |= 0x2
		v6 := a.As16()
		copy(b[off:], v6[:])
	}
	put(inpLaddr, local.Addr())
	put(inpFaddr, remote.Addr())
	return b
}

func xsocket(uid int) []byte {
	b := record(xsoSocket, 92)
	le32(b, soUID-4, 501) // so_oobmark: not the uid
	le32(b, soUID, uint32(uid))
	le32(b, soUID+4, 4242) // so_last_pid
	return b
}

// group is one socket as the kernel writes it, with the records this parser skips.
func group(local, remote netip.AddrPort, uid int) []byte {
	var b []byte
	b = append(b, inpcb(local, remote)...)
	b = append(b, xsocket(uid)...)
	b = append(b, record(0x002, 36)...)  // XSO_RCVBUF
	b = append(b, record(0x004, 36)...)  // XSO_SNDBUF
	b = append(b, record(0x008, 300)...) // XSO_STATS
	b = append(b, record(0x020, 212)...) // XSO_TCPCB
	return b
}

func list(groups ...[]byte) []byte {
	b := xinpgen(len(groups))
	for _, g := range groups {
		b = append(b, g...)
	}
	return append(b, xinpgen(len(groups))...)
}

var (
	srv     = netip.MustParseAddrPort("127.0.0.1:47321")
	cli     = netip.MustParseAddrPort("127.0.0.1:50001")
	any4    = netip.MustParseAddrPort("0.0.0.0:0")
	srv6    = netip.MustParseAddrPort("[::1]:47321")
	cli6    = netip.MustParseAddrPort("[::1]:50002")
	other   = netip.MustParseAddrPort("192.0.2.7:443")
	mine    = netip.MustParseAddrPort("192.0.2.1:50003")
	anyPort = netip.MustParseAddrPort("0.0.0.0:47321")
)

func TestParsePCBList(t *testing.T) {
	buf := list(
		group(srv, any4, 0),     // the listener (root's service)
		group(srv, cli, 0),      // the server's end of a connection
		group(cli, srv, 501),    // the client's end: staff user 501
		group(cli6, srv6, 502),  // over IPv6: user 502
		group(mine, other, 501), // elsewhere
		group(netip.MustParseAddrPort("[::]:8080"), netip.MustParseAddrPort("[::]:0"), 503), // v6 listener
	)
	socks, err := parsePCBList(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 6 {
		t.Fatalf("got %d sockets, want 6: %+v", len(socks), socks)
	}
	if socks[2] != (pcb{local: cli, remote: srv, uid: 501}) || socks[3] != (pcb{local: cli6, remote: srv6, uid: 502}) {
		t.Fatalf("sockets read wrong: %+v", socks)
	}
	if !socks[0].listening() || socks[1].listening() || !socks[5].listening() {
		t.Fatalf("listeners read wrong: %+v", socks)
	}
	for _, tt := range []struct {
		name          string
		local, remote netip.AddrPort
		want          int
		err           error
	}{
		{"the client of our server", srv, cli, 501, nil},
		{"over IPv6", srv6, cli6, 502, nil},
		{"our client of a server", cli, srv, 0, nil},
		{"no such peer", srv, netip.MustParseAddrPort("127.0.0.1:50009"), -1, ErrNoPeer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookupIn(socks, tt.local, tt.remote)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("lookupIn = %d, %v; want %d, %v", got, err, tt.want, tt.err)
			}
		})
	}
	if h, err := holderIn(socks, 47321); err != nil || h.UID != 0 || h.PID != 0 {
		t.Fatalf("holderIn(47321) = %+v, %v", h, err)
	}
	if h, err := holderIn(socks, 8080); err != nil || h.UID != 503 {
		t.Fatalf("holderIn(8080) = %+v, %v", h, err)
	}
	if _, err := holderIn(socks, 9); err == nil {
		t.Fatal("holderIn found a listener on a port nobody listens on")
	}
}

func TestLookupInTwoOwners(t *testing.T) {
	socks, err := parsePCBList(list(group(cli, srv, 501), group(cli, srv, 502), group(anyPort, any4, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if uid, err := lookupIn(socks, srv, cli); err == nil || !strings.Contains(err.Error(), "two owners") {
		t.Fatalf("two owners of one end gave %d, %v", uid, err)
	}
}

func TestParsePCBListRefuses(t *testing.T) {
	good := list(group(cli, srv, 501))
	short := func(kind uint32, n int) []byte {
		g := append(inpcb(cli, srv), record(kind, n)...)
		if kind == xsoInpcb {
			g = record(kind, n)
		}
		return list(g)
	}
	for _, tt := range []struct {
		name, want string
		buf        []byte
	}{
		{"empty", "shorter than its header", nil},
		{"no trailer", "does not end with its trailer", good[:len(good)-xigLen]},
		{"header longer than the list", "header says", append(xinpgen(1)[:4:4], make([]byte, 10)...)},
		{"a record longer than the list", "says it has", func() []byte {
			b := append([]byte(nil), good...)
			le32(b, xigLen, 1<<20)
			return b
		}()},
		{"a record of no length", "says it has", func() []byte {
			b := append([]byte(nil), good...)
			le32(b, xigLen, 0)
			return b
		}()},
		{"a control block without its socket", "has no socket record", list(inpcb(cli, srv))},
		{"a control block without its socket before another", "has no socket record", list(inpcb(cli, srv), group(srv, cli, 0))},
		{"a socket without a control block", "belongs to no control block", list(xsocket(501))},
		{"two sockets for one control block", "belongs to no control block", list(append(group(cli, srv, 501), xsocket(502)...))},
		{"a control block cut short", "fewer than 80", short(xsoInpcb, 60)},
		{"a socket record cut short", "fewer than 68", short(xsoSocket, 64)},
		{"a record header cut short", "cut short", func() []byte {
			g := append(group(cli, srv, 501), 1, 2, 3, 4)
			return list(g)
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			socks, err := parsePCBList(tt.buf)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parsePCBList = %+v, %v; want an error with %q", socks, err, tt.want)
			}
		})
	}
}
