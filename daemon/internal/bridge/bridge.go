// Package bridge is the WebSocket server the browser extension talks to: ws://127.0.0.1:PORT/v1,
// loopback only. It is a shell around [api.Backend]: it decides who may connect (pinned extension
// origins, the loopback Host, a single-use token from the native-messaging host), decodes
// messages, calls the backend as the daemon's owner, and signs the grants that open the
// extension's gate. The wire protocol is shared/protocol/PROTOCOL.md.
package bridge

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/textclip"
)

// Path is the only path the bridge serves.
const Path = "/v1"

// Timings of the protocol. A Server copies the network deadlines into its timing field, which
// tests shorten; the token lifetime runs on the injected clock instead.
const (
	TokenLifetime  = 60 * time.Second // a native-host token is good this long, once
	HelloTimeout   = 5 * time.Second  // the first message must arrive within this
	PingInterval   = 20 * time.Second // the server pings this often
	ReadTimeout    = 60 * time.Second // a silent connection is dropped after this
	writeTimeout   = 10 * time.Second
	backendTimeout = 30 * time.Second

	// hardReadLimit stops gorilla from even starting to read a frame that declares a length far
	// over MaxMessageSize. Messages between the two limits are answered with too_large first.
	hardReadLimit = 1 << 20
	// maxTokens bounds the tokens waiting to be used, so a flood of hellos cannot grow memory.
	maxTokens = 64
)

// Config configures a [Server].
type Config struct {
	// Port to listen on at 127.0.0.1. Zero picks a free port (tests).
	Port int
	// ChromeIDs returns the pinned Chrome/Edge extension IDs from policy. It is called for every
	// upgrade and every hello, so a policy reload takes effect at once.
	ChromeIDs func() []string
	// Backend returns the staff half of the daemon bound to a caller: the bridge never holds
	// accounts, enrolment or tokens.
	Backend func(api.Caller) api.Staff
	// Owner is the OS user the daemon runs as. Every bridge connection acts as this user: the
	// native host, started by the user's own browser, proved it is the same user when it fetched
	// the token over the admin socket.
	Owner api.Caller
	// Now tells the time for token lifetimes. Nil means time.Now.
	Now func() time.Time
	// Logf logs one line. Nil discards.
	Logf func(format string, args ...any)
	// Signer signs grants. Nil generates a fresh key: the extension learns the public key from
	// every native-host hello, so it need not survive a restart.
	Signer ed25519.PrivateKey
	// Version is the daemon version sent in the hello reply.
	Version string
	// Policy returns what the extension needs of the policy, for the hello reply. Nil sends
	// every action as needing approval and every platform as gated.
	Policy func() ClientPolicy
	// PeerUID, when set (service mode, where several OS users share one bridge), names the OS
	// user holding the other end of each TCP connection (peeruid.Of). A token from
	// [Server.HelloFor] is then accepted only from a connection of the user it was issued to,
	// and the connection acts as that user. Nil (user mode): every connection acts as Owner.
	PeerUID func(net.Conn) (int, error)
	// OnRefused is told about a token presented by another OS user than the one it was issued
	// to, for the audit trail (nil: only logged).
	OnRefused func(Refusal)
}

// Refusal is a connection the bridge refused because of who holds it.
type Refusal struct {
	PeerUID  int // the OS user holding the connection (-1: unknown)
	TokenUID int // the OS user the token was issued to
	Origin   string
	Reason   string
}

// HostHello is what the native-messaging host hands the extension so it can connect: the port,
// a single-use token bound to the extension's origin, when the token expires, and the daemon's
// Ed25519 public key (standard base64 of the raw 32 bytes) that verifies grants.
type HostHello = api.BridgeHello

// MaxConns is how many connections the bridge holds open at once; more are refused with 503.
const MaxConns = 64

// Server is the WebSocket bridge. Create it with [New], then call [Server.Listen] (optional)
// and [Server.Serve].
type Server struct {
	cfg      Config
	signer   ed25519.PrivateKey
	upgrader websocket.Upgrader
	timing   timing

	mu       sync.Mutex // guards the fields that follow
	ln       net.Listener
	port     int
	tokens   []token
	mozConns map[string]int // moz-extension origins with a live connection, counted
	conns    map[*conn]struct{}
	maxConns int // connections open at once, hello or not
	authed   int
	closed   bool // Serve has ended: no new connections, no tokens
}

// timing holds the network deadlines, shortened in tests.
type timing struct {
	hello, ping, read, write time.Duration
}

// token is a native-host token waiting for its hello.
type token struct {
	value   string
	origin  string
	expires time.Time
	caller  *api.Caller // the OS user it was issued to (service mode); nil: the Owner
}

// connKey is the context key under which the bridge keeps each request's TCP connection.
type connKey struct{}

// New checks cfg and returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("bridge: no backend")
	}
	if cfg.ChromeIDs == nil {
		cfg.ChromeIDs = func() []string { return nil }
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("bridge: port %d out of range", cfg.Port)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Policy == nil {
		cfg.Policy = func() ClientPolicy { return ClientPolicy{} }
	}
	cfg.Owner.Via = "bridge"
	signer := cfg.Signer
	if signer == nil {
		var err error
		if _, signer, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, fmt.Errorf("bridge: generating grant key: %w", err)
		}
	} else if len(signer) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("bridge: grant key is %d bytes, want %d", len(signer), ed25519.PrivateKeySize)
	}
	s := &Server{
		cfg:      cfg,
		signer:   signer,
		timing:   timing{hello: HelloTimeout, ping: PingInterval, read: ReadTimeout, write: writeTimeout},
		mozConns: make(map[string]int),
		conns:    make(map[*conn]struct{}),
		maxConns: MaxConns,
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 5 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		// Checked already in ServeHTTP; checking again costs nothing and keeps gorilla from ever
		// falling back to its own same-origin rule.
		CheckOrigin: s.originAllowed,
		// A refusal is a bare status: no body, no hint, no headers of gorilla's.
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.cfg.Logf("bridge: upgrade failed: %v", reason)
			w.WriteHeader(status)
		},
	}
	return s, nil
}

// PublicKey returns the key that verifies this server's grants.
func (s *Server) PublicKey() ed25519.PublicKey {
	return s.signer.Public().(ed25519.PublicKey)
}

// Listen binds 127.0.0.1:Port. Serve calls it if it was not called before; calling it first
// lets the caller learn the address (or the error) before serving.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	// Loopback only, by address: never the wildcard, never another interface.
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.cfg.Port})
	if err != nil {
		return fmt.Errorf("bridge: listening on 127.0.0.1:%d: %w", s.cfg.Port, err)
	}
	s.ln = ln
	s.port = ln.Addr().(*net.TCPAddr).Port
	return nil
}

// Addr returns the address the bridge listens on ("127.0.0.1:PORT"), or "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Connected returns how many extension connections have passed their hello and are open.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed
}

// Serve serves until ctx ends, then closes every connection and returns nil. It returns an
// error only if it could not listen or serving failed.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		s.closeAll()
		return fmt.Errorf("bridge: serving: %w", err)
	case <-ctx.Done():
	}
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer shutCancel()
	_ = hs.Shutdown(shutCtx)
	// Hijacked WebSocket connections are not the http.Server's to close.
	s.mu.Lock()
	s.closed = true
	s.tokens = nil
	s.mu.Unlock()
	s.closeAll()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bridge: serving: %w", err)
	}
	return nil
}

func (s *Server) closeAll() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
}

// ServeHTTP admits only a WebSocket upgrade to /v1 from a pinned extension origin addressed to
// the loopback Host. Every refusal is a bare status with no body and no CORS headers: web pages
// must learn nothing and be granted nothing. A request that is not an upgrade attempt gets 404;
// an upgrade attempt that breaks any rule gets 403.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if reason := s.refuse(r); reason != "" {
		s.cfg.Logf("bridge: refused upgrade (%s): method %q path %q host %q origin %q",
			reason, r.Method, r.URL.Path, r.Host, r.Header.Get("Origin"))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	s.mu.Lock()
	busy := len(s.conns) >= s.maxConns
	s.mu.Unlock()
	if busy {
		// An extension needs one connection per browser profile: this many is someone hammering
		// the port, and each open connection costs memory until its hello times out.
		s.cfg.Logf("bridge: refused upgrade: %d connections already open", s.maxConns)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	peer := -1
	if s.cfg.PeerUID != nil {
		// Asked before the upgrade, while the peer's socket is surely open: the kernel names
		// the OS user whose process holds it.
		c, _ := r.Context().Value(connKey{}).(net.Conn)
		uid, err := -1, errors.New("no connection to ask about")
		if c != nil {
			uid, err = s.cfg.PeerUID(c)
		}
		if err != nil {
			s.cfg.Logf("bridge: refused upgrade from %s: cannot tell which OS user holds the connection: %v", r.RemoteAddr, err)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		peer = uid
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered and logged
	}
	s.serveConn(r.Context(), ws, r.Header.Get("Origin"), peer)
}

// refuse returns why an upgrade request must be refused, or "" if it may proceed.
func (s *Server) refuse(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet:
		return "method"
	case r.URL.Path != Path || r.URL.RawQuery != "":
		return "path"
	case !s.hostAllowed(r.Host):
		return "host"
	case len(r.Header.Values("Origin")) != 1:
		return "origin"
	case !s.originAllowed(r):
		return "origin"
	}
	return ""
}

// hostAllowed reports whether host names the loopback address and our port: anything else may
// be a DNS-rebinding page that resolved its own name to 127.0.0.1.
func (s *Server) hostAllowed(host string) bool {
	s.mu.Lock()
	port := strconv.Itoa(s.port)
	s.mu.Unlock()
	return host == "127.0.0.1:"+port || host == "localhost:"+port
}

// originAllowed reports whether the request's Origin is a pinned Chrome/Edge extension or a
// Firefox extension origin the native host vouched for (a live token or a live connection).
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	switch {
	case isChromeOrigin(origin):
		return s.chromePinned(origin)
	case isMozOrigin(origin):
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.mozConns[origin] > 0 {
			return true
		}
		now := s.cfg.Now()
		for _, t := range s.tokens {
			if t.origin == origin && now.Before(t.expires) {
				return true
			}
		}
	}
	return false
}

func (s *Server) chromePinned(origin string) bool {
	id := origin[len(chromeScheme):]
	for _, pinned := range s.cfg.ChromeIDs() {
		if pinned == id {
			return true
		}
	}
	return false
}

// Hello issues what the native host hands the extension whose origin is origin: a single-use
// token bound to that origin, good for [TokenLifetime]. A Chrome/Edge origin must be pinned by
// policy. A moz-extension origin (Firefox's random per-profile UUID, which only the extension
// knows) becomes allowed to upgrade while the token lives and while a connection from it lasts.
// The caller must have established that the native host asking is the daemon's own user.
func (s *Server) Hello(origin string) (HostHello, error) { return s.hello(origin, nil) }

// HelloFor is [Server.Hello] for service mode: the token is bound to the OS user c (the admin
// socket's peer), and with Config.PeerUID set it is accepted only from a connection that user
// holds; the connection then acts as c.
func (s *Server) HelloFor(origin string, c api.Caller) (HostHello, error) {
	c.Via = "bridge"
	return s.hello(origin, &c)
}

func (s *Server) hello(origin string, c *api.Caller) (HostHello, error) {
	if s.cfg.PeerUID != nil && c == nil {
		// A shared bridge never hands out a token nobody is bound to.
		return HostHello{}, api.Errorf(api.CodeForbidden, "this bridge issues tokens only to a known OS user")
	}
	switch {
	case isChromeOrigin(origin):
		if !s.chromePinned(origin) {
			return HostHello{}, api.Errorf(api.CodeForbidden, "extension %s is not pinned by policy", origin)
		}
	case isMozOrigin(origin):
	default:
		return HostHello{}, api.Errorf(api.CodeBadRequest, "origin %q is not a chrome-extension:// or moz-extension:// origin", textclip.Clip(origin, 80))
	}

	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return HostHello{}, fmt.Errorf("bridge: making token: %w", err)
	}
	t := token{
		value:   base64.RawURLEncoding.EncodeToString(b[:]),
		origin:  origin,
		expires: s.cfg.Now().Add(TokenLifetime),
		caller:  c,
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil || s.closed {
		return HostHello{}, api.Errorf(api.CodeDaemonUnavailable, "the extension bridge is not listening")
	}
	s.pruneTokensLocked()
	if len(s.tokens) >= maxTokens {
		s.tokens = s.tokens[1:] // the oldest goes: a real extension uses its token at once
	}
	s.tokens = append(s.tokens, t)
	return HostHello{
		Port:      s.port,
		Token:     t.value,
		DaemonKey: base64.StdEncoding.EncodeToString(s.PublicKey()),
		Expires:   t.expires.UTC(),
	}, nil
}

// pruneTokensLocked drops expired tokens. s.mu must be held.
func (s *Server) pruneTokensLocked() {
	now := s.cfg.Now()
	kept := s.tokens[:0]
	for _, t := range s.tokens {
		if now.Before(t.expires) {
			kept = append(kept, t)
		}
	}
	clear(s.tokens[len(kept):])
	s.tokens = kept
}

// redeem spends the token presented by a connection from origin. Any token equal to the
// presented value is spent, even if it was issued to another origin or has expired, so a
// token is never tried twice. It reports whether the token was live and issued to origin, and
// the token (zero if none matched).
func (s *Server) redeem(value, origin string) (token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	ok := false
	var found token
	kept := s.tokens[:0]
	for _, t := range s.tokens {
		// Compare every token in constant time, so timing says nothing about near misses.
		if constantTimeEqual(t.value, value) {
			ok = t.origin == origin && now.Before(t.expires)
			found = t
			continue
		}
		if now.Before(t.expires) {
			kept = append(kept, t)
		}
	}
	clear(s.tokens[len(kept):])
	s.tokens = kept
	return found, ok
}
