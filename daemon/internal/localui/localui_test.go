package localui

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/testenv"
)

// fakeBackend keeps approvers and accounts in memory and checks TOTP codes like the engine
// would. Methods the pages never call panic through the nil embedded interface.
type fakeBackend struct {
	api.Backend
	mu        sync.Mutex
	approvers map[string]api.Approver
	secrets   map[string]string
	accounts  map[string]api.Account
	passwords map[string]string
	enrolled  []string // every EnrollApprover id, to see replacements
	by        []api.Authority
}

func newFake() *fakeBackend {
	return &fakeBackend{
		approvers: map[string]api.Approver{}, secrets: map[string]string{},
		accounts: map[string]api.Account{}, passwords: map[string]string{},
	}
}

func (f *fakeBackend) EnrollApprover(_ context.Context, n api.NewApprover) (api.Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "foureyes", AccountName: n.ID})
	if err != nil {
		return api.Enrollment{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := api.Approver{ID: n.ID, Name: n.Name, OSUser: n.OSUser, Enrolled: time.Now()}
	f.approvers[n.ID], f.secrets[n.ID] = a, key.Secret()
	f.enrolled = append(f.enrolled, n.ID)
	f.by = append(f.by, n.By)
	return api.Enrollment{Approver: a, URI: key.URL(), Secret: key.Secret()}, nil
}

func (f *fakeBackend) ConfirmApprover(_ context.Context, id, code string) (api.Approver, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.approvers[id]
	if !ok {
		return api.Approver{}, api.Errorf(api.CodeNotFound, "no approver %s", id)
	}
	if !totp.Validate(code, f.secrets[id]) {
		return api.Approver{}, api.Errorf(api.CodeBadCode, "wrong code")
	}
	a.Confirmed = true
	f.approvers[id] = a
	return a, nil
}

func (f *fakeBackend) ListApprovers(context.Context) ([]api.Approver, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Approver
	for _, a := range f.approvers {
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeBackend) AddAccount(_ context.Context, n api.NewAccount) (api.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := n.Platform + ":" + n.Handle
	if _, ok := f.accounts[id]; ok {
		// A careless backend that quotes its input: the page must still not show the password.
		return api.Account{}, api.Errorf(api.CodeExists, "account %s exists (password %s)", id, n.Password)
	}
	a := api.Account{ID: id, Platform: n.Platform, Handle: n.Handle, Username: n.Username, Has2FA: n.TOTPSeed != "", Added: time.Now()}
	f.accounts[id], f.passwords[id] = a, n.Password
	return a, nil
}

func (f *fakeBackend) SetAccountPassword(_ context.Context, id, pw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.accounts[id]; !ok {
		return api.Errorf(api.CodeNotFound, "no account %s", id)
	}
	f.passwords[id] = pw
	return nil
}

func (f *fakeBackend) ListAccounts(context.Context) ([]api.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Account
	for _, a := range f.accounts {
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeBackend) RemoveAccount(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.accounts[id]; !ok {
		return api.Errorf(api.CodeNotFound, "no account %s", id)
	}
	delete(f.accounts, id)
	delete(f.passwords, id)
	return nil
}

// testClock is a settable clock for token expiry.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	s     *Server
	b     *fakeBackend
	clock *testClock
	base  string
	// sess is the secret path prefix of the page the last open reached ("/s/<id>").
	sess string
	// bodies collects every response body the browser saw.
	bodies *strings.Builder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{b: newFake(), clock: &testClock{now: time.Now()}, bodies: &strings.Builder{}}
	s, err := New(e.b, Options{Now: e.clock.Now, Logf: t.Logf, HandoffDir: filepath.Join(t.TempDir(), "run", "foureyes")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.s, e.base = s, "http://"+s.Addr()
	return e
}

// browser is an HTTP client with a cookie jar (to see that nothing ever lands in it) that does
// not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// url is the address of path on the page last opened.
func (e *env) url(path string) string { return e.base + e.sess + path }

func (e *env) do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.bodies.Write(b)
	if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("%s %s: sets a cookie %q", req.Method, req.URL.Path, c)
	}
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s %s: CORS header %s sent", req.Method, req.URL.Path, k)
		}
	}
	return resp, string(b)
}

func (e *env) get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return e.do(t, c, req)
}

func (e *env) post(t *testing.T, c *http.Client, path string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.base) // what a browser sends for a same-origin form
	return e.do(t, c, req)
}

// handoff asks for a handoff file as the tray does and returns its path and the token in it.
func (e *env) handoff(t *testing.T, page string) (path, token string) {
	t.Helper()
	u, err := e.s.Handoff(page)
	if err != nil {
		t.Fatal(err)
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "file" {
		t.Fatalf("handoff URL %q is not a file URL (%v)", u, err)
	}
	b, err := os.ReadFile(p.Path)
	if err != nil {
		t.Fatal(err)
	}
	m := handoffRE.FindStringSubmatch(string(b))
	if m == nil || m[1] != e.base+"/open" {
		t.Fatalf("handoff file does not post a token to %s/open:\n%s", e.base, b)
	}
	return p.Path, m[2]
}

var handoffRE = regexp.MustCompile(`<form id="f" method="post" action="([^"]+)">\s*<input type="hidden" name="t" value="([^"]+)">`)

// redeem posts a handoff token as the handoff file does (a file:// page's Origin is "null").
func (e *env) redeem(t *testing.T, c *http.Client, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/open", strings.NewReader(url.Values{"t": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "null")
	resp, _ := e.do(t, c, req)
	return resp
}

// open follows the tray's flow: handoff file, token posted, redirect to the page's secret
// address, page. It remembers the address in e.sess.
func (e *env) open(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	_, tok := e.handoff(t, page)
	resp := e.redeem(t, c, tok)
	loc := resp.Header.Get("Location")
	m := regexp.MustCompile(`^(/s/[A-Za-z0-9_-]{43})/` + page + `$`).FindStringSubmatch(loc)
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("token redeemed: %d to %q", resp.StatusCode, loc)
	}
	e.sess = m[1]
	resp, body := e.get(t, c, e.url("/"+page))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", loc, resp.StatusCode)
	}
	return body
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no csrf token in page")
	}
	return m[1]
}

func TestTokenRequired(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	for _, path := range []string{"/s/made-up/enrol", "/s/made-up/accounts", "/open"} {
		if resp, _ := e.get(t, c, e.base+path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/enrol", "/accounts", "/s/enrol"} {
		if resp, _ := e.get(t, c, e.base+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	for _, tok := range []string{"", "made-up"} {
		if resp := e.redeem(t, c, tok); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /open with token %q: %d", tok, resp.StatusCode)
		}
	}
	if _, err := e.s.Handoff("settings"); err == nil {
		t.Error("handoff for an unknown page: no error")
	}
}

// The tray's flow without cookies: a private handoff file whose token never appears in its
// URL, posted once for a page address whose path is its secret; the file is gone once used.
func TestHandoffFlow(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	path, tok := e.handoff(t, "enrol")
	dir := filepath.Dir(path)
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}
	if strings.Contains(path, tok) || strings.Contains(fileURL(path), tok) {
		t.Fatal("the token is in the handoff file's URL")
	}
	resp := e.redeem(t, c, tok)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/s/") || !strings.HasSuffix(loc, "/enrol") || strings.Contains(loc, tok) {
		t.Fatalf("redeemed: %d to %q", resp.StatusCode, loc)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the handoff file is still there after its token was used (%v)", err)
	}
	e.sess = strings.TrimSuffix(loc, "/enrol")
	resp, body := e.get(t, c, e.url("/enrol"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Step 1") || !strings.Contains(body, `action="`+e.sess+`/enrol"`) {
		t.Fatalf("page after redeeming: %d", resp.StatusCode)
	}
	// The address opens the other page too, without a new token.
	if resp, _ := e.get(t, c, e.url("/accounts")); resp.StatusCode != http.StatusOK {
		t.Errorf("accounts at the same address: %d", resp.StatusCode)
	}
	if cs := c.Jar.Cookies(&url.URL{Scheme: "http", Host: e.s.Addr(), Path: "/"}); len(cs) != 0 {
		t.Errorf("the browser holds cookies: %v", cs)
	}
	// Another secret address gets nothing.
	if resp, _ := e.get(t, c, e.base+"/s/"+strings.Repeat("A", 43)+"/enrol"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a made-up address: %d", resp.StatusCode)
	}
	// The address ends after its TTL.
	e.clock.Advance(DefaultSessionTTL + time.Second)
	if resp, _ := e.get(t, c, e.url("/enrol")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("enrol after the address expired: %d", resp.StatusCode)
	}
}

// Stale handoff files of an earlier run are removed at start (not those young enough to be
// another instance's), and a folder other users could enter is made private.
func TestHandoffDirKeptPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "foureyes")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "open-0011223344556677.html")
	fresh := filepath.Join(dir, "open-8899aabbccddeeff.html") // another daemon's, still valid
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("a handoff"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-DefaultTokenTTL - time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s, err := New(newFake(), Options{HandoffDir: dir, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("handoff folder mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a stale handoff file survived the start (%v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a handoff file younger than a token's life was removed (%v)", err)
	}
}

func TestTokenSingleUse(t *testing.T) {
	e := newEnv(t)
	_, tok := e.handoff(t, "accounts")
	if resp := e.redeem(t, browser(t), tok); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d", resp.StatusCode)
	}
	if resp := e.redeem(t, browser(t), tok); resp.StatusCode != http.StatusForbidden {
		t.Errorf("second use: %d", resp.StatusCode)
	}
}

func TestTokenExpires(t *testing.T) {
	e := newEnv(t)
	path, tok := e.handoff(t, "enrol")
	e.clock.Advance(DefaultTokenTTL)
	if resp := e.redeem(t, browser(t), tok); resp.StatusCode != http.StatusForbidden {
		t.Errorf("token after 5 minutes: %d", resp.StatusCode)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the expired token's handoff file is still there (%v)", err)
	}
}

func TestWrongHostRefused(t *testing.T) {
	e := newEnv(t)
	_, port, _ := strings.Cut(e.s.Addr(), ":")
	_, tok := e.handoff(t, "enrol")
	for _, host := range []string{"evil.example:" + port, "localhost:" + port, "127.0.0.1", "127.0.0.1:1", "[::1]:" + port} {
		req, _ := http.NewRequest(http.MethodPost, e.base+"/open", strings.NewReader("t="+tok))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Host = host
		if resp, _ := e.do(t, browser(t), req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("Host %q: %d", host, resp.StatusCode)
		}
	}
	// The refused requests did not use the token up.
	if resp := e.redeem(t, browser(t), tok); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the token after requests with a wrong Host: %d", resp.StatusCode)
	}
}

func TestForeignOriginRefused(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	body := e.open(t, c, "accounts")
	form := url.Values{"csrf": {csrfOf(t, body)}, "op": {"add"}, "platform": {"x"}, "handle": {"ministry"}, "username": {"m"}, "password": {"pw-origin"}}
	for _, origin := range []string{"", "https://evil.example", "null", "http://localhost:" + strings.Split(e.s.Addr(), ":")[1], "chrome-extension://abcdefghijklmnop"} {
		req, _ := http.NewRequest(http.MethodPost, e.url("/accounts"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		if resp, _ := e.do(t, c, req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with Origin %q: %d", origin, resp.StatusCode)
		}
		if origin == "" || origin == "null" {
			continue // a browser loading the page, or following the handoff's redirect
		}
		req, _ = http.NewRequest(http.MethodGet, e.url("/accounts"), nil)
		req.Header.Set("Origin", origin)
		if resp, _ := e.do(t, c, req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET with Origin %q: %d", origin, resp.StatusCode)
		}
	}
	if len(e.b.accounts) != 0 {
		t.Error("a refused request added an account")
	}
	// A web page redeeming a token: only a file:// page ("null") or the server's own pages may.
	_, tok := e.handoff(t, "enrol")
	req, _ := http.NewRequest(http.MethodPost, e.base+"/open", strings.NewReader("t="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := e.do(t, c, req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /open from another site: %d", resp.StatusCode)
	}
}

func TestCSRFEnforced(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	accounts := e.open(t, c, "accounts")
	_, enrolBody := e.get(t, c, e.url("/enrol"))
	add := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "op": {"add"}, "platform": {"x"}, "handle": {"ministry"}, "username": {"m"}, "password": {"pw-csrf"}}
	}
	for name, tok := range map[string]string{"missing": "", "wrong": "AAAA", "other page's": csrfOf(t, enrolBody)} {
		if resp, _ := e.post(t, c, "/accounts", add(tok)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s csrf token: %d", name, resp.StatusCode)
		}
	}
	if len(e.b.accounts) != 0 {
		t.Fatal("a request without the right csrf token added an account")
	}
	if resp, _ := e.post(t, c, "/accounts", add(csrfOf(t, accounts))); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("right csrf token: %d", resp.StatusCode)
	}
	// State changes are POST only.
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch} {
		req, _ := http.NewRequest(m, e.url("/accounts"), nil)
		if resp, _ := e.do(t, c, req); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
	// A GET with form values changes nothing.
	e.get(t, c, e.url("/accounts")+"?op=remove&id=x:ministry&confirm=yes&csrf="+csrfOf(t, accounts))
	if len(e.b.accounts) != 1 {
		t.Error("a GET removed an account")
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	e.open(t, c, "enrol")
	for _, target := range []string{e.base + "/open", e.url("/enrol"), e.base + "/nothing"} {
		resp, _ := e.get(t, c, target)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "img-src data:", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", target, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP allows script or inline code: %q", target, csp)
		}
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: cache %q frame %q", target, resp.Header.Get("Cache-Control"), resp.Header.Get("X-Frame-Options"))
		}
	}
}

func TestPasswordNeverInResponses(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	const pw, seed, pw2 = "Sup3r-Secret-pw!", "JBSWY3DPEHPK3PXP", "N3w-Reset-pw?"
	body := e.open(t, c, "accounts")
	csrf := csrfOf(t, body)
	add := url.Values{"csrf": {csrf}, "op": {"add"}, "platform": {"mastodon"}, "handle": {"ministry"}, "username": {"press@ministry.example"}, "password": {pw}, "totp_seed": {seed}}
	if resp, _ := e.post(t, c, "/accounts", add); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", resp.StatusCode)
	}
	_, body = e.get(t, c, e.url("/accounts"))
	if !strings.Contains(body, "Added mastodon:ministry") || !strings.Contains(body, "press@ministry.example") {
		t.Error("account list does not show the new account")
	}
	// Adding it again fails, and the backend's error quotes the password.
	resp, body := e.post(t, c, "/accounts", add)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "[hidden]") {
		t.Errorf("duplicate add: %d", resp.StatusCode)
	}
	if resp, _ := e.post(t, c, "/accounts", url.Values{"csrf": {csrf}, "op": {"password"}, "id": {"mastodon:ministry"}, "password": {pw2}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("change password: %d", resp.StatusCode)
	}
	if resp, _ := e.post(t, c, "/accounts", url.Values{"csrf": {csrf}, "op": {"password"}, "id": {"x:nobody"}, "password": {pw2}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("change password of unknown account: %d", resp.StatusCode)
	}
	if e.b.passwords["mastodon:ministry"] != pw2 {
		t.Error("new password did not reach the backend")
	}
	e.get(t, c, e.url("/accounts"))
	if resp, _ := e.post(t, c, "/accounts", url.Values{"csrf": {csrf}, "op": {"remove"}, "id": {"mastodon:ministry"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("remove without confirming: %d", resp.StatusCode)
	}
	if resp, _ := e.post(t, c, "/accounts", url.Values{"csrf": {csrf}, "op": {"remove"}, "id": {"mastodon:ministry"}, "confirm": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("remove: %d", resp.StatusCode)
	}
	if len(e.b.accounts) != 0 {
		t.Error("account not removed")
	}
	all := e.bodies.String()
	for _, secret := range []string{pw, seed, pw2} {
		if strings.Contains(all, secret) {
			t.Errorf("a response body contains the secret %q", secret)
		}
	}
}

// zbarimg decodes the QR code in a PNG file, or skips the test.
func zbarimg(t *testing.T, png []byte) string {
	t.Helper()
	bin := testenv.Program(t, "", "zbar-tools", "zbarimg")
	path := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--quiet", "--raw", path).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// currentCode computes the code an authenticator would show, with oathtool where installed
// (an implementation independent of the one the fake checks with).
func currentCode(t *testing.T, secret string) string {
	t.Helper()
	if bin, err := exec.LookPath("oathtool"); err == nil {
		out, err := exec.Command(bin, "--totp", "-b", secret).Output()
		if err != nil {
			t.Fatalf("oathtool: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

var (
	qrRE     = regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)"`)
	secretRE = regexp.MustCompile(`<span class="secret">([A-Z2-7 ]+)</span>`)
)

func TestEnrolFlow(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	body := e.open(t, c, "enrol")
	csrf := csrfOf(t, body)
	resp, _ := e.post(t, c, "/enrol", url.Values{"csrf": {csrf}, "op": {"enrol"}, "id": {"press-ben"}, "name": {"Ben Press"}, "os_user": {"ben"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enrol: %d", resp.StatusCode)
	}
	_, body = e.get(t, c, e.url("/enrol"))
	for _, want := range []string{"FreeOTP", "Aegis", "Google Authenticator", "Microsoft Authenticator", "2FAS", "RFC 6238"} {
		if !strings.Contains(body, want) {
			t.Errorf("enrol page does not mention %s", want)
		}
	}
	m := qrRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no QR image on the enrol page")
	}
	png, err := decodeBase64(m[1])
	if err != nil {
		t.Fatal(err)
	}
	e.b.mu.Lock()
	secret := e.b.secrets["press-ben"]
	e.b.mu.Unlock()
	uri := zbarimg(t, png)
	if !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Errorf("QR decodes to %q, want the otpauth URI with the secret", uri)
	}
	sm := secretRE.FindStringSubmatch(body)
	if sm == nil || strings.ReplaceAll(sm[1], " ", "") != secret {
		t.Errorf("manual secret shown as %q, want %s", sm, secret)
	}

	// A wrong code keeps the QR code on the page.
	resp, body = e.post(t, c, "/enrol", url.Values{"csrf": {csrf}, "op": {"confirm"}, "id": {"press-ben"}, "code": {"000000"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not accepted") || !qrRE.MatchString(body) {
		t.Errorf("wrong code: %d", resp.StatusCode)
	}
	code := currentCode(t, secret)
	resp, body = e.post(t, c, "/enrol", url.Values{"csrf": {csrf}, "op": {"confirm"}, "id": {"press-ben"}, "code": {code[:3] + " " + code[3:]}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Confirmed.") {
		t.Fatalf("confirm: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, secret) || qrRE.MatchString(body) {
		t.Error("the confirmation page still shows the secret")
	}
	if !e.b.approvers["press-ben"].Confirmed {
		t.Error("approver not confirmed in the backend")
	}
}

func TestReEnrolWarnsFirst(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	if _, err := e.b.EnrollApprover(t.Context(), api.NewApprover{ID: "press-ben", Name: "Ben Press"}); err != nil {
		t.Fatal(err)
	}
	body := e.open(t, c, "enrol")
	if !strings.Contains(body, "press-ben") {
		t.Error("enrolled approvers not listed")
	}
	csrf := csrfOf(t, body)
	form := url.Values{"csrf": {csrf}, "op": {"enrol"}, "id": {"press-ben"}, "name": {"Ben Press"}}
	resp, body := e.post(t, c, "/enrol", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "already enrolled") || !strings.Contains(body, `name="replace" value="yes"`) {
		t.Fatalf("re-enrol without confirming: %d", resp.StatusCode)
	}
	if len(e.b.enrolled) != 1 {
		t.Fatal("the secret was replaced before the warning was confirmed")
	}
	form.Set("replace", "yes")
	if resp, _ := e.post(t, c, "/enrol", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("re-enrol confirmed: %d", resp.StatusCode)
	}
	if len(e.b.enrolled) != 2 {
		t.Error("the secret was not replaced")
	}
}

func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(html.UnescapeString(s))
}

// The add-account form offers the governed platforms of the shared table and names the
// planned ones; a platform that is not governed is refused with the reason.
func TestAccountFormPlatformsFromTable(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	body := e.open(t, c, "accounts")
	for _, want := range []string{`<option value="x">X</option>`, `<option value="mastodon">Mastodon</option>`, "not governed yet: Facebook, Instagram"} {
		if !strings.Contains(body, want) {
			t.Errorf("accounts page lacks %q", want)
		}
	}
	if strings.Contains(body, `<option value="facebook"`) {
		t.Error("a planned platform is offered")
	}
	tests := []struct {
		name, platform, want string
	}{
		{"planned", "facebook", "Facebook is not governed yet: foureyes supports X, Mastodon"},
		{"unknown", "myspace", "unknown platform &#34;myspace&#34;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"csrf": {csrfOf(t, body)}, "op": {"add"}, "platform": {tt.platform}, "handle": {"m"}, "username": {"m"}, "password": {"pw"}}
			resp, got := e.post(t, c, "/accounts", form)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, tt.want) {
				t.Errorf("status %d, body lacks %q", resp.StatusCode, tt.want)
			}
			if len(e.b.passwords) != 0 {
				t.Error("the account was added")
			}
		})
	}
}

// A flood of refused connections makes one report per OS user at first, then at most one per
// ReportEvery with the count since the last.
func TestRefusalsReportedOncePerInterval(t *testing.T) {
	clock := &testClock{now: time.Now()}
	var got []Refusal
	s, err := New(newFake(), Options{Now: clock.Now, Logf: t.Logf, HandoffDir: t.TempDir(), OnRefused: func(r Refusal) { got = append(got, r) }})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.refuse(Refusal{UID: 1001, Remote: "127.0.0.1:1", Reason: "another user"})
	}
	s.refuse(Refusal{UID: 1002, Remote: "127.0.0.1:2", Reason: "another user"})
	clock.Advance(DefaultReportEvery)
	s.refuse(Refusal{UID: 1001, Remote: "127.0.0.1:3", Reason: "another user"})
	want := []Refusal{
		{UID: 1001, Remote: "127.0.0.1:1", Reason: "another user", Count: 1},
		{UID: 1002, Remote: "127.0.0.1:2", Reason: "another user", Count: 1},
		{UID: 1001, Remote: "127.0.0.1:3", Reason: "another user", Count: 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reports %v, want %v", got, want)
	}
}

// A handoff file nobody opens is removed when its token expires.
func TestUnusedHandoffRemoved(t *testing.T) {
	s, err := New(newFake(), Options{TokenTTL: time.Millisecond, Logf: t.Logf, HandoffDir: filepath.Join(t.TempDir(), "foureyes")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, err := s.Handoff("accounts")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	// Waits for the removal; the bound only keeps a broken build from hanging.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(p.Path); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unused handoff file is still there after its token expired")
		}
	}
}

// Once an approver is confirmed, the page asks for a second approver and their code, and hands
// both to the daemon (which checks them); the code is never shown back.
func TestEnrolAsksForASecondApprover(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	body := e.open(t, c, "enrol")
	if strings.Contains(body, "A second approver vouches") {
		t.Fatal("the first enrolment asks for a voucher")
	}
	e.b.mu.Lock()
	e.b.approvers["press-anna"] = api.Approver{ID: "press-anna", Name: "Anna Press", Confirmed: true}
	e.b.approvers["ghost"] = api.Approver{ID: "ghost", Name: "Ghost", Confirmed: true, Unverified: true}
	e.b.mu.Unlock()
	_, body = e.get(t, c, e.url("/enrol"))
	if !strings.Contains(body, "A second approver vouches") || !strings.Contains(body, `<option value="press-anna"`) {
		t.Fatalf("no voucher field:\n%s", body)
	}
	if strings.Contains(body, `<option value="ghost"`) {
		t.Fatal("an unverified approver is offered as a voucher")
	}
	if !strings.Contains(body, "unverified: not in the audit trail") {
		t.Error("the list does not show the unverified approver as such")
	}
	resp, _ := e.post(t, c, "/enrol", url.Values{"csrf": {csrfOf(t, body)}, "op": {"enrol"}, "id": {"press-ben"}, "name": {"Ben Press"},
		"by": {"press-anna"}, "by_code": {"123 456"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enrol: %d", resp.StatusCode)
	}
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if n := len(e.b.by); n != 1 || e.b.by[0] != (api.Authority{Approver: "press-anna", Code: "123456"}) {
		t.Fatalf("the daemon was asked with %+v", e.b.by)
	}
}
