package localui

import (
	"context"
	"encoding/base64"
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
	// bodies collects every response body the browser saw.
	bodies *strings.Builder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{b: newFake(), clock: &testClock{now: time.Now()}, bodies: &strings.Builder{}}
	s, err := New(e.b, Options{Now: e.clock.Now, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.s, e.base = s, "http://"+s.Addr()
	return e
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

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
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.base) // what a browser sends for a same-origin form
	return e.do(t, c, req)
}

// open follows the tray's flow: one-time URL, cookie, redirect, page.
func (e *env) open(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	u, err := e.s.URL(page)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := e.get(t, c, u)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/"+page {
		t.Fatalf("token exchange: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := e.get(t, c, e.base+"/"+page)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /%s after exchange: %d", page, resp.StatusCode)
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
	for _, path := range []string{"/enrol", "/accounts", "/enrol?t=", "/enrol?t=made-up"} {
		if resp, _ := e.get(t, c, e.base+path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s without a valid token: %d", path, resp.StatusCode)
		}
	}
	if _, err := e.s.URL("settings"); err == nil {
		t.Error("URL for an unknown page: no error")
	}
}

func TestCookieFlow(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	u, _ := e.s.URL("enrol")
	resp, _ := e.get(t, c, u)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/enrol" {
		t.Fatalf("exchange: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("cookie %q lacks %s", set, want)
		}
	}
	resp, body := e.get(t, c, e.base+"/enrol")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Step 1") {
		t.Fatalf("page after exchange: %d", resp.StatusCode)
	}
	// The cookie opens the other page too, without a new token.
	if resp, _ := e.get(t, c, e.base+"/accounts"); resp.StatusCode != http.StatusOK {
		t.Errorf("accounts with the cookie: %d", resp.StatusCode)
	}
	// A browser without the cookie gets nothing.
	if resp, _ := e.get(t, browser(t), e.base+"/enrol"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("enrol without the cookie: %d", resp.StatusCode)
	}
	// The session ends after its TTL.
	e.clock.Advance(DefaultSessionTTL + time.Second)
	if resp, _ := e.get(t, c, e.base+"/enrol"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("enrol after the session expired: %d", resp.StatusCode)
	}
}

func TestTokenSingleUse(t *testing.T) {
	e := newEnv(t)
	u, _ := e.s.URL("accounts")
	if resp, _ := e.get(t, browser(t), u); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d", resp.StatusCode)
	}
	if resp, _ := e.get(t, browser(t), u); resp.StatusCode != http.StatusForbidden {
		t.Errorf("second use: %d", resp.StatusCode)
	}
}

func TestTokenExpires(t *testing.T) {
	e := newEnv(t)
	u, _ := e.s.URL("enrol")
	e.clock.Advance(DefaultTokenTTL)
	if resp, _ := e.get(t, browser(t), u); resp.StatusCode != http.StatusForbidden {
		t.Errorf("token after 5 minutes: %d", resp.StatusCode)
	}
}

func TestTokenBoundToPage(t *testing.T) {
	e := newEnv(t)
	u, _ := e.s.URL("enrol")
	other := strings.Replace(u, "/enrol?", "/accounts?", 1)
	if resp, _ := e.get(t, browser(t), other); resp.StatusCode != http.StatusForbidden {
		t.Errorf("enrol token on accounts: %d", resp.StatusCode)
	}
}

func TestWrongHostRefused(t *testing.T) {
	e := newEnv(t)
	_, port, _ := strings.Cut(e.s.Addr(), ":")
	for _, host := range []string{"evil.example:" + port, "localhost:" + port, "127.0.0.1", "127.0.0.1:1", "[::1]:" + port} {
		u, _ := e.s.URL("enrol")
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Host = host
		if resp, _ := e.do(t, browser(t), req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("Host %q: %d", host, resp.StatusCode)
		}
	}
}

func TestForeignOriginRefused(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	body := e.open(t, c, "accounts")
	form := url.Values{"csrf": {csrfOf(t, body)}, "op": {"add"}, "platform": {"x"}, "handle": {"ministry"}, "username": {"m"}, "password": {"pw-origin"}}
	for _, origin := range []string{"https://evil.example", "null", "http://localhost:" + strings.Split(e.s.Addr(), ":")[1], "chrome-extension://abcdefghijklmnop"} {
		req, _ := http.NewRequest(http.MethodPost, e.base+"/accounts", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		if resp, _ := e.do(t, c, req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with Origin %q: %d", origin, resp.StatusCode)
		}
		req, _ = http.NewRequest(http.MethodGet, e.base+"/accounts", nil)
		req.Header.Set("Origin", origin)
		if resp, _ := e.do(t, c, req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET with Origin %q: %d", origin, resp.StatusCode)
		}
	}
	if len(e.b.accounts) != 0 {
		t.Error("a refused request added an account")
	}
}

func TestCSRFEnforced(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	accounts := e.open(t, c, "accounts")
	_, enrolBody := e.get(t, c, e.base+"/enrol")
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
		req, _ := http.NewRequest(m, e.base+"/accounts", nil)
		if resp, _ := e.do(t, c, req); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
	// A GET with form values changes nothing.
	e.get(t, c, e.base+"/accounts?op=remove&id=x:ministry&confirm=yes&csrf="+csrfOf(t, accounts))
	if len(e.b.accounts) != 1 {
		t.Error("a GET removed an account")
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	u, _ := e.s.URL("enrol")
	for _, target := range []string{u, e.base + "/enrol", e.base + "/nothing"} {
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
	_, body = e.get(t, c, e.base+"/accounts")
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
	e.get(t, c, e.base+"/accounts")
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
	_, body = e.get(t, c, e.base+"/enrol")
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
