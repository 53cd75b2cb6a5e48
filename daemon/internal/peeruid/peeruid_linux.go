package peeruid

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The kernel's TCP state numbers (include/net/tcp_states.h) this package needs.
const stateListen = 0x0A

// tables are the kernel's lists of TCP sockets; a variable so tests can point at fixtures.
var tables = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// socket is one line of a table.
type socket struct {
	local, remote netip.AddrPort
	state         uint8
	uid           int
	inode         uint64
}

func lookup(local, remote netip.AddrPort) (int, error) {
	uid := -1
	err := eachSocket(func(s socket) {
		if s.local != remote || s.remote != local || s.state == stateListen {
			return
		}
		// An inode of 0 is a socket its process has closed: the kernel shows it as root's.
		if s.inode == 0 {
			return
		}
		if uid == -1 || uid == s.uid {
			uid = s.uid
		} else {
			uid = -2 // two owners for one address pair: trust neither
		}
	})
	switch {
	case err != nil:
		return -1, err
	case uid == -2:
		return -1, errors.New("the kernel lists two owners for the other end of the connection")
	case uid < 0:
		return -1, ErrNoPeer
	}
	return uid, nil
}

func portHolder(port uint16) (Holder, error) {
	var found *socket
	err := eachSocket(func(s socket) {
		a := s.local.Addr()
		if found == nil && s.state == stateListen && s.local.Port() == port && (a.IsLoopback() || a.IsUnspecified()) {
			found = &s
		}
	})
	if err != nil {
		return Holder{}, err
	}
	if found == nil {
		return Holder{}, errors.New("no listening socket found")
	}
	h := Holder{UID: found.uid}
	if found.inode != 0 {
		h.PID, h.Command = socketOwner(found.inode)
	}
	return h, nil
}

// socketOwner finds the process that has socket inode open, among those whose open files this
// process may read; 0 if none.
func socketOwner(inode uint64) (int, string) {
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		fds, err := os.ReadDir(filepath.Join(p, "fd"))
		if err != nil {
			continue // another user's process, or gone
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(p, "fd", fd.Name())); err == nil && l == want {
				pid, _ := strconv.Atoi(filepath.Base(p))
				comm, _ := os.ReadFile(filepath.Join(p, "comm"))
				return pid, strings.TrimSpace(string(comm))
			}
		}
	}
	return 0, ""
}

// eachSocket calls f with every socket of the tables. A table that does not exist (no IPv6)
// is skipped; any other error is returned.
func eachSocket(f func(socket)) error {
	read := 0
	for _, path := range tables {
		file, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the kernel's socket table: %w", err)
		}
		err = parseTable(file, f)
		_ = file.Close() // read-only
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		read++
	}
	if read == 0 {
		return fmt.Errorf("none of %s exists (is /proc mounted?)", strings.Join(tables, ", "))
	}
	return nil
}

// parseTable reads one table: a header line, then one socket per line:
// "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...".
func parseTable(r io.Reader, f func(socket)) error {
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		var s socket
		var err error
		if s.local, err = parseAddr(fields[1]); err != nil {
			return err
		}
		if s.remote, err = parseAddr(fields[2]); err != nil {
			return err
		}
		st, err := strconv.ParseUint(fields[3], 16, 8)
		if err != nil {
			return fmt.Errorf("socket state %q: %w", fields[3], err)
		}
		s.state = uint8(st)
		if s.uid, err = strconv.Atoi(fields[7]); err != nil {
			return fmt.Errorf("socket uid %q: %w", fields[7], err)
		}
		if s.inode, err = strconv.ParseUint(fields[9], 10, 64); err != nil {
			return fmt.Errorf("socket inode %q: %w", fields[9], err)
		}
		f(s)
	}
	return sc.Err()
}

// parseAddr reads "0100007F:1F90": the address as the kernel's 32-bit words printed in the
// machine's byte order, then the port in hex.
func parseAddr(s string) (netip.AddrPort, error) {
	ip, port, ok := strings.Cut(s, ":")
	if !ok || (len(ip) != 8 && len(ip) != 32) {
		return netip.AddrPort{}, fmt.Errorf("socket address %q", s)
	}
	raw, err := hex.DecodeString(ip)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("socket address %q: %w", s, err)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("socket port %q: %w", s, err)
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}
