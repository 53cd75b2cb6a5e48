package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/testenv"
)

// Another OS user takes the bridge port before the daemon starts. The daemon runs and says what
// is wrong everywhere: status names the port and who holds it, the trail has a bridge_down
// alarm, and the native host tells the extension the bridge is down (bridge_down), not that
// the daemon is not running. Once the port is free the daemon takes it: bridge_up.
func TestCLIBridgePortSquattedByOtherUser(t *testing.T) {
	needKeyring(t)
	u := testenv.NeedOtherUser(t)
	sq := u.Command([]string{squatterEnv + "=1"}, u.TestBinary(t))
	stdin, err := sq.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sq.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sq.Start(); err != nil {
		t.Fatalf("starting the squatter as %s: %v", u.Name, err)
	}
	freed := false
	free := func() {
		if !freed {
			freed = true
			_ = stdin.Close()
			_ = sq.Wait()
		}
	}
	t.Cleanup(free)
	line, err := bufio.NewReader(out).ReadString('\n')
	port, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("the squatter: %q %v %v", line, err, perr)
	}

	c := newCLI(t)
	if err := os.WriteFile(filepath.Join(c.home, "no-policy.json"), []byte(fmt.Sprintf(`{"version":1,"audit":{"syslog":false},"bridge_port":%d}`, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.startDaemon()
	held := fmt.Sprintf("port 127.0.0.1:%d is held by another program (PID %d ", port, sq.Process.Pid)
	// The bridge is bound after the admin socket answers: wait until the daemon has tried.
	st, _, code := c.run("", "status")
	for deadline := time.Now().Add(10 * time.Second); code == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		st, _, code = c.run("", "status")
	}
	if code != exitRefused || !strings.Contains(st, "browser bridge down: "+held) || !strings.Contains(st, "user "+u.Name+")") {
		t.Fatalf("status with the port taken by %s: exit %d\n%s", u.Name, code, st)
	}
	trail := func() string {
		b, err := os.ReadFile(filepath.Join(c.home, "audit.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if tr := trail(); !strings.Contains(tr, `"event":"bridge_down","severity":"high"`) || !strings.Contains(tr, held) {
		t.Fatalf("no bridge_down alarm in the trail:\n%s", trail())
	}
	const origin = "chrome-extension://" + policy.DefaultExtensionID
	reply := c.nativeHello(origin)
	e, _ := reply["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if reply["type"] != "error" || e["code"] != "bridge_down" || !strings.Contains(msg, held) || !strings.Contains(msg, u.Name) || strings.Contains(msg, "not running") {
		t.Fatalf("native host's answer with the port taken: %v", reply)
	}
	t.Logf("status: %s\nnative host: %s", strings.TrimSpace(st), msg)

	free()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, _, code := c.run("", "status"); code == exitOK {
			break
		}
		if time.Now().After(deadline) {
			st, _, _ := c.run("", "status")
			t.Fatalf("the daemon did not take the freed port:\n%s", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(trail(), `"event":"bridge_up"`) {
		t.Errorf("no bridge_up line in the trail once the port was free:\n%s", trail())
	}
	if reply := c.nativeHello(origin); reply["type"] != "hello" {
		t.Errorf("native host's answer once the bridge is up: %v", reply)
	}
}
