package peeruid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// macOS lists its TCP sockets in the sysctl net.inet.tcp.pcblist_n: a header (struct xinpgen),
// then for each socket a group of records, each starting with its length and kind and padded
// to 8 bytes, then the header again as a trailer. The group starts with the socket's Internet
// control block (struct xinpcb_n: ports and addresses) and has its socket (struct xsocket_n:
// the uid of the credentials that made it). The layouts are XNU's (bsd/netinet/in_pcb.h,
// bsd/sys/socketvar.h), packed to 4 bytes; other records are skipped by their length, so a
// new kind in a later macOS does not break the walk. Parsed here, not in a darwin-only file,
// so the walk is tested on every system.
const (
	xsoSocket = 0x001 // XSO_SOCKET: struct xsocket_n
	xsoInpcb  = 0x010 // XSO_INPCB: struct xinpcb_n

	// struct xinpcb_n
	inpFport  = 16 // u_short, network byte order
	inpLport  = 18
	inpVflag  = 44 // u_char: INP_IPV4 0x1, INP_IPV6 0x2
	inpFaddr  = 48 // 16 bytes: in6_addr, or an IPv4 address in its last 4
	inpLaddr  = 64
	inpMinLen = 80
	inpIPv4   = 0x1

	// struct xsocket_n
	soUID    = 64 // uid_t so_uid
	soMinLen = 68
)

// pcb is one TCP socket of the list.
type pcb struct {
	local, remote netip.AddrPort
	uid           int
}

// listening reports whether p waits for connections: it has no peer yet.
func (p pcb) listening() bool { return p.remote.Port() == 0 && p.remote.Addr().IsUnspecified() }

// parsePCBList reads a net.inet.tcp.pcblist_n buffer. A group without both its control block
// and its socket is an error: the buffer is not what this parser knows.
func parsePCBList(buf []byte) ([]pcb, error) {
	if len(buf) < 8 {
		return nil, errors.New("the socket list is shorter than its header")
	}
	hdr := int(binary.LittleEndian.Uint32(buf))
	if hdr < 8 || 2*hdr > len(buf) {
		return nil, fmt.Errorf("the socket list's header says %d bytes in a list of %d", hdr, len(buf))
	}
	if tr := binary.LittleEndian.Uint32(buf[len(buf)-hdr:]); int(tr) != hdr {
		return nil, fmt.Errorf("the socket list does not end with its trailer (%d bytes, not %d)", tr, hdr)
	}
	body := buf[hdr : len(buf)-hdr]
	var out []pcb
	var cur *pcb
	var haveSock bool
	flush := func() error {
		if cur == nil {
			return nil
		}
		if !haveSock {
			return fmt.Errorf("the socket %s-%s has no socket record (so no owner)", cur.local, cur.remote)
		}
		out = append(out, *cur)
		cur, haveSock = nil, false
		return nil
	}
	for off := 0; off < len(body); {
		if len(body)-off < 8 {
			return nil, fmt.Errorf("a record at byte %d is cut short", hdr+off)
		}
		n := int(binary.LittleEndian.Uint32(body[off:]))
		kind := binary.LittleEndian.Uint32(body[off+4:])
		if n < 8 || n > len(body)-off {
			return nil, fmt.Errorf("a record at byte %d says it has %d bytes", hdr+off, n)
		}
		rec := body[off : off+n]
		switch kind {
		case xsoInpcb:
			if err := flush(); err != nil {
				return nil, err
			}
			if n < inpMinLen {
				return nil, fmt.Errorf("a control block at byte %d has %d bytes, fewer than %d", hdr+off, n, inpMinLen)
			}
			cur = &pcb{
				local:  netip.AddrPortFrom(inAddr(rec[inpLaddr:inpLaddr+16], rec[inpVflag]), binary.BigEndian.Uint16(rec[inpLport:])),
				remote: netip.AddrPortFrom(inAddr(rec[inpFaddr:inpFaddr+16], rec[inpVflag]), binary.BigEndian.Uint16(rec[inpFport:])),
			}
		case xsoSocket:
			if cur == nil || haveSock {
				return nil, fmt.Errorf("a socket record at byte %d belongs to no control block", hdr+off)
			}
			if n < soMinLen {
				return nil, fmt.Errorf("a socket record at byte %d has %d bytes, fewer than %d", hdr+off, n, soMinLen)
			}
			cur.uid = int(binary.LittleEndian.Uint32(rec[soUID:]))
			haveSock = true
		}
		off += (n + 7) &^ 7
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// inAddr is the address in a control block's 16 bytes: IPv4 in the last 4 when vflag says so.
func inAddr(b []byte, vflag byte) netip.Addr {
	if vflag&inpIPv4 != 0 {
		return netip.AddrFrom4([4]byte(b[12:16]))
	}
	return netip.AddrFrom16([16]byte(b)).Unmap()
}

// lookupIn finds the owner of the other end of local↔remote among socks, as the Linux lookup
// does: exactly one owner, or an error.
func lookupIn(socks []pcb, local, remote netip.AddrPort) (int, error) {
	uid := -1
	for _, s := range socks {
		if norm(s.local) != remote || norm(s.remote) != local || s.listening() {
			continue
		}
		if uid == -1 || uid == s.uid {
			uid = s.uid
		} else {
			return -1, errors.New("the kernel lists two owners for the other end of the connection")
		}
	}
	if uid < 0 {
		return -1, ErrNoPeer
	}
	return uid, nil
}

// holderIn finds who listens on port on the loopback or on every address.
func holderIn(socks []pcb, port uint16) (Holder, error) {
	for _, s := range socks {
		a := s.local.Addr()
		if s.listening() && s.local.Port() == port && (a.IsLoopback() || a.IsUnspecified()) {
			return Holder{UID: s.uid}, nil
		}
	}
	return Holder{}, errors.New("no listening socket found")
}
