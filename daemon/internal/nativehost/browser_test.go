//go:build linux

package nativehost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/bridge"
	"foureyes/daemon/internal/testenv"
)

// The browser test runs the real chain: Chromium starts this test binary as the native host
// (through a wrapper script), the host fetches a token from a bridge running in the test, and a
// small extension connects over the WebSocket, opens a session and verifies the grant with
// WebCrypto. The Chromium test needs chromium; the Firefox test needs firefox-esr, node and the
// repository's puppeteer-core. Both run only with FOUREYES_BROWSER_TESTS=1.

const helperEnv = "FOUREYES_NATIVEHOST_HELPER" // set: this process is the native host

func TestMain(m *testing.M) {
	if helloURL := os.Getenv(helperEnv); helloURL != "" {
		err := Run(context.Background(), os.Stdin, os.Stdout, os.Args[1:], httpSource{helloURL})
		if err != nil {
			fmt.Fprintln(os.Stderr, "native host:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// httpSource gets hellos from the test process, standing in for the admin socket.
type httpSource struct{ url string }

func (h httpSource) BridgeHello(ctx context.Context, origin string) (bridge.HostHello, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"?origin="+url.QueryEscape(origin), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return bridge.HostHello{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return bridge.HostHello{}, api.Errorf(api.CodeForbidden, "%s", b)
	}
	var hh bridge.HostHello
	err = json.NewDecoder(resp.Body).Decode(&hh)
	return hh, err
}

// browserBackend answers what the test extension asks: the staff half only, as the bridge gets
// from the engine.
type browserBackend struct{ api.Staff }

func (browserBackend) Consume(_ context.Context, u api.Use) (api.Session, error) {
	return api.Session{ID: u.SessionID, RequestID: "r1", Account: "mastodon:@press@social.example", Action: api.ActionPost,
		Digest: u.Digest, ManifestDigest: u.ManifestDigest, Issued: time.Now(), Expires: time.Now().Add(10 * time.Minute), State: api.SessionConsumed}, nil
}

func (browserBackend) Watch(ctx context.Context) (<-chan api.Event, error) {
	ch := make(chan api.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

const testExtensionJS = `
const D = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
const ACCOUNT = "mastodon:@press@social.example";
// One report only: the close that follows a result must not be taken for the result.
let reported = false;
const report = (r) => { if (!reported) { reported = true; fetch(REPORT, {method: "POST", body: JSON.stringify(r)}); } };
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
(async () => {
  try {
    const h = await chrome.runtime.sendNativeMessage("org.foureyes.host", {v: 1, type: "hello", origin: location.origin});
    if (h.type !== "hello") return report({stage: "host", reply: h});
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const nonce = btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const ws = new WebSocket("ws://127.0.0.1:" + h.port + "/v1");
    const replies = [];
    ws.onopen = () => ws.send(JSON.stringify({v: 1, id: 1, type: "hello", token: h.token, nonce}));
    ws.onclose = (e) => report({stage: "closed", code: e.code, replies});
    ws.onmessage = async (e) => {
      const m = JSON.parse(e.data);
      replies.push(m);
      if (m.id === 1) ws.send(JSON.stringify({v: 1, id: 2, type: "open", session_id: "s1", account: ACCOUNT, action: "post", digest: D, manifest_digest: D}));
      if (m.id === 2 && m.type !== "grant") {
        report({stage: "open", replies});
        ws.close();
      }
      if (m.id === 2 && m.type === "grant") {
        const g = m.grant;
        const key = await crypto.subtle.importKey("raw", b64(h.daemon_key), {name: "Ed25519"}, false, ["verify"]);
        const signed = ["foureyes-grant-v2", g.session_id, g.account, g.action, g.digest, g.manifest_digest, String(g.expires), g.nonce].join("\n");
        const ok = await crypto.subtle.verify({name: "Ed25519"}, key, b64(g.sig), new TextEncoder().encode(signed));
        const tampered = await crypto.subtle.verify({name: "Ed25519"}, key, b64(g.sig), new TextEncoder().encode(signed + "x"));
        report({stage: "done", verified: ok && g.nonce === nonce, tampered, origin: location.origin, replies});
        ws.close();
      }
    };
  } catch (err) {
    report({stage: "exception", error: String(err)});
  }
})();
`

// chain is the daemon side of a browser test: a bridge, the hello endpoint the helper host
// calls, and the endpoint the extension and the page report to.
type chain struct {
	srv     *bridge.Server
	tmp     string
	self    string // this test binary, started by the browser as the host
	reports chan map[string]any
	report  string // URL the extension reports to
	page    string // URL of a web page that tries the bridge
	hellos  string // URL the helper host asks for hellos
}

func newChain(t *testing.T, chromeIDs []string) *chain {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &chain{tmp: t.TempDir(), self: self, reports: make(chan map[string]any, 4)}
	c.srv, err = bridge.New(bridge.Config{
		ChromeIDs: func() []string { return chromeIDs },
		Backend:   func(api.Caller) api.Staff { return browserBackend{} },
		Owner:     api.Caller{OSUser: "test"},
		Logf:      t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = c.srv.Serve(ctx) }()
	wsURL := "ws://" + c.srv.Addr() + bridge.Path

	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			// A web page on the loopback address tries the bridge: it must never get in.
			_, _ = fmt.Fprintf(w, pageHTML, wsURL)
		case "/report":
			var m map[string]any
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				m = map[string]any{"stage": "unreadable report", "error": err.Error()}
			}
			c.reports <- m
		default:
			http.NotFound(w, r) // the browser's own requests, such as /favicon.ico
		}
	}))
	t.Cleanup(rs.Close)
	c.report, c.page = rs.URL+"/report", rs.URL+"/page"

	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hh, err := c.srv.Hello(r.URL.Query().Get("origin"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(hh)
	}))
	t.Cleanup(hs.Close)
	c.hellos = hs.URL
	return c
}

// writeExtension writes the test extension into dir with the given manifest.
func (c *chain) writeExtension(t *testing.T, dir, manifest string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	js := "const REPORT = " + fmt.Sprintf("%q", c.report) + ";\n" + testExtensionJS
	for name, body := range map[string]string{"manifest.json": manifest, "bg.js": js} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hostWrapper writes the script the browser starts: this test binary in host mode.
func (c *chain) hostWrapper(t *testing.T) string {
	t.Helper()
	path := filepath.Join(c.tmp, "foureyes-host")
	wrapper := fmt.Sprintf("#!/bin/sh\n%s=%s exec %s \"$@\"\n", helperEnv, c.hellos, c.self)
	if err := os.WriteFile(path, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs a browser (or its driver) in its own process group, stopped at cleanup.
func start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM first: puppeteer then closes the Firefox it started in a group of its own.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

// expect waits for the extension's and the page's reports.
func (c *chain) expect(t *testing.T, origin func(string) bool, page bool) {
	t.Helper()
	sawExtension, sawPage := false, !page
	for !sawExtension || !sawPage {
		select {
		case r := <-c.reports:
			t.Logf("report: %v", r)
			if r["stage"] == "page" {
				sawPage = true
				if r["opened"] != false {
					t.Errorf("a web page opened the bridge: %v", r)
				}
				continue
			}
			sawExtension = true
			o, _ := r["origin"].(string)
			if r["stage"] != "done" || r["verified"] != true || r["tampered"] != false || !origin(o) {
				t.Errorf("extension reported %v", r)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("no report (extension %v, page %v)", sawExtension, sawPage)
		}
	}
}

func browserTests(t *testing.T) {
	t.Helper()
	testenv.Enabled(t, "FOUREYES_BROWSER_TESTS", "runs the native host against real browsers; make test sets it")
}

func TestChromiumEndToEnd(t *testing.T) {
	browserTests(t)
	chromium := testenv.Program(t, "FOUREYES_CHROMIUM", "chromium", "chromium")
	tmp := t.TempDir()
	ext, udd, home := filepath.Join(tmp, "ext"), filepath.Join(tmp, "profile"), filepath.Join(tmp, "home")
	// An unpacked extension's ID is the first 32 hex digits of sha256(path), mapped 0-f to a-p.
	sum := sha256.Sum256([]byte(ext))
	id := strings.Map(func(r rune) rune {
		if r <= '9' {
			return 'a' + r - '0'
		}
		return 'a' + 10 + r - 'a'
	}, hex.EncodeToString(sum[:])[:32])

	c := newChain(t, []string{id})
	c.writeExtension(t, ext, `{"manifest_version":3,"name":"foureyes bridge test","version":"1",
		"permissions":["nativeMessaging"],"host_permissions":["http://127.0.0.1/*"],
		"background":{"service_worker":"bg.js"}}`)
	if _, err := InstallManifest(InstallOptions{Binary: c.hostWrapper(t), ChromeIDs: []string{id},
		Targets: []Target{UserDataDirTarget(udd)}}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromium, "--headless=new", "--no-sandbox", "--user-data-dir="+udd,
		"--disable-extensions-except="+ext, "--load-extension="+ext, "--no-first-run",
		"--disable-background-networking", "--disable-component-update", c.page)
	cmd.Env = append(os.Environ(), "HOME="+home)
	start(t, cmd)
	c.expect(t, func(o string) bool { return o == "chrome-extension://"+id }, true)
}

// firefoxScript installs the extension as a temporary add-on through WebDriver BiDi.
const firefoxScript = `
const { createRequire } = require("node:module");
const req = createRequire(process.env.MODULES + "/");
const puppeteer = req("puppeteer-core");
(async () => {
  const browser = await puppeteer.launch({browser: "firefox", executablePath: process.env.FIREFOX, headless: true,
    env: {...process.env, HOME: process.env.FHOME}});
  await browser.installExtension(process.env.EXT);
  const page = await browser.newPage();
  await page.goto(process.env.PAGE);
  await new Promise(() => {}); // the Go test kills us
})().catch((e) => { console.error(e); process.exit(1); });
`

func TestFirefoxEndToEnd(t *testing.T) {
	browserTests(t)
	firefox := testenv.Program(t, "FOUREYES_FIREFOX", "firefox-esr", "firefox-esr")
	node := testenv.Program(t, "", "nodejs", "node")
	modules := ""
	for dir, _ := os.Getwd(); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "extension", "node_modules", "puppeteer-core")); err == nil {
			modules = filepath.Join(dir, "extension", "node_modules")
			break
		}
	}
	if modules == "" {
		testenv.Need(t, "puppeteer-core", "cd extension && npm ci")
	}
	const addon = "bridge-test@foureyes.example"
	tmp := t.TempDir()
	ext, home := filepath.Join(tmp, "ext"), filepath.Join(tmp, "home")
	c := newChain(t, nil)
	c.writeExtension(t, ext, `{"manifest_version":3,"name":"foureyes bridge test","version":"1",
		"permissions":["nativeMessaging"],"host_permissions":["http://127.0.0.1/*"],
		"background":{"scripts":["bg.js"]},
		"content_security_policy":{"extension_pages":"script-src 'self'"},
		"browser_specific_settings":{"gecko":{"id":"`+addon+`"}}}`)
	// Firefox reads the user's manifest directory under $HOME.
	if _, err := InstallManifest(InstallOptions{Binary: c.hostWrapper(t), FirefoxIDs: []string{addon},
		Home: home, Force: true}); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(tmp, "firefox.cjs")
	if err := os.WriteFile(script, []byte(firefoxScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), "MODULES="+modules, "FIREFOX="+firefox, "FHOME="+home, "EXT="+ext, "PAGE="+c.page)
	start(t, cmd)
	c.expect(t, bridge.IsMozOrigin, true)
}

const pageHTML = `<!doctype html><script>
const ws = new WebSocket(%q);
let opened = false;
ws.onopen = () => { opened = true; ws.send('{"v":1,"id":1,"type":"status"}'); };
ws.onclose = (e) => fetch("/report", {method: "POST", body: JSON.stringify({stage: "page", opened, code: e.code})});
</script>`
