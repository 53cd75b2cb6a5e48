// Package localui serves the press officer's local pages: "Enrol an approver" and "Accounts".
// The tray opens them in the browser; they talk to [api.Backend] and nothing else.
//
// The server listens on 127.0.0.1 only, on a random port. Every other OS user of the computer
// can connect to that port, and browsers send cookies for 127.0.0.1 to every port of it, so the
// pages trust neither the network nor cookies:
//   - every TCP connection is checked before any byte of it is read: the kernel names the OS
//     user at its other end (package peeruid), and a connection that is not from the daemon's
//     own user is closed at once and reported ([Options.OnRefused]: a high-severity audit line);
//   - no cookie is ever set. A page is opened through a small handoff file ([Server.Handoff]),
//     readable by the daemon's user only, whose form carries a one-time token (valid five
//     minutes) to POST /open; the answer sends the browser to /s/<random>/<page>, and that path
//     is the page's secret for the rest of its life (thirty minutes);
//   - the Host header must be exactly 127.0.0.1:PORT, so a DNS-rebound name cannot reach it;
//   - a request carrying an Origin other than the page's own is refused; a state change (POST)
//     must carry the page's own Origin and the page's CSRF token, and no CORS headers are ever
//     sent.
//
// The pages load nothing from elsewhere, run no script, and are sent with a strict Content
// Security Policy. Passwords and seeds typed into them go straight to the backend (the keyring)
// and are never echoed back or logged.
package localui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/peeruid"
)

// Defaults for [Options].
const (
	DefaultTokenTTL   = 5 * time.Minute
	DefaultSessionTTL = 30 * time.Minute
	// DefaultReportEvery is how often refusals of one OS user are reported at most: a flood of
	// connections makes one audit line a minute, with the count.
	DefaultReportEvery = time.Minute
)

// maxForm bounds a POST body: the forms are a few short fields.
const maxForm = 64 << 10

// Pages are the local pages [Server.Handoff] can open.
var Pages = []string{"enrol", "accounts"}

// Options configures a [Server]. Every field may be left zero.
type Options struct {
	// TokenTTL is how long a handoff's one-time token stays valid; DefaultTokenTTL if zero.
	TokenTTL time.Duration
	// SessionTTL is how long a page's address stays valid; DefaultSessionTTL if zero.
	SessionTTL time.Duration
	// HandoffDir is where handoff files are written: a folder only the daemon's user may enter
	// (made 0700 if missing). Zero: [DefaultHandoffDir].
	HandoffDir string
	// OnRefused is told of refused connections: the first one from each OS user, then at most
	// one every ReportEvery with the count since. Nil only logs them.
	OnRefused func(Refusal)
	// ReportEvery: DefaultReportEvery if zero.
	ReportEvery time.Duration
	// Logf logs the server's own problems (never form contents). Nil uses the standard logger.
	Logf func(format string, args ...any)
	// Now tells the time; nil is time.Now. Tests set it.
	Now func() time.Time
}

// Refusal is a connection to the local pages that did not come from the daemon's own user.
type Refusal struct {
	// UID is the OS user at the other end, or -1 if the kernel could not name one.
	UID int
	// Remote is the connection's source address.
	Remote string
	// Reason says why, for the log and the trail.
	Reason string
	// Count is how many connections were refused from UID since the last report, this one
	// included.
	Count int
}

// DefaultHandoffDir is $XDG_RUNTIME_DIR/foureyes (a per-user folder that lives as long as the
// login), or "" when XDG_RUNTIME_DIR is not set.
func DefaultHandoffDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return d + string(os.PathSeparator) + "foureyes"
	}
	return ""
}

// Server serves the local pages. Create it with [New], then [Server.Start] it.
type Server struct {
	b    api.Backend
	opts Options
	uid  int // the daemon's own user: the only one served

	// mu guards the fields that follow.
	mu       sync.Mutex
	addr     string // "127.0.0.1:PORT" once started
	tokens   map[string]urlToken
	sessions map[string]*session
	refused  map[int]*refusalCount
}

// urlToken is a handoff's one-time token: it opens page until expires.
type urlToken struct {
	page    string
	expires time.Time
	file    string // the handoff file, removed once the token is used or expired
}

// refusalCount throttles the reports of one OS user's refused connections.
type refusalCount struct {
	reported time.Time
	since    int
}

// session is one opened page, named by the secret in its path.
type session struct {
	base    string // "/s/<id>"
	expires time.Time
	csrf    map[string]string // page -> token
	// enrolment is shown until its first code is confirmed, so a reload or a mistyped code
	// does not lose the QR code.
	enrolment *api.Enrollment
	flash     string // a one-time message for the next page load
}

// New returns a server for b; it does not listen until Start.
func New(b api.Backend, opts Options) (*Server, error) {
	if b == nil {
		return nil, errors.New("local ui: no backend")
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.ReportEvery <= 0 {
		opts.ReportEvery = DefaultReportEvery
	}
	if opts.HandoffDir == "" {
		opts.HandoffDir = DefaultHandoffDir()
	}
	if opts.HandoffDir == "" {
		return nil, errors.New("local ui: no folder for the handoff files (XDG_RUNTIME_DIR is not set and none was given)")
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{b: b, opts: opts, uid: os.Getuid(),
		tokens: map[string]urlToken{}, sessions: map[string]*session{}, refused: map[int]*refusalCount{}}, nil
}

// Start listens on a random port of 127.0.0.1 and serves until ctx ends. It returns once the
// server is listening. It fails if this system cannot name the user behind a connection: then
// the pages would be open to every user of the computer.
func (s *Server) Start(ctx context.Context) error {
	if err := prepareDir(s.opts.HandoffDir); err != nil {
		return fmt.Errorf("local ui: %w", err)
	}
	removeStaleHandoffs(s.opts.HandoffDir, s.opts.TokenTTL)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("local ui: listening on 127.0.0.1: %w", err)
	}
	if err := selfCheck(ln, s.uid); err != nil {
		_ = ln.Close()
		return fmt.Errorf("local ui: %w", err)
	}
	s.mu.Lock()
	if s.addr != "" {
		s.mu.Unlock()
		_ = ln.Close()
		return errors.New("local ui: already started")
	}
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          log.New(logWriter(s.opts.Logf), "local ui: ", 0),
	}
	go func() {
		if err := srv.Serve(&ownerListener{Listener: ln, s: s}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logf("local ui: serving: %v", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		s.mu.Lock()
		for k, t := range s.tokens {
			removeHandoff(t.file)
			delete(s.tokens, k)
		}
		s.mu.Unlock()
	}()
	return nil
}

// selfCheck connects to the server's own listener and asks the kernel who connected, as the
// server will for every connection: the answer must be this process's user. Where the lookup
// is not built (or /proc is missing) it fails, and the pages stay closed.
func selfCheck(ln net.Listener, uid int) error {
	c, err := net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return fmt.Errorf("checking who connects: %w", err)
	}
	defer func() { _ = c.Close() }()
	sc, err := ln.Accept()
	if err != nil {
		return fmt.Errorf("checking who connects: %w", err)
	}
	defer func() { _ = sc.Close() }()
	got, err := peeruid.Of(sc)
	if err != nil {
		return fmt.Errorf("the pages are only served where the kernel names the user of a connection: %w", err)
	}
	if got != uid {
		return fmt.Errorf("the kernel names uid %d for this process's own connection, not %d", got, uid)
	}
	return nil
}

// ownerListener hands the HTTP server only connections from the daemon's own user; the others
// are closed before anything is read from them.
type ownerListener struct {
	net.Listener
	s *Server
}

func (l *ownerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peeruid.Of(c)
		if err == nil && uid == l.s.uid {
			return c, nil
		}
		_ = c.Close()
		reason := fmt.Sprintf("connection from the OS user with uid %d, not the daemon's own user", uid)
		if err != nil {
			uid, reason = -1, err.Error()
		}
		l.s.refuse(Refusal{UID: uid, Remote: c.RemoteAddr().String(), Reason: reason})
	}
}

// refuse logs a refused connection and reports it, at most once every ReportEvery per user.
func (s *Server) refuse(r Refusal) {
	now := s.opts.Now()
	s.mu.Lock()
	rc := s.refused[r.UID]
	if rc == nil {
		rc = &refusalCount{}
		s.refused[r.UID] = rc
	}
	rc.since++
	report := rc.reported.IsZero() || now.Sub(rc.reported) >= s.opts.ReportEvery
	if report {
		r.Count, rc.since, rc.reported = rc.since, 0, now
	}
	s.mu.Unlock()
	if !report {
		return
	}
	s.opts.Logf("local ui: REFUSED a connection from %s: %s (%d since the last report)", r.Remote, r.Reason, r.Count)
	if s.opts.OnRefused != nil {
		s.opts.OnRefused(r)
	}
}

// Addr is the address the server listens on ("127.0.0.1:PORT"), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Handoff writes a fresh handoff file for page ("enrol" or "accounts") and returns its file://
// URL: the tray opens it in the browser. The file, readable by the daemon's user only, holds the
// one-time token and sends it to the server at once; neither the URL nor any command line
// carries the token. The file is removed once the token is used, or when it expires.
func (s *Server) Handoff(page string) (string, error) {
	tok, addr, err := s.newToken(page)
	if err != nil {
		return "", err
	}
	path, err := writeHandoff(s.opts.HandoffDir, addr, tok)
	if err != nil {
		s.mu.Lock()
		delete(s.tokens, tok)
		s.mu.Unlock()
		return "", fmt.Errorf("local ui: %w", err)
	}
	s.mu.Lock()
	if t, ok := s.tokens[tok]; ok {
		t.file = path
		s.tokens[tok] = t
	}
	s.mu.Unlock()
	// Remove the file when the token expires, used or not.
	time.AfterFunc(s.opts.TokenTTL, func() {
		s.mu.Lock()
		delete(s.tokens, tok)
		s.mu.Unlock()
		removeHandoff(path)
	})
	return fileURL(path), nil
}

// newToken makes a one-time token for page.
func (s *Server) newToken(page string) (tok, addr string, err error) {
	if !knownPage(page) {
		return "", "", fmt.Errorf("local ui: no page %q", page)
	}
	if tok, err = randomToken(); err != nil {
		return "", "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == "" {
		return "", "", errors.New("local ui: not started")
	}
	now := s.opts.Now()
	s.pruneLocked(now)
	s.tokens[tok] = urlToken{page: page, expires: now.Add(s.opts.TokenTTL)}
	return tok, s.addr, nil
}

func knownPage(page string) bool {
	for _, p := range Pages {
		if p == page {
			return true
		}
	}
	return false
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("local ui: making a token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// pruneLocked forgets expired tokens (and their files) and sessions. s.mu must be held.
func (s *Server) pruneLocked(now time.Time) {
	for k, t := range s.tokens {
		if !now.Before(t.expires) {
			removeHandoff(t.file)
			delete(s.tokens, k)
		}
	}
	for k, x := range s.sessions {
		if !now.Before(x.expires) {
			delete(s.sessions, k)
		}
	}
}

// styleCSP is the CSP source that admits exactly the one inline stylesheet the pages use.
var styleCSP = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// contentSecurityPolicy allows the page's own stylesheet, QR images as data: URIs and forms
// posting back to the page; nothing else, and no framing.
var contentSecurityPolicy = "default-src 'none'; style-src " + styleCSP +
	"; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Handler is the server's HTTP handler with every check but the peer's user in front (that
// one is the listener's); Start serves it. Until Start has fixed the address it refuses
// everything, since no Host can match.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/open", s.open)
	mux.HandleFunc("/s/{id}/enrol", s.page("enrol", s.enrolGet, s.enrolPost))
	mux.HandleFunc("/s/{id}/accounts", s.page("accounts", s.accountsGet, s.accountsPost))
	return s.guard(mux)
}

// expiredMessage is what a stale or made-up address gets.
const expiredMessage = "This link has expired or was already used. Open the page again from the foureyes menu in the system tray."

// guard refuses, before any handler runs, what did not come from the tray's own page.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		addr := s.Addr()
		if addr == "" || r.Host != addr {
			forbidden(w, "This page is only served at its own local address.")
			return
		}
		own := "http://" + addr
		origin := r.Header.Get("Origin")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/open":
			// The handoff file is a file:// page: browsers send "null" (or nothing) for it.
			if origin != "" && origin != "null" && origin != own {
				forbidden(w, "Requests from other sites are refused.")
				return
			}
		case r.Method == http.MethodPost:
			// A state change must come from the page itself.
			if origin != own {
				forbidden(w, "Requests from other sites are refused.")
				return
			}
		case origin != "" && origin != "null" && origin != own:
			// A GET changes nothing, and reads a page only with the secret in its path; "null"
			// is what a browser may still carry on the GET after the handoff's redirect.
			forbidden(w, "Requests from other sites are refused.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// open redeems a handoff's one-time token (POSTed by the handoff file) for a page address
// with a fresh secret in its path, and sends the browser there.
func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		forbidden(w, expiredMessage)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	tok := r.PostForm.Get("t")
	id, err := randomToken()
	if err != nil {
		s.opts.Logf("%v", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	now := s.opts.Now()
	t, ok := s.tokens[tok]
	delete(s.tokens, tok)
	ok = ok && now.Before(t.expires)
	var base string
	if ok {
		base = "/s/" + id
		s.sessions[id] = &session{base: base, expires: now.Add(s.opts.SessionTTL), csrf: map[string]string{}}
	}
	s.mu.Unlock()
	removeHandoff(t.file) // used (or expired): the file has done its work
	if !ok {
		forbidden(w, expiredMessage)
		return
	}
	http.Redirect(w, r, base+"/"+t.page, http.StatusSeeOther)
}

// page authenticates a request for one page by the secret in its path and dispatches on the
// method; a POST also needs the page's CSRF token.
func (s *Server) page(name string, get, post func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.session(r.PathValue("id"))
		if sess == nil {
			forbidden(w, expiredMessage)
			return
		}
		if r.Method == http.MethodGet {
			get(w, r, sess)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if !s.checkCSRF(sess, name, r.PostForm.Get("csrf")) {
			forbidden(w, "This form has expired. Reload the page and try again.")
			return
		}
		post(w, r, sess)
	}
}

// session returns the live session named id, or nil.
func (s *Server) session(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.sessions[id]
	if x == nil || !s.opts.Now().Before(x.expires) {
		return nil
	}
	return x
}

// csrfToken returns the session's CSRF token for page, making one on first use.
func (s *Server) csrfToken(sess *session, page string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := sess.csrf[page]; t != "" {
		return t, nil
	}
	t, err := randomToken()
	if err != nil {
		return "", err
	}
	sess.csrf[page] = t
	return t, nil
}

func (s *Server) checkCSRF(sess *session, page, got string) bool {
	s.mu.Lock()
	want := sess.csrf[page]
	s.mu.Unlock()
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// takeFlash returns and clears the session's one-time message.
func (s *Server) takeFlash(sess *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := sess.flash
	sess.flash = ""
	return f
}

func (s *Server) setFlash(sess *session, msg string) {
	s.mu.Lock()
	sess.flash = msg
	s.mu.Unlock()
}

func forbidden(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	renderTemplate(w, "forbidden", map[string]any{"Message": msg})
}

// userMessage turns a backend error into words for the page, with any secret the user typed
// cut out in case the backend quoted it.
func userMessage(err error, secrets ...string) string {
	e := api.AsError(err)
	msg := e.Message
	switch e.Code {
	case api.CodeBadCode:
		msg = "That code was not accepted. Check that the phone's clock is right and type the code the app shows now."
	case api.CodeReplayed:
		msg = "That code was already used. Wait for the app to show the next one."
	case api.CodeThrottled:
		msg = "Too many wrong codes: this approver has to wait before trying again."
	case api.CodeNoKeyring, api.CodeKeyringLocked:
		msg = "The keyring is locked or unavailable. Unlock it (log in again) and retry."
	case api.CodeAuditUnavailable:
		msg = "The audit log cannot be written, so nothing is changed. Tell IT."
	case api.CodeInternal:
		msg = "Something went wrong inside foureyes. Try again; if it keeps happening, tell IT."
	}
	return scrub(msg, secrets...)
}

// scrub replaces every secret in msg.
func scrub(msg string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			msg = strings.ReplaceAll(msg, sec, "[hidden]")
		}
	}
	return msg
}

// logWriter adapts Logf to the http.Server's error log.
type logWriter func(format string, args ...any)

func (l logWriter) Write(p []byte) (int, error) {
	l("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
