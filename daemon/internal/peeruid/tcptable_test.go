package peeruid

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// row4 and row6 build rows as Windows lays them out.
func row4(state uint32, local, remote netip.AddrPort, pid uint32) []byte {
	b := make([]byte, tcpRow4Len)
	binary.LittleEndian.PutUint32(b[0:], state)
	la, ra := local.Addr().As4(), remote.Addr().As4()
	copy(b[4:], la[:])
	binary.BigEndian.PutUint16(b[8:], local.Port())
	copy(b[12:], ra[:])
	binary.BigEndian.PutUint16(b[16:], remote.Port())
	binary.LittleEndian.PutUint32(b[20:], pid)
	return b
}

func row6(state uint32, local, remote netip.AddrPort, pid uint32) []byte {
	b := make([]byte, tcpRow6Len)
	la, ra := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:], la[:])
	binary.BigEndian.PutUint16(b[20:], local.Port())
	copy(b[24:], ra[:])
	binary.BigEndian.PutUint16(b[44:], remote.Port())
	binary.LittleEndian.PutUint32(b[48:], state)
	binary.LittleEndian.PutUint32(b[52:], pid)
	return b
}

func table(rows ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(rows)))
	for _, r := range rows {
		b = append(b, r...)
	}
	return b
}

func TestParseTCPTable(t *testing.T) {
	const listen, established = 2, 5
	bridge := netip.MustParseAddrPort("127.0.0.1:7391")
	browser := netip.MustParseAddrPort("127.0.0.1:50123")
	any := netip.MustParseAddrPort("0.0.0.0:0")
	socks, err := parseTCPTable(table(
		row4(listen, bridge, any, 900),
		row4(established, bridge, browser, 900),  // the daemon's end
		row4(established, browser, bridge, 4242), // the browser's end
		row4(tcpTimeWait, browser, bridge, 0),    // an earlier connection on the same ports
	), false)
	if err != nil {
		t.Fatal(err)
	}
	// The daemon accepted browser->bridge: the other end is the browser's process.
	if pid, err := lookupIn(socks, bridge, browser); err != nil || pid != 4242 {
		t.Errorf("lookupIn = %d, %v; want 4242", pid, err)
	}
	if h, err := holderIn(socks, bridge.Port()); err != nil || h.UID != 900 {
		t.Errorf("holderIn = %+v, %v; want the listener's process 900", h, err)
	}

	v6bridge, v6browser := netip.MustParseAddrPort("[::1]:7391"), netip.MustParseAddrPort("[::1]:50124")
	socks, err = parseTCPTable(table(
		row6(established, v6bridge, v6browser, 900),
		row6(established, v6browser, v6bridge, 5151),
	), true)
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := lookupIn(socks, v6bridge, v6browser); err != nil || pid != 5151 {
		t.Errorf("IPv6 lookupIn = %d, %v; want 5151", pid, err)
	}
}

func TestParseTCPTableRefuses(t *testing.T) {
	ok := row4(5, netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2"), 1)
	for name, b := range map[string][]byte{
		"empty":              nil,
		"short count":        {1, 0},
		"more rows than fit": append(binary.LittleEndian.AppendUint32(nil, 2), ok...),
		"a huge count":       append(binary.LittleEndian.AppendUint32(nil, 0xffffffff), ok...),
	} {
		if socks, err := parseTCPTable(b, false); err == nil {
			t.Errorf("%s: parsed %v, want an error", name, socks)
		}
	}
	if socks, err := parseTCPTable(binary.LittleEndian.AppendUint32(nil, 0), true); err != nil || len(socks) != 0 {
		t.Errorf("an empty table: %v, %v", socks, err)
	}
}
