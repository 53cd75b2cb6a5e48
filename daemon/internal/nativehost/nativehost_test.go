package nativehost

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/bridge"
	"foureyes/shared/protocol"
)

// The admin-socket client is the host's hello source in production, as it is: no adapter.
var _ HelloSource = (*adminsock.Client)(nil)

const (
	chromeID  = "abcdefghijklmnopabcdefghijklmnop"
	chromeOrg = "chrome-extension://" + chromeID
	mozOrigin = "moz-extension://0b7c2a3e-4f51-4c1a-9d0e-6a2b8c9d1e2f"
	addonID   = "foureyes@example.org"
	testToken = "q2x0yqJ1cQ7XbS8pWm3nR4tUv5wXy6zA7bC8dE9fG0h"
	testKey   = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
)

// fakeSource records the origins it was asked for.
type fakeSource struct {
	origins []string
	err     error
}

func (f *fakeSource) BridgeHello(_ context.Context, origin string) (bridge.HostHello, error) {
	f.origins = append(f.origins, origin)
	if f.err != nil {
		return bridge.HostHello{}, f.err
	}
	return bridge.HostHello{Port: 47321, Token: testToken, DaemonKey: testKey,
		Expires: time.Date(2026, 11, 23, 9, 1, 0, 0, time.UTC)}, nil
}

func frame(msg string) []byte {
	var b bytes.Buffer
	if err := WriteMessage(&b, []byte(msg)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// replies splits the host's output into decoded messages.
func replies(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var got []map[string]any
	r := bytes.NewReader(out)
	for {
		msg, err := ReadMessage(r)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("host output is not framed: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(msg, &m); err != nil {
			t.Fatalf("reply %q: %v", msg, err)
		}
		if err := protocol.Validate(protocol.FromHost, msg); err != nil {
			t.Errorf("reply %s does not fit the schema: %v", msg, err)
		}
		got = append(got, m)
	}
}

func code(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestFraming(t *testing.T) {
	var lenOnly [4]byte
	binary.NativeEndian.PutUint32(lenOnly[:], 10)
	var huge [4]byte
	binary.NativeEndian.PutUint32(huge[:], MaxIncoming+1)
	tests := []struct {
		name string
		in   []byte
		want string // "" for success
		err  error
	}{
		{"one message", frame(`{"a":1}`), `{"a":1}`, nil},
		{"empty message", frame(``), ``, nil},
		{"clean end", nil, "", io.EOF},
		{"truncated length", []byte{1, 0}, "", io.ErrUnexpectedEOF},
		{"truncated body", append(lenOnly[:], "abc"...), "", io.ErrUnexpectedEOF},
		{"length only", lenOnly[:], "", io.ErrUnexpectedEOF},
		{"oversize", append(huge[:], "x"...), "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadMessage(bytes.NewReader(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if err := WriteMessage(io.Discard, make([]byte, MaxOutgoing+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteMessage over the limit: %v", err)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Caller
		ok   bool
	}{
		{"chrome", []string{"chrome-extension://" + chromeID + "/"}, Caller{Browser: Chromium, Origin: chromeOrg}, true},
		{"chrome on windows", []string{"chrome-extension://" + chromeID + "/", "--parent-window=0"}, Caller{Browser: Chromium, Origin: chromeOrg}, true},
		{"firefox", []string{"/home/u/.mozilla/native-messaging-hosts/org.foureyes.host.json", addonID},
			Caller{Browser: Firefox, Manifest: "/home/u/.mozilla/native-messaging-hosts/org.foureyes.host.json", AddonID: addonID}, true},
		{"firefox uuid id", []string{"/m/org.foureyes.host.json", "{0b7c2a3e-4f51-4c1a-9d0e-6a2b8c9d1e2f}"},
			Caller{Browser: Firefox, Manifest: "/m/org.foureyes.host.json", AddonID: "{0b7c2a3e-4f51-4c1a-9d0e-6a2b8c9d1e2f}"}, true},
		{"none", nil, Caller{}, false},
		{"subcommand", []string{"daemon"}, Caller{}, false},
		{"chrome without slash", []string{chromeOrg}, Caller{}, false},
		{"chrome bad id", []string{"chrome-extension://ABC/"}, Caller{}, false},
		{"chrome with path", []string{chromeOrg + "/x/"}, Caller{}, false},
		{"chrome extra arg", []string{chromeOrg + "/", "--evil"}, Caller{}, false},
		{"firefox relative manifest", []string{"org.foureyes.host.json", addonID}, Caller{}, false},
		{"firefox bad id", []string{"/m/org.foureyes.host.json", "not an id"}, Caller{}, false},
		{"firefox missing id", []string{"/m/org.foureyes.host.json"}, Caller{}, false},
		{"json config and word", []string{"policy.json", "x"}, Caller{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if Detect(tt.args) != tt.ok {
				t.Errorf("Detect = %v", !tt.ok)
			}
		})
	}
}

func TestRunIdentity(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, ManifestFile)
	m, err := ManifestFor(Firefox, "/usr/bin/foureyes", []string{addonID})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(manifest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	chromeArgs := []string{chromeOrg + "/"}
	firefoxArgs := []string{manifest, addonID}

	tests := []struct {
		name       string
		args       []string
		opts       Options
		msg        string
		wantCode   string // "" for a hello
		wantOrigin string // asked of the daemon
	}{
		{"chrome: own origin", chromeArgs, Options{}, `{"v":1,"type":"hello","origin":"` + chromeOrg + `"}`, "", chromeOrg},
		{"chrome: another extension's origin", chromeArgs, Options{},
			`{"v":1,"type":"hello","origin":"chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"}`, "forbidden", ""},
		{"chrome: a moz origin", chromeArgs, Options{}, `{"v":1,"type":"hello","origin":"` + mozOrigin + `"}`, "forbidden", ""},
		{"chrome: id not in options", chromeArgs, Options{ChromeIDs: []string{"ponmlkjihgfedcbaponmlkjihgfedcba"}},
			`{"v":1,"type":"hello","origin":"` + chromeOrg + `"}`, "forbidden", ""},
		{"firefox: uuid origin, id in manifest", firefoxArgs, Options{}, `{"v":1,"type":"hello","origin":"` + mozOrigin + `"}`, "", mozOrigin},
		{"firefox: id in options", []string{"/nonexistent/org.foureyes.host.json", addonID}, Options{FirefoxIDs: []string{addonID}},
			`{"v":1,"type":"hello","origin":"` + mozOrigin + `"}`, "", mozOrigin},
		{"firefox: id not allowed", []string{manifest, "other@example.org"}, Options{},
			`{"v":1,"type":"hello","origin":"` + mozOrigin + `"}`, "forbidden", ""},
		{"firefox: unreadable manifest", []string{"/nonexistent/org.foureyes.host.json", addonID}, Options{},
			`{"v":1,"type":"hello","origin":"` + mozOrigin + `"}`, "forbidden", ""},
		{"firefox: chrome origin", firefoxArgs, Options{}, `{"v":1,"type":"hello","origin":"` + chromeOrg + `"}`, "forbidden", ""},
		{"firefox: add-on id as origin", firefoxArgs, Options{}, `{"v":1,"type":"hello","origin":"moz-extension://` + addonID + `"}`, "forbidden", ""},
		{"garbage", chromeArgs, Options{}, `not json`, "bad_request", ""},
		{"unknown field", chromeArgs, Options{}, `{"v":1,"type":"hello","origin":"` + chromeOrg + `","port":1}`, "bad_request", ""},
		{"wrong version", chromeArgs, Options{}, `{"v":2,"type":"hello","origin":"` + chromeOrg + `"}`, "unsupported", ""},
		{"wrong type", chromeArgs, Options{}, `{"v":1,"type":"status"}`, "unsupported", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{}
			var out bytes.Buffer
			if err := RunOptions(context.Background(), bytes.NewReader(frame(tt.msg)), &out, tt.args, src, tt.opts); err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := replies(t, out.Bytes())
			if len(got) != 1 {
				t.Fatalf("%d replies, want 1", len(got))
			}
			if c := code(got[0]); c != tt.wantCode {
				t.Errorf("reply %v: code %q, want %q", got[0], c, tt.wantCode)
			}
			if tt.wantCode == "" {
				if got[0]["type"] != "hello" || got[0]["token"] != testToken || got[0]["port"] != 47321.0 ||
					got[0]["daemon_key"] != testKey || got[0]["expires"] != "2026-11-23T09:01:00Z" {
					t.Errorf("hello reply = %v", got[0])
				}
			}
			if strings.Join(src.origins, ",") != tt.wantOrigin {
				t.Errorf("daemon asked for %v, want %q", src.origins, tt.wantOrigin)
			}
		})
	}
}

func TestRunDaemonErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"not running", errors.New("dial unix /run/user/1000/foureyes.sock: connect: no such file or directory"),
			"daemon_unavailable", "the foureyes daemon is not running: start it with `foureyes daemon`"},
		{"coded unavailable", api.Errorf(api.CodeDaemonUnavailable, "socket gone"),
			"daemon_unavailable", "the foureyes daemon is not running: start it with `foureyes daemon`"},
		// The daemon runs but another program holds the bridge port: say that, not "not running".
		{"bridge down", api.Errorf(api.CodeBridgeDown, "the foureyes daemon runs, but the browser cannot reach it: port 127.0.0.1:47617 is held by another program (user mallory); foureyes keeps trying"),
			"bridge_down", "the foureyes daemon runs, but the browser cannot reach it: port 127.0.0.1:47617 is held by another program (user mallory); foureyes keeps trying"},
		{"refused by daemon", api.Errorf(api.CodeForbidden, "extension x is not pinned by policy"), "forbidden", "extension x is not pinned by policy"},
		{"internal", &api.Error{Code: api.CodeInternal, Message: "at /secret"}, "internal", "internal error in the foureyes daemon: see its log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			in := frame(`{"v":1,"id":4,"type":"hello","origin":"` + chromeOrg + `"}`)
			if err := Run(context.Background(), bytes.NewReader(in), &out, []string{chromeOrg + "/"}, &fakeSource{err: tt.err}); err != nil {
				t.Fatal(err)
			}
			got := replies(t, out.Bytes())
			if len(got) != 1 || code(got[0]) != tt.wantCode || got[0]["id"] != 4.0 {
				t.Fatalf("replies = %v, want one %s with id 4", got, tt.wantCode)
			}
			if msg := got[0]["error"].(map[string]any)["message"]; msg != tt.wantMsg {
				t.Errorf("message = %q, want %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestRunStream(t *testing.T) {
	args := []string{chromeOrg + "/"}
	hello := frame(`{"v":1,"type":"hello","origin":"` + chromeOrg + `"}`)
	var huge [4]byte
	binary.NativeEndian.PutUint32(huge[:], MaxIncoming+1)

	t.Run("several messages then end", func(t *testing.T) {
		var out bytes.Buffer
		in := append(append(append([]byte{}, hello...), frame("garbage")...), hello...)
		if err := Run(context.Background(), bytes.NewReader(in), &out, args, &fakeSource{}); err != nil {
			t.Fatal(err)
		}
		got := replies(t, out.Bytes())
		if len(got) != 3 || got[0]["type"] != "hello" || code(got[1]) != "bad_request" || got[2]["type"] != "hello" {
			t.Errorf("replies = %v", got)
		}
	})
	t.Run("oversize stops with too_large", func(t *testing.T) {
		var out bytes.Buffer
		in := append(append([]byte{}, huge[:]...), hello...)
		if err := Run(context.Background(), bytes.NewReader(in), &out, args, &fakeSource{}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Run = %v, want ErrTooLarge", err)
		}
		if got := replies(t, out.Bytes()); len(got) != 1 || code(got[0]) != "too_large" {
			t.Errorf("replies = %v", got)
		}
	})
	t.Run("truncated stream", func(t *testing.T) {
		var out bytes.Buffer
		if err := Run(context.Background(), bytes.NewReader(hello[:len(hello)-3]), &out, args, &fakeSource{}); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Run = %v, want unexpected EOF", err)
		}
		if out.Len() != 0 {
			t.Errorf("wrote %q for a truncated message", out.Bytes())
		}
	})
	t.Run("not started by a browser", func(t *testing.T) {
		src := &fakeSource{}
		var out bytes.Buffer
		if err := Run(context.Background(), bytes.NewReader(hello), &out, []string{"daemon"}, src); err == nil {
			t.Fatal("Run accepted arguments that are not a browser's")
		}
		if out.Len() != 0 || len(src.origins) != 0 {
			t.Error("served a caller the browser did not name")
		}
	})
}

func TestInstallManifest(t *testing.T) {
	home := t.TempDir()
	custom := filepath.Join(t.TempDir(), "profile")
	// Chromium and Firefox have run for this user; Chrome and Edge have not.
	for _, d := range []string{".config/chromium", ".mozilla"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	written, err := InstallManifest(InstallOptions{
		Binary:     "/usr/bin/foureyes",
		ChromeIDs:  []string{chromeID},
		FirefoxIDs: []string{addonID},
		Home:       home,
	})
	if err != nil {
		t.Fatal(err)
	}
	more, err := InstallManifest(InstallOptions{Binary: "/usr/bin/foureyes", ChromeIDs: []string{chromeID},
		Targets: []Target{UserDataDirTarget(custom)}})
	if err != nil {
		t.Fatal(err)
	}
	written = append(written, more...)

	want := map[string]Browser{
		filepath.Join(home, ".config/chromium/NativeMessagingHosts", ManifestFile): Chromium,
		filepath.Join(home, ".mozilla/native-messaging-hosts", ManifestFile):       Firefox,
		filepath.Join(custom, "NativeMessagingHosts", ManifestFile):                Chromium,
	}
	if len(written) != len(want) {
		t.Fatalf("wrote %v, want %d files", written, len(want))
	}
	for _, path := range written {
		b, ok := want[path]
		if !ok {
			t.Errorf("wrote unexpected %s", path)
			continue
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", path, fi.Mode().Perm())
		}
		data, _ := os.ReadFile(path)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s is not JSON: %v", path, err)
		}
		if m["name"] != HostName || m["type"] != "stdio" || m["path"] != "/usr/bin/foureyes" {
			t.Errorf("%s = %s", path, data)
		}
		switch b {
		case Chromium:
			if got, _ := json.Marshal(m["allowed_origins"]); string(got) != `["chrome-extension://`+chromeID+`/"]` || m["allowed_extensions"] != nil {
				t.Errorf("%s: %s", path, data)
			}
		case Firefox:
			if got, _ := json.Marshal(m["allowed_extensions"]); string(got) != `["`+addonID+`"]` || m["allowed_origins"] != nil {
				t.Errorf("%s: %s", path, data)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".config/google-chrome")); err == nil {
		t.Error("created a folder for a browser that never ran")
	}
	// Reinstalling replaces in place and leaves no temporary files behind.
	if _, err := InstallManifest(InstallOptions{Binary: "/opt/foureyes", ChromeIDs: []string{chromeID},
		Targets: []Target{UserDataDirTarget(custom)}}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(custom, "NativeMessagingHosts"))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the manifest only", len(entries))
	}
}

func TestInstallManifestRefuses(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts InstallOptions
	}{
		{"relative binary", InstallOptions{Binary: "foureyes", ChromeIDs: []string{chromeID}, Targets: []Target{UserDataDirTarget(dir)}}},
		{"bad chrome id", InstallOptions{Binary: "/bin/f", ChromeIDs: []string{"xyz"}, Targets: []Target{UserDataDirTarget(dir)}}},
		{"no ids for target", InstallOptions{Binary: "/bin/f", FirefoxIDs: []string{addonID}, Targets: []Target{UserDataDirTarget(dir)}}},
		{"bad firefox id", InstallOptions{Binary: "/bin/f", FirefoxIDs: []string{"no id"}, Targets: []Target{{Firefox, "firefox", dir}}}},
		{"no browser profiles", InstallOptions{Binary: "/bin/f", ChromeIDs: []string{chromeID}, Home: dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if written, err := InstallManifest(tt.opts); err == nil || len(written) != 0 {
				t.Errorf("InstallManifest = %v, %v; want an error and nothing written", written, err)
			}
		})
	}
}

func TestRemoveManifest(t *testing.T) {
	dir := t.TempDir()
	targets := []Target{UserDataDirTarget(dir), {Firefox, "firefox", filepath.Join(dir, "none")}}
	if _, err := InstallManifest(InstallOptions{Binary: "/bin/f", ChromeIDs: []string{chromeID}, Targets: targets[:1]}); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveManifest(targets)
	if err != nil || len(removed) != 1 {
		t.Errorf("RemoveManifest = %v, %v", removed, err)
	}
}

// TestVouchRefusalQuotesOriginShort checks that a refused origin is quoted in at most 80
// characters and never cut inside a multi-byte character.
func TestVouchRefusalQuotesOriginShort(t *testing.T) {
	long := "chrome-extension://" + strings.Repeat("a", 60) + strings.Repeat("ü", 10)
	tests := []struct {
		name   string
		caller Caller
		origin string
		want   string
	}{
		{"chrome: short origin quoted whole", Caller{Browser: Chromium, Origin: chromeOrg}, "chrome-extension://other",
			`origin "chrome-extension://other" is not the extension that started the host`},
		{"chrome: long origin cut between characters", Caller{Browser: Chromium, Origin: chromeOrg}, long,
			`origin "chrome-extension://` + strings.Repeat("a", 60) + `ü…" is not the extension that started the host`},
		{"firefox: long origin cut between characters", Caller{Browser: Firefox, AddonID: addonID}, long,
			`origin "chrome-extension://` + strings.Repeat("a", 60) + `ü…" is not a moz-extension://UUID origin`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := vouch(tt.caller, tt.origin, Options{FirefoxIDs: []string{addonID}})
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != api.CodeForbidden {
				t.Fatalf("vouch = %v, want a forbidden error", err)
			}
			if ae.Message != tt.want {
				t.Errorf("message = %q, want %q", ae.Message, tt.want)
			}
		})
	}
}

func TestFirefoxIDBounds(t *testing.T) {
	for id, want := range map[string]bool{
		"foureyes@foureyes.eu":                   true,
		strings.Repeat("a", 80) + "@" + "b.eu":   true,
		strings.Repeat("a", 81) + "@" + "b.eu":   false,
		"a@" + strings.Repeat("b", 81):           false,
		"{12345678-1234-1234-1234-123456789abc}": true,
		"{12345678-1234-1234-1234-123456789abc":  false,
		"no-at-sign":                             false,
	} {
		if got := IsFirefoxID(id); got != want {
			t.Errorf("IsFirefoxID(%q) = %v, want %v", id, got, want)
		}
	}
}
