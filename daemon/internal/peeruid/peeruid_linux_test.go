package peeruid

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"foureyes/daemon/internal/testenv"
)

// helperEnv makes the test binary, run as another user, play one side of a connection.
const helperEnv = "FOUREYES_PEERUID_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper is the other user's process. "dial ADDR" connects to ADDR; "listen" listens on a free
// loopback port and prints it. Either way it prints a line, then holds its socket until its
// standard input ends.
func helper(mode string) int {
	var c io.Closer
	var err error
	say := "connected"
	if addr, ok := strings.CutPrefix(mode, "dial "); ok {
		c, err = net.Dial("tcp", addr)
	} else {
		var ln net.Listener
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err == nil {
			c, say = ln, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(say)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = c.Close()
	return 0
}

// startOther runs the helper as the other user and returns its first line of output; the
// process ends with the test.
func startOther(t *testing.T, u testenv.OtherUser, mode string) (string, *exec.Cmd) {
	t.Helper()
	cmd := u.Command([]string{helperEnv + "=" + mode}, u.TestBinary(t))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a process as %s: %v", u.Name, err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error:") {
		t.Fatalf("the other user's process: %q %v", line, err)
	}
	return strings.TrimSpace(line), cmd
}

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		testenv.Need(t, "a loopback address "+addr, err.Error())
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// dialAccept connects to ln from this process and returns both ends.
func dialAccept(t *testing.T, ln net.Listener, network, addr string) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	return client, server
}

// Both ends of a connection within this process belong to this process's user, over IPv4,
// IPv6, and between an IPv4 socket and a dual-stack listener's IPv6 socket (which the kernel
// lists with the IPv4-in-IPv6 form of the address).
func TestOwnConnection(t *testing.T) {
	for _, tc := range []struct{ name, listenNet, listenAddr, dialNet string }{
		{"ipv4", "tcp4", "127.0.0.1:0", "tcp4"},
		{"ipv6", "tcp6", "[::1]:0", "tcp6"},
		{"ipv4-mapped", "tcp", "[::]:0", "tcp4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t, tc.listenNet, tc.listenAddr)
			port := ln.Addr().(*net.TCPAddr).Port
			addr := ln.Addr().String()
			if tc.name == "ipv4-mapped" {
				addr = "127.0.0.1:" + strconv.Itoa(port)
			}
			client, server := dialAccept(t, ln, tc.dialNet, addr)
			for name, c := range map[string]net.Conn{"server end": server, "client end": client} {
				uid, err := Of(c)
				if err != nil || uid != os.Getuid() {
					t.Errorf("%s: uid %d, %v; want %d", name, uid, err, os.Getuid())
				}
			}
		})
	}
}

// A process of another OS user connects: the server sees that user's uid, not its own.
func TestOtherUsersConnection(t *testing.T) {
	u := testenv.NeedOtherUser(t)
	ln := listen(t, "tcp4", "127.0.0.1:0")
	startOther(t, u, "dial "+ln.Addr().String())
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	uid, err := Of(c)
	if err != nil || uid != int(u.UID) {
		t.Fatalf("peer of the other user's connection: uid %d, %v; want %d", uid, err, u.UID)
	}
}

// A peer that closed its end before the lookup has no owner any more: the kernel would show
// it as root's, and the lookup refuses instead.
func TestClosedPeerIsNotRoot(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	client, server := dialAccept(t, ln, "tcp4", ln.Addr().String())
	_ = client.Close()
	if uid, err := Of(server); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("peer closed: uid %d, %v; want ErrNoPeer", uid, err)
	}
}

// A connection whose other end is not on this machine's table (made-up addresses) is not
// attributed to anyone.
func TestUnknownPeer(t *testing.T) {
	local := netip.MustParseAddrPort("127.0.0.1:1")
	remote := netip.MustParseAddrPort("127.0.0.1:2")
	if uid, err := Lookup(local, remote); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("made-up connection: uid %d, %v", uid, err)
	}
}

func TestPortHolder(t *testing.T) {
	t.Run("own", func(t *testing.T) {
		ln := listen(t, "tcp4", "127.0.0.1:0")
		h, err := PortHolder(uint16(ln.Addr().(*net.TCPAddr).Port))
		if err != nil || h.UID != os.Getuid() || h.PID != os.Getpid() || h.Command == "" {
			t.Fatalf("holder of our own port: %+v, %v", h, err)
		}
	})
	t.Run("other user", func(t *testing.T) {
		u := testenv.NeedOtherUser(t)
		line, cmd := startOther(t, u, "listen")
		port, err := strconv.Atoi(line)
		if err != nil {
			t.Fatal(err)
		}
		h, err := PortHolder(uint16(port))
		// Root may read every process's open files, so the PID is known too.
		if err != nil || h.UID != int(u.UID) || h.PID != cmd.Process.Pid {
			t.Fatalf("holder of the other user's port: %+v, %v; want uid %d pid %d", h, err, u.UID, cmd.Process.Pid)
		}
	})
	t.Run("nobody", func(t *testing.T) {
		ln := listen(t, "tcp4", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if h, err := PortHolder(uint16(port)); err == nil {
			t.Fatalf("a free port has a holder: %+v", h)
		}
	})
}

// The tables' address format, from lines the kernel wrote on a little-endian machine.
func TestParseTable(t *testing.T) {
	if !littleEndian() {
		t.Skip("the fixture was written on a little-endian machine")
	}
	const tcp4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 56789 1 0000000000000000 20 4 30 10 -1
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1151 1 00000000cc032ec7 100 0 0 10 0
`
	const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:D431 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000   999        0 4242 1 0000000000000000 20 4 30 10 -1
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0
`
	var got []socket
	for _, table := range []string{tcp4, tcp6} {
		if err := parseTable(strings.NewReader(table), func(s socket) { got = append(got, s) }); err != nil {
			t.Fatal(err)
		}
	}
	want := []socket{
		{netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("127.0.0.1:54321"), 1, 1000, 56789},
		{netip.MustParseAddrPort("0.0.0.0:22"), netip.MustParseAddrPort("0.0.0.0:0"), stateListen, 0, 1151},
		{netip.MustParseAddrPort("127.0.0.1:54321"), netip.MustParseAddrPort("127.0.0.1:8080"), 1, 999, 4242},
		{netip.MustParseAddrPort("[::1]:631"), netip.MustParseAddrPort("[::]:0"), stateListen, 0, 77},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parsed\n%v\nwant\n%v", got, want)
	}
	if err := parseTable(strings.NewReader("header\n 0: 0100007F 0100007F:1 01 a b c 0 0 1\n"), func(socket) {}); err == nil {
		t.Error("an address without a port was accepted")
	}
}

func littleEndian() bool {
	return binary.NativeEndian.AppendUint16(nil, 1)[0] == 1
}
