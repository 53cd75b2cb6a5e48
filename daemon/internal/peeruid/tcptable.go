package peeruid

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Windows lists its TCP connections with the id of the process that owns each in
// GetExtendedTcpTable (TCP_TABLE_OWNER_PID_ALL): a count, then fixed rows, MIB_TCPROW_OWNER_PID
// for IPv4 and MIB_TCP6ROW_OWNER_PID for IPv6 (iphlpapi's tcpmib.h). Addresses are in network
// byte order, and a port is a DWORD whose first two bytes are the port in network byte order.
// Parsed here, not in a windows-only file, so the walk is tested on every system; each row
// becomes a pcb whose uid field holds the owning process's id (peeruid_windows.go turns the one
// found into its user).
const (
	tcpRow4Len = 24 // dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid
	tcpRow6Len = 56 // ucLocalAddr[16], dwLocalScopeId, dwLocalPort, ucRemoteAddr[16], dwRemoteScopeId, dwRemotePort, dwState, dwOwningPid

	tcpTimeWait  = 11 // MIB_TCP_STATE_TIME_WAIT
	tcpDeleteTCB = 12 // MIB_TCP_STATE_DELETE_TCB
)

// parseTCPTable reads a MIB_TCPTABLE_OWNER_PID (v6 false) or MIB_TCP6TABLE_OWNER_PID (v6 true).
func parseTCPTable(buf []byte, v6 bool) ([]pcb, error) {
	if len(buf) < 4 {
		return nil, fmt.Errorf("a TCP table of %d bytes has no count", len(buf))
	}
	n := int(binary.LittleEndian.Uint32(buf))
	rowLen := tcpRow4Len
	if v6 {
		rowLen = tcpRow6Len
	}
	if n < 0 || n > (len(buf)-4)/rowLen {
		return nil, fmt.Errorf("a TCP table of %d bytes cannot hold the %d rows it counts", len(buf), n)
	}
	port := func(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
	// A connection in TIME_WAIT or being deleted belongs to no program any more (process 0);
	// its 4-tuple may be listed beside the live one that reuses it.
	gone := func(state uint32) bool { return state == tcpTimeWait || state == tcpDeleteTCB }
	socks := make([]pcb, 0, n)
	for i := range n {
		r := buf[4+i*rowLen : 4+(i+1)*rowLen]
		var s pcb
		state := binary.LittleEndian.Uint32(r[0:4])
		if v6 {
			state = binary.LittleEndian.Uint32(r[48:52])
		}
		if gone(state) {
			continue
		}
		if v6 {
			s.local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[0:16])), port(r[20:24]))
			s.remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[24:40])), port(r[44:48]))
			s.uid = int(binary.LittleEndian.Uint32(r[52:56]))
		} else {
			s.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[4:8])), port(r[8:12]))
			s.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[12:16])), port(r[16:20]))
			s.uid = int(binary.LittleEndian.Uint32(r[20:24]))
		}
		socks = append(socks, s)
	}
	return socks, nil
}
