// Package localui serves the press officer's local pages: "Enrol an approver" and "Accounts".
// The tray opens them in the browser; they talk to [api.Backend] and nothing else.
//
// The server listens on 127.0.0.1 only, on a random port, and follows the same rules as the
// extension bridge, checked before anything else:
//   - the Host header must be exactly 127.0.0.1:PORT, so a DNS-rebound name cannot reach it;
//   - a request carrying an Origin other than the page's own is refused, and no CORS headers are
//     ever sent;
//   - every page is opened through a one-time URL ([Server.URL]) whose token, valid for five
//     minutes, is exchanged at first load for an HttpOnly, SameSite=Strict cookie, followed by a
//     redirect to the URL without the token;
//   - state changes are POST only and carry the page's CSRF token.
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
	"strings"
	"sync"
	"time"

	"foureyes/daemon/internal/api"
)

// Defaults for [Options].
const (
	DefaultTokenTTL   = 5 * time.Minute
	DefaultSessionTTL = 30 * time.Minute
)

// maxForm bounds a POST body: the forms are a few short fields.
const maxForm = 64 << 10

// Pages are the local pages [Server.URL] can open.
var Pages = []string{"enrol", "accounts"}

// Options configures a [Server]. Every field may be left zero.
type Options struct {
	// TokenTTL is how long a one-time URL stays valid; DefaultTokenTTL if zero.
	TokenTTL time.Duration
	// SessionTTL is how long the cookie a URL was exchanged for stays valid; DefaultSessionTTL
	// if zero.
	SessionTTL time.Duration
	// Logf logs the server's own problems (never form contents). Nil uses the standard logger.
	Logf func(format string, args ...any)
	// Now tells the time; nil is time.Now. Tests set it.
	Now func() time.Time
}

// Server serves the local pages. Create it with [New], then [Server.Start] it.
type Server struct {
	b    api.Backend
	opts Options

	// mu guards the fields that follow.
	mu       sync.Mutex
	addr     string // "127.0.0.1:PORT" once started
	tokens   map[string]urlToken
	sessions map[string]*session
}

// urlToken is a one-time URL's token: it opens page until expires.
type urlToken struct {
	page    string
	expires time.Time
}

// session is what a browser's cookie stands for.
type session struct {
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
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{b: b, opts: opts, tokens: map[string]urlToken{}, sessions: map[string]*session{}}, nil
}

// Start listens on a random port of 127.0.0.1 and serves until ctx ends. It returns once the
// server is listening.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("local ui: listening on 127.0.0.1: %w", err)
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
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logf("local ui: serving: %v", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	return nil
}

// Addr is the address the server listens on ("127.0.0.1:PORT"), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL returns a fresh one-time URL for page ("enrol" or "accounts"): the tray opens it in the
// browser. The token in it works once, within the token TTL.
func (s *Server) URL(page string) (string, error) {
	if !knownPage(page) {
		return "", fmt.Errorf("local ui: no page %q", page)
	}
	tok, err := randomToken()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == "" {
		return "", errors.New("local ui: not started")
	}
	now := s.opts.Now()
	s.pruneLocked(now)
	s.tokens[tok] = urlToken{page: page, expires: now.Add(s.opts.TokenTTL)}
	return "http://" + s.addr + "/" + page + "?t=" + tok, nil
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

// pruneLocked forgets expired tokens and sessions. s.mu must be held.
func (s *Server) pruneLocked(now time.Time) {
	for k, t := range s.tokens {
		if !now.Before(t.expires) {
			delete(s.tokens, k)
		}
	}
	for k, x := range s.sessions {
		if !now.Before(x.expires) {
			delete(s.sessions, k)
		}
	}
}

// cookieName includes the port: cookies are shared by every port of 127.0.0.1, and two
// daemons (two users on one machine, a test) must not overwrite each other's.
func (s *Server) cookieName() string {
	_, port, _ := net.SplitHostPort(s.Addr())
	return "foureyes_ui_" + port
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

// Handler is the server's HTTP handler with every check in front; Start serves it. Until Start
// has fixed the address it refuses everything, since no Host can match.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/enrol", s.page("enrol", s.enrolGet, s.enrolPost))
	mux.HandleFunc("/accounts", s.page("accounts", s.accountsGet, s.accountsPost))
	return s.guard(mux)
}

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
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+addr {
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

// page authenticates a request for one page and dispatches on the method: a GET with a
// one-time token becomes a cookie and a redirect; anything else needs the cookie, and a POST
// also the page's CSRF token.
func (s *Server) page(name string, get, post func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("t") {
			s.exchange(w, r, name)
			return
		}
		sess := s.session(r)
		if sess == nil {
			forbidden(w, "This link has expired or was already used. Open the page again from the foureyes menu in the system tray.")
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

// exchange trades a one-time token for a session cookie and redirects to the bare page URL,
// so the token leaves the address bar and cannot be used again.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request, page string) {
	tok := r.URL.Query().Get("t")
	s.mu.Lock()
	now := s.opts.Now()
	t, ok := s.tokens[tok]
	delete(s.tokens, tok)
	ok = ok && t.page == page && now.Before(t.expires)
	var id string
	if ok {
		var err error
		if id, err = randomToken(); err != nil {
			s.mu.Unlock()
			s.opts.Logf("%v", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		s.sessions[id] = &session{expires: now.Add(s.opts.SessionTTL), csrf: map[string]string{}}
	}
	s.mu.Unlock()
	if !ok {
		forbidden(w, "This link has expired or was already used. Open the page again from the foureyes menu in the system tray.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/"+page, http.StatusSeeOther)
}

// session returns the caller's live session, or nil.
func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.sessions[c.Value]
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
