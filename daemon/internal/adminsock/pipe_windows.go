//go:build windows

package adminsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"foureyes/daemon/internal/winacl"
)

// The admin socket on Windows: a named pipe (its name from pipe.go) that only the daemon's own
// user may open, owned by that user. The daemon asks the kernel which process is at the other
// end and which user that process runs as, and refuses anyone else; a command checks that the
// pipe's owner is its own user before it sends anything, so another user's program squatting
// the name gets no approver's code. Service mode's pipe, \\.\pipe\foureyes-service, is owned by
// SYSTEM and open to every local user (winacl.ServicePipeSDDL); a command accepts a pipe owned
// by SYSTEM too.
//
// Built and compiled in CI, not run there: CI has no Windows machine.

// GetNamedPipeClientProcessId is not wrapped by x/sys/windows.
var procGetNamedPipeClientProcessID = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetNamedPipeClientProcessId")

const pipeBuffer = 64 * 1024

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeConn is one end of a connection: the pipe's overlapped handle as an *os.File, which runs
// it on the runtime's poller with deadlines, as a socket.
type pipeConn struct {
	*os.File
	addr pipeAddr
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.addr }
func (c *pipeConn) RemoteAddr() net.Addr { return c.addr }

func newPipeConn(h windows.Handle, name string) *pipeConn {
	return &pipeConn{File: os.NewFile(uintptr(h), name), addr: pipeAddr(name)}
}

// pipeListener hands out one connected pipe instance per Accept. One instance always waits for
// the next client, so the name is never free for another program to take.
type pipeListener struct {
	name string
	sa   *windows.SecurityAttributes

	mu        sync.Mutex // guards the fields that follow
	next      windows.Handle
	closed    bool
	accepting bool

	// ov is ConnectNamedPipe's, used only by the one Accept running; a field so that it is on
	// the heap, where the kernel may write to it while the goroutine's stack moves.
	ov windows.Overlapped
}

func listen(path string, shared bool) (net.Listener, error) {
	me, err := currentSID()
	if err != nil {
		return nil, err
	}
	sddl, err := userPipeSDDL(me.String())
	if shared {
		sddl, err = winacl.ServicePipeSDDL(me.String())
	}
	if err != nil {
		return nil, err
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, fmt.Errorf("the admin pipe's security descriptor %s: %w", sddl, err)
	}
	l := &pipeListener{name: pipeName(path), sa: &windows.SecurityAttributes{
		Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd,
	}}
	h, err := l.create(true)
	if err != nil {
		if shared && (errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY)) {
			return nil, fmt.Errorf("the service's admin pipe %s exists already: the foureyes service is already running (sc.exe query foureyes), or another program holds the name (find it before you start the service: staff commands send nothing to a pipe that is not SYSTEM's)", l.name)
		}
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, fmt.Errorf("the admin pipe %s (for %s) exists already: a foureyes daemon is already running, or another program holds the name (stop it first, or set FOUREYES_HOME for a second instance)", l.name, path)
		}
		return nil, fmt.Errorf("making the admin pipe %s: %w", l.name, err)
	}
	l.next = h
	return l, nil
}

// create makes a pipe instance; the first must be the first of its name (else someone holds
// the name already).
func (l *pipeListener) create(first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(l.name)
	if err != nil {
		return windows.InvalidHandle, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	return windows.CreateNamedPipe(name, flags,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		windows.PIPE_UNLIMITED_INSTANCES, pipeBuffer, pipeBuffer, 0, l.sa)
}

// Accept waits for a client on the waiting instance, makes the next one, and returns the
// connected one. A client that left before it was connected is not an error: it waits again.
// An instance that fails is replaced; only a third failure in a row is returned.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, net.ErrClosed
	}
	if l.accepting {
		l.mu.Unlock()
		return nil, errors.New("the admin pipe accepts one client at a time: Accept called twice at once")
	}
	l.accepting = true
	h := l.next
	l.mu.Unlock()

	for failures := 0; ; {
		err := l.connect(h)
		left := errors.Is(err, windows.ERROR_NO_DATA) // the client closed before it was connected
		if left {
			_ = windows.DisconnectNamedPipe(h)
		}

		l.mu.Lock()
		if l.closed {
			_ = windows.CloseHandle(h)
			l.next, l.accepting = windows.InvalidHandle, false
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		if err == nil {
			nh, cerr := l.create(false)
			if cerr != nil {
				_ = windows.CloseHandle(h)
				l.closed, l.next, l.accepting = true, windows.InvalidHandle, false
				l.mu.Unlock()
				return nil, fmt.Errorf("making the next instance of the admin pipe %s: %w", l.name, cerr)
			}
			l.next, l.accepting = nh, false
			l.mu.Unlock()
			return newPipeConn(h, l.name), nil
		}
		if !left {
			// This instance is unusable: a fresh one keeps the name held.
			_ = windows.DisconnectNamedPipe(h)
			_ = windows.CloseHandle(h)
			nh, cerr := l.create(false)
			if cerr != nil {
				l.closed, l.next, l.accepting = true, windows.InvalidHandle, false
				l.mu.Unlock()
				return nil, fmt.Errorf("making the admin pipe %s again after %v: %w", l.name, err, cerr)
			}
			l.next, h = nh, nh
			if failures++; failures == 3 {
				l.accepting = false
				l.mu.Unlock()
				return nil, fmt.Errorf("waiting for a client on the admin pipe %s: %w", l.name, err)
			}
		}
		l.mu.Unlock()
	}
}

// connect waits until a client opens instance h (ConnectNamedPipe, overlapped, before the
// handle goes to the runtime's poller).
func (l *pipeListener) connect(h windows.Handle) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return fmt.Errorf("making an event: %w", err)
	}
	defer func() { _ = windows.CloseHandle(ev) }()
	l.ov = windows.Overlapped{HEvent: ev}
	err = windows.ConnectNamedPipe(h, &l.ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
		return nil
	case errors.Is(err, windows.ERROR_IO_PENDING):
		var n uint32
		return windows.GetOverlappedResult(h, &l.ov, &n, true)
	}
	return err
}

// Close stops Accept: a waiting Accept is woken by cancelling its wait and by connecting to the
// instance (which also covers an Accept about to start waiting), and closes the instance itself.
func (l *pipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.next == windows.InvalidHandle {
		return nil
	}
	if !l.accepting {
		err := windows.CloseHandle(l.next)
		l.next = windows.InvalidHandle
		return err
	}
	_ = windows.CancelIoEx(l.next, nil)
	if name, err := windows.UTF16PtrFromString(l.name); err == nil {
		if c, err := windows.CreateFile(name, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, 0, 0); err == nil {
			_ = windows.CloseHandle(c)
		}
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.name) }

// Answers reports whether a daemon of this user accepts connections on the admin pipe for path.
func Answers(path string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := dial(ctx, path)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// dial opens the admin pipe for path, at identification level only (the daemon may learn who
// calls, not act as them), and only if the pipe belongs to this user.
func dial(ctx context.Context, path string) (net.Conn, error) {
	name := pipeName(path)
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	for {
		// Not GENERIC_WRITE: the service's pipe does not grant FILE_CREATE_PIPE_INSTANCE to staff.
		h, err := windows.CreateFile(p, winacl.ClientPipeAccess, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			if err := ownedByMe(h, name); err != nil {
				_ = windows.CloseHandle(h)
				return nil, err
			}
			return newPipeConn(h, name), nil
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, fmt.Errorf("opening the admin pipe %s: %w", name, err)
		}
		// Every instance is taken for a moment: the daemon makes the next one at once.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("opening the admin pipe %s: %w", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ownedByMe refuses a pipe whose owner is neither this process's user nor SYSTEM (the
// service's): another user's program that took the name first.
func ownedByMe(h windows.Handle, name string) error {
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("reading the owner of the admin pipe %s: %w", name, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("reading the owner of the admin pipe %s: %w", name, err)
	}
	me, err := currentSID()
	if err != nil {
		return err
	}
	if owner == nil || !(owner.Equals(me) || owner.String() == winacl.SIDSystem) {
		return fmt.Errorf("the admin pipe %s belongs to %v, not to this user nor to SYSTEM: another program holds the daemon's name; nothing was sent", name, owner)
	}
	return nil
}

// itHint says who IT is, in a refusal of an IT-only method.
const itHint = "run it from an elevated prompt (Run as administrator) as a member of Administrators, or as a member of the service's admin group"

// connPeer names the user at the other end of c: the user of the client's process, as the
// kernel reports it. In user mode it must be the daemon's own; in service mode (cfg.Shared) it
// is any local user, whose uid is a number this process gives each account it sees (SYSTEM is
// 0) and who is IT when the groups of its token say so.
func connPeer(c net.Conn, cfg *Config) (peer, error) {
	pc, ok := c.(*pipeConn)
	if !ok {
		return peer{uid: -1}, errors.New("not an admin pipe connection")
	}
	raw, err := pc.SyscallConn()
	if err != nil {
		return peer{uid: -1}, err
	}
	var pid uint32
	var perr error
	if err := raw.Control(func(fd uintptr) {
		if r, _, e := procGetNamedPipeClientProcessID.Call(fd, uintptr(unsafe.Pointer(&pid))); r == 0 {
			perr = e
		}
	}); err != nil {
		return peer{uid: -1}, err
	}
	if perr != nil {
		return peer{uid: -1}, fmt.Errorf("asking which process is at the other end of the admin pipe: %w", perr)
	}
	tok, err := processToken(pid)
	if err != nil {
		return peer{uid: -1}, err
	}
	defer func() { _ = tok.Close() }()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return peer{uid: -1}, fmt.Errorf("reading the user of the client process %d: %w", pid, err)
	}
	sid := tu.User.Sid
	if cfg.Shared {
		// The groups are read now, while the token is open: the answer is this connection's.
		admin, err := tokenIsIT(tok, sid, cfg.AdminGroup)
		if err != nil {
			return peer{uid: -1}, fmt.Errorf("reading the groups of the client process %d: %w", pid, err)
		}
		return peer{uid: winacl.UID(sid.String()), name: accountName(sid), admin: func() bool { return admin }}, nil
	}
	me, err := currentSID()
	if err != nil {
		return peer{uid: -1}, err
	}
	if !sid.Equals(me) {
		return peer{uid: -1}, fmt.Errorf("process %d runs as %s, not as the daemon's user", pid, sid)
	}
	name := me.String()
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return peer{uid: os.Getuid(), name: name}, nil
}

// accountName is DOMAIN\user for sid, or the SID itself when Windows cannot name it.
func accountName(sid *windows.SID) string {
	account, domain, _, err := sid.LookupAccount("")
	if err != nil {
		return sid.String()
	}
	if domain == "" {
		return account
	}
	return domain + `\` + account
}

// tokenIsIT reports whether the token is IT's: SYSTEM, or a token in which Administrators (an
// elevated program: without elevation Windows keeps the group for deny only) or the admin group
// is enabled.
func tokenIsIT(tok windows.Token, user *windows.SID, adminGroup string) (bool, error) {
	if user.String() == winacl.SIDSystem {
		return true, nil
	}
	want := map[string]bool{winacl.SIDAdministrators: true}
	if adminGroup != "" {
		if g, _, _, err := windows.LookupSID("", adminGroup); err == nil {
			want[g.String()] = true
		}
	}
	groups, err := tok.GetTokenGroups()
	if err != nil {
		return false, err
	}
	for _, g := range groups.AllGroups() {
		if g.Attributes&windows.SE_GROUP_ENABLED != 0 && g.Attributes&windows.SE_GROUP_USE_FOR_DENY_ONLY == 0 && want[g.Sid.String()] {
			return true, nil
		}
	}
	return false, nil
}

// processToken opens the token of a process, for reading.
func processToken(pid uint32) (windows.Token, error) {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return 0, fmt.Errorf("opening the client process %d: %w", pid, err)
	}
	defer func() { _ = windows.CloseHandle(p) }()
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return 0, fmt.Errorf("reading the user of the client process %d: %w", pid, err)
	}
	return tok, nil
}

// currentSID is the user this process runs as.
func currentSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("reading this process's user: %w", err)
	}
	return tu.User.Sid.Copy()
}
