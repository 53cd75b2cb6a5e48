package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// bridgeClientEnv makes the test binary a browser extension's stand-in: run as another OS user
// by the service tests, it dials the bridge with the token and origin it is given, sends a
// hello and, if asked, one request, and prints each reply as a JSON line.
const bridgeClientEnv = "FOUREYES_TEST_BRIDGE_CLIENT"

func bridgeClient() int {
	hdr := http.Header{}
	hdr.Set("Origin", os.Getenv("FE_ORIGIN"))
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial("ws://127.0.0.1:"+os.Getenv("FE_PORT")+"/v1", hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		fmt.Printf("{\"dial_error\":%q,\"status\":%d}\n", err.Error(), status)
		return 0
	}
	defer func() { _ = ws.Close() }()
	nonce := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef-nonce"))
	msgs := []map[string]any{{"v": 1, "id": 1, "type": "hello", "token": os.Getenv("FE_TOKEN"), "nonce": nonce}}
	if acc := os.Getenv("FE_ACCOUNT"); acc != "" {
		msgs = append(msgs, map[string]any{"v": 1, "id": 2, "type": "request", "account": acc, "action": "post", "text": os.Getenv("FE_TEXT")})
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for _, m := range msgs {
		if err := ws.WriteJSON(m); err != nil {
			fmt.Printf("{\"write_error\":%q}\n", err.Error())
			return 0
		}
		for {
			var reply map[string]any
			if err := ws.ReadJSON(&reply); err != nil {
				fmt.Printf("{\"read_error\":%q}\n", err.Error())
				return 0
			}
			if reply["type"] == "event" {
				continue // status pushes, not an answer
			}
			b, _ := json.Marshal(reply)
			fmt.Println(string(b))
			if reply["type"] == "error" {
				return 0
			}
			break
		}
	}
	return 0
}

// Which admin socket a command talks to: FOUREYES_SOCKET, then FOUREYES_HOME's, then this
// user's own daemon when it answers, then the service's socket when it is there.
func TestSocketDiscovery(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg"))
	own := filepath.Join(dir, "xdg", "foureyes", socketName)
	old := systemSocket
	systemSocket = filepath.Join(dir, "run", "foureyes.sock")
	t.Cleanup(func() { systemSocket = old })
	vars := map[string]string{}
	e := &env{getenv: func(k string) string { return vars[k] }}
	want := func(what, p string) {
		t.Helper()
		got, err := e.socketPath()
		if err != nil || got != p {
			t.Fatalf("%s: %q %v, want %s", what, got, err, p)
		}
	}
	want("nothing runs", own)
	listen := func(p string) net.Listener {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	sys := listen(systemSocket)
	defer func() { _ = sys.Close() }()
	want("only the service runs", systemSocket)
	ownL := listen(own)
	want("the user's own daemon runs too", own)
	_ = ownL.Close()
	want("the user's daemon stopped", systemSocket)
	vars["FOUREYES_HOME"] = filepath.Join(dir, "home")
	want("FOUREYES_HOME", filepath.Join(dir, "home", socketName))
	vars["FOUREYES_SOCKET"] = filepath.Join(dir, "elsewhere.sock")
	want("FOUREYES_SOCKET", filepath.Join(dir, "elsewhere.sock"))
}

// The service refuses a state folder other users may read, naming it and the fix, before it
// writes anything there.
func TestServiceRefusesOpenStateFolder(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(e, []string{"service", "--state-dir", state, "--socket", filepath.Join(dir, "s.sock"), "--policy", filepath.Join(dir, "p.json")})
	if code != exitRefused || !strings.Contains(errb.String(), "chmod 700 "+state) {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Fatalf("the service wrote into the open folder: %v", ents)
	}
}
