package peeruid

import (
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"

	"foureyes/daemon/internal/winacl"
)

// On Windows the TCP table (GetExtendedTcpTable, tcptable.go parses it) names the process that
// owns each connection; its user is that process's token's, numbered by winacl.UID as the admin
// pipe numbers its callers. Reading another user's process needs the rights the service has
// (LocalSystem). Built and compiled in CI, not run there (no Windows machine).

// GetExtendedTcpTable is not wrapped by x/sys/windows.
var procGetExtendedTCPTable = windows.NewLazySystemDLL("iphlpapi.dll").NewProc("GetExtendedTcpTable")

const tcpTableOwnerPIDAll = 5 // TCP_TABLE_OWNER_PID_ALL

// tcpTable reads the TCP table of one address family.
func tcpTable(v6 bool) ([]pcb, error) {
	af := uintptr(windows.AF_INET)
	if v6 {
		af = windows.AF_INET6
	}
	size := uint32(16 * 1024)
	for range 5 {
		buf := make([]byte, size)
		r, _, _ := procGetExtendedTCPTable.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0, af, tcpTableOwnerPIDAll, 0)
		switch windows.Errno(r) {
		case 0:
			return parseTCPTable(buf[:size], v6)
		case windows.ERROR_INSUFFICIENT_BUFFER:
			size += 4096 // connections come and go between the two calls
			continue
		default:
			return nil, fmt.Errorf("reading the TCP table (GetExtendedTcpTable): %w", windows.Errno(r))
		}
	}
	return nil, errors.New("reading the TCP table (GetExtendedTcpTable): it kept growing")
}

func lookup(local, remote netip.AddrPort) (int, error) {
	socks, err := tcpTable(remote.Addr().Is6())
	if err != nil {
		return -1, err
	}
	pid, err := lookupIn(socks, local, remote)
	if err != nil {
		return -1, err
	}
	if pid <= 4 { // the idle and System processes: a connection closing, owned by no program
		return -1, ErrNoPeer
	}
	return processUID(uint32(pid))
}

// processUID is winacl.UID of the user a process runs as.
func processUID(pid uint32) (int, error) {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return -1, fmt.Errorf("opening process %d, which holds the other end: %w", pid, err)
	}
	defer func() { _ = windows.CloseHandle(p) }()
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return -1, fmt.Errorf("reading the user of process %d: %w", pid, err)
	}
	defer func() { _ = tok.Close() }()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return -1, fmt.Errorf("reading the user of process %d: %w", pid, err)
	}
	return winacl.UID(tu.User.Sid.String()), nil
}

// portHolder names the listener's process and user.
func portHolder(port uint16) (Holder, error) {
	for _, v6 := range []bool{false, true} {
		socks, err := tcpTable(v6)
		if err != nil {
			return Holder{}, err
		}
		h, err := holderIn(socks, port)
		if err != nil {
			continue
		}
		pid := h.UID
		uid, err := processUID(uint32(pid))
		if err != nil {
			return Holder{}, err // another user's process, and this one may not read it
		}
		return Holder{PID: pid, UID: uid}, nil
	}
	return Holder{}, errors.New("no listening socket found")
}
