// Package adminsock is the local administration channel: a Unix socket that only the daemon's
// own OS user can use (file mode 0600 in a 0700 directory, and the kernel's peer credentials
// checked on every connection); in service mode ([Config.Shared]) every local user may connect
// and is who the kernel's peer credentials say. The CLI and the native-messaging host talk to the daemon over
// it; the [Client] satisfies api.Backend, so a transport does not care whether the engine is in
// its own process or behind this socket.
//
// Wire format: the client writes one JSON line {"v":1,"method":"...","params":{...}}; the
// server answers one JSON line {"result":...} or {"error":{"code","message"}}. "watch" streams
// {"event":{...}} lines until either side closes.
package adminsock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"foureyes/daemon/internal/api"
)

// Version is the wire version.
const Version = 1

// maxRequest bounds one request line (a post's text plus room).
const maxRequest = 1 << 20

type request struct {
	V      int             `json:"v"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *api.Error      `json:"error,omitempty"`
	Event  *api.Event      `json:"event,omitempty"`
}

// Config configures a Server.
type Config struct {
	// Backend returns everything the laptop's own user may do, for a caller the server
	// identified by its peer credentials.
	Backend func(api.Caller) api.Backend
	// AllowUID reports whether a peer uid may connect; nil allows only the daemon's own uid
	// (every uid when Shared).
	AllowUID func(uid int) bool
	// Shared is service mode: the socket is open to every local user (mode 0666 in a 0755
	// folder), and who each caller is comes only from the kernel's peer credentials.
	Shared bool
	// Admin reports whether a peer uid is IT (root, or a member of the service's admin group).
	// In service mode the methods that change custody without an approver's code (adminOnly)
	// are refused to everyone else; nil allows only root.
	Admin func(uid int) bool
	// AdminGroup is, on Windows, the local group whose members are IT besides SYSTEM and the
	// Administrators of an elevated program (a missing group: those only); Admin is not asked
	// there, as Windows names a caller by the groups of its token. Unused elsewhere.
	AdminGroup string
	// OnAdminRefused is told of each adminOnly call refused to a peer that is not IT.
	OnAdminRefused func(c api.Caller, method string)
	Logf           func(format string, args ...any)
}

// adminOnly are the methods that, in service mode, only IT may call: they change what the
// service holds (accounts, their passwords, the RADIUS secret) or undo a lock-out without any
// approver's code, so a staff member who can open the shared socket must not. Everything else
// either needs an approver's code or only makes things stricter (lock).
var adminOnly = map[string]bool{
	"account.add": true, "account.passwd": true, "account.remove": true,
	"radius.secret": true, "approver.unlock": true,
}

// Server serves the admin socket.
type Server struct {
	cfg  Config
	ln   net.Listener
	path string
	wg   sync.WaitGroup
}

// Listen creates the socket at path. It refuses if a daemon already answers there, and removes a
// stale socket left by a crash.
func Listen(path string, cfg Config) (*Server, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Admin == nil {
		cfg.Admin = func(uid int) bool { return uid == 0 }
	}
	if cfg.AllowUID == nil {
		me := os.Getuid()
		cfg.AllowUID = func(uid int) bool { return uid == me || cfg.Shared }
	}
	ln, err := listen(path, cfg.Shared)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, ln: ln, path: path}, nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until ctx ends, then closes the listener and waits for handlers.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		_ = s.ln.Close()
	}()
	defer func() {
		s.wg.Wait()
		_ = os.Remove(s.path)
	}()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Out of file descriptors and the like pass: wait a little and go on, as net/http
			// does, rather than leave the daemon without its admin channel.
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EINTR) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Printf("admin socket: accepting a connection: %v; retrying in %v", err, backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("admin socket: %w", err)
		}
		backoff = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(ctx, c)
		}()
	}
}

func writeResp(w io.Writer, r response) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func writeErr(w io.Writer, err error) {
	_ = writeResp(w, response{Error: api.AsError(err)})
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	defer func() { _ = c.Close() }()
	p, err := connPeer(c, &s.cfg)
	uid := p.uid
	if err != nil || !s.cfg.AllowUID(uid) {
		s.cfg.Logf("admin socket: refused a connection from uid %d: %v", uid, err)
		writeErr(c, api.Errorf(api.CodeNotPermitted, "only the user the daemon runs as may use its admin socket"))
		return
	}
	caller := api.Caller{OSUser: p.name, UID: uid, Via: "admin"}

	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(io.LimitReader(c, maxRequest+1), 64*1024)
	line, err := br.ReadBytes('\n')
	if len(line) > maxRequest {
		writeErr(c, api.Errorf(api.CodeTooLarge, "request over %d bytes", maxRequest))
		return
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		writeErr(c, api.Errorf(api.CodeBadRequest, "request is not valid JSON: %v", err))
		return
	}
	if req.V != Version {
		writeErr(c, api.Errorf(api.CodeUnsupported, "admin protocol version %d is not supported (this daemon speaks %d): use the foureyes command of the same version", req.V, Version))
		return
	}
	b := s.cfg.Backend(caller)

	if req.Method == "watch" {
		s.watch(ctx, c, b)
		return
	}
	h, ok := handlers[req.Method]
	if !ok {
		writeErr(c, api.Errorf(api.CodeUnsupported, "unknown method %q", req.Method))
		return
	}
	if s.cfg.Shared && adminOnly[req.Method] && !s.isAdmin(p) {
		s.cfg.Logf("admin socket: refused %s to uid %d, %s (not IT)", req.Method, uid, p.name)
		if s.cfg.OnAdminRefused != nil {
			s.cfg.OnAdminRefused(caller, req.Method)
		}
		writeErr(c, api.Errorf(api.CodeNotPermitted, "%s is for IT in service mode: %s", req.Method, itHint))
		return
	}
	res, err := h(ctx, b, req.Params)
	reply(c, res, err)
}

// peer is who is at the other end of a connection, as the kernel says.
type peer struct {
	uid  int
	name string
	// admin, when set (Windows, where IT is known by the groups of the caller's token, not by
	// a uid), decides whether the peer is IT instead of Config.Admin.
	admin func() bool
}

func (s *Server) isAdmin(p peer) bool {
	if p.admin != nil {
		return p.admin()
	}
	return s.cfg.Admin(p.uid)
}

func reply(w io.Writer, res any, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	raw, err := json.Marshal(res)
	if err != nil {
		writeErr(w, fmt.Errorf("encoding result: %w", err))
		return
	}
	_ = writeResp(w, response{Result: raw})
}

func (s *Server) watch(ctx context.Context, c net.Conn, b api.Backend) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The client closing its end ends the watch.
	go func() {
		_, _ = io.Copy(io.Discard, c)
		cancel()
	}()
	ch, err := b.Watch(ctx)
	if err != nil {
		writeErr(c, err)
		return
	}
	_ = writeResp(c, response{Result: json.RawMessage(`"watching"`)})
	for ev := range ch {
		ev := ev
		if err := writeResp(c, response{Event: &ev}); err != nil {
			return
		}
	}
}

func decodeParams(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return api.Errorf(api.CodeBadRequest, "bad parameters: %v", err)
	}
	return nil
}

// handler runs one method against a Backend.
type handler func(ctx context.Context, b api.Backend, params json.RawMessage) (any, error)

type idParams struct {
	ID       string        `json:"id"`
	Code     string        `json:"code,omitempty"`
	Password string        `json:"password,omitempty"`
	By       api.Authority `json:"by,omitzero"`
}

type approveParams struct {
	RequestID string `json:"request_id"`
	Approver  string `json:"approver"`
	Code      string `json:"code"`
}

type digestParams struct {
	SessionID string `json:"session_id"`
	Digest    string `json:"digest"`
	// ManifestDigest is the whole post's (attachments, answered post).
	ManifestDigest string `json:"manifest_digest"`
}

type extParams struct {
	Browser  string `json:"browser"`
	ID       string `json:"id"`
	Manifest string `json:"manifest"`
}

// with decodes params into P and calls f.
func with[P any](f func(ctx context.Context, b api.Backend, p P) (any, error)) handler {
	return func(ctx context.Context, b api.Backend, raw json.RawMessage) (any, error) {
		var p P
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		return f(ctx, b, p)
	}
}

type empty struct{}

type radiusSecretParams struct {
	Secret string `json:"secret"`
}

var ok = map[string]bool{"ok": true}

var handlers = map[string]handler{
	"status": with(func(ctx context.Context, b api.Backend, _ empty) (any, error) { return b.Status(ctx) }),
	"account.add": with(func(ctx context.Context, b api.Backend, p api.NewAccount) (any, error) {
		return b.AddAccount(ctx, p)
	}),
	"account.passwd": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return ok, b.SetAccountPassword(ctx, p.ID, p.Password)
	}),
	"radius.secret": with(func(ctx context.Context, b api.Backend, p radiusSecretParams) (any, error) {
		return ok, b.SetRadiusSecret(ctx, p.Secret)
	}),
	"account.list": with(func(ctx context.Context, b api.Backend, _ empty) (any, error) { return b.ListAccounts(ctx) }),
	"account.remove": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return ok, b.RemoveAccount(ctx, p.ID)
	}),
	"approver.enroll": with(func(ctx context.Context, b api.Backend, p api.NewApprover) (any, error) {
		return b.EnrollApprover(ctx, p)
	}),
	"approver.confirm": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return b.ConfirmApprover(ctx, p.ID, p.Code)
	}),
	"approver.list": with(func(ctx context.Context, b api.Backend, _ empty) (any, error) { return b.ListApprovers(ctx) }),
	"approver.remove": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return ok, b.RemoveApprover(ctx, p.ID, p.By)
	}),
	"approver.accept": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return b.AcceptApprover(ctx, p.ID, p.By)
	}),
	"account.rotate": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return b.RotateAccount(ctx, p.ID)
	}),
	"account.accept": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return b.AcceptAccount(ctx, p.ID, p.By)
	}),
	"approver.unlock": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return ok, b.UnlockApprover(ctx, p.ID)
	}),
	"request.create": with(func(ctx context.Context, b api.Backend, p api.NewRequest) (any, error) {
		return b.CreateRequest(ctx, p)
	}),
	"request.list": with(func(ctx context.Context, b api.Backend, _ empty) (any, error) { return b.ListRequests(ctx) }),
	"request.approve": with(func(ctx context.Context, b api.Backend, p approveParams) (any, error) {
		return b.Approve(ctx, p.RequestID, p.Approver, p.Code)
	}),
	"request.deny": with(func(ctx context.Context, b api.Backend, p approveParams) (any, error) {
		return b.Deny(ctx, p.RequestID, p.Approver, p.Code)
	}),
	"request.cancel": with(func(ctx context.Context, b api.Backend, p idParams) (any, error) {
		return b.Cancel(ctx, p.ID)
	}),
	"session.list": with(func(ctx context.Context, b api.Backend, _ empty) (any, error) { return b.ListSessions(ctx) }),
	"session.consume": with(func(ctx context.Context, b api.Backend, p api.Use) (any, error) {
		return b.Consume(ctx, p)
	}),
	"session.published": with(func(ctx context.Context, b api.Backend, p digestParams) (any, error) {
		return ok, b.ReportPublished(ctx, p.SessionID, p.Digest, p.ManifestDigest)
	}),
	"blocked": with(func(ctx context.Context, b api.Backend, p api.Blocked) (any, error) {
		return ok, b.ReportBlocked(ctx, p)
	}),
	"unrecognised": with(func(ctx context.Context, b api.Backend, p api.Unrecognised) (any, error) {
		return ok, b.ReportUnrecognised(ctx, p)
	}),
	"lock": with(func(ctx context.Context, b api.Backend, p struct {
		Reason string `json:"reason"`
	}) (any, error) {
		return b.Lock(ctx, p.Reason)
	}),
	"bridge.hello": with(func(ctx context.Context, b api.Backend, p struct {
		Origin string `json:"origin"`
	}) (any, error) {
		return b.BridgeHello(ctx, p.Origin)
	}),
	"policy.reload": with(func(ctx context.Context, b api.Backend, _ empty) (any, error) { return b.ReloadPolicy(ctx) }),
	"approver.offered": with(func(ctx context.Context, b api.Backend, p struct {
		Account string `json:"account"`
	}) (any, error) {
		return b.OfferedApprovers(ctx, p.Account)
	}),
	"extension.allowed": with(func(ctx context.Context, b api.Backend, p extParams) (any, error) {
		return ok, b.ExtensionAllowed(ctx, p.Browser, p.ID, p.Manifest)
	}),
}
