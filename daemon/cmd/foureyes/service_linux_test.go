package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	byteorder "encoding/binary"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/testenv"
)

// svc is a `foureyes service` started by the test (as root, as CI runs), with its state, socket
// and policy in a temporary folder every user may enter, so that only the service's own modes
// keep a staff user out.
type svc struct {
	t                   *testing.T
	bin                 string
	root, state, socket string
	port                int
	proc                *exec.Cmd
	logs                *logBuffer
	staff               testenv.OtherUser
}

// startService starts the service as root; env is added to its environment
// (CREDENTIALS_DIRECTORY).
func startService(t *testing.T, env ...string) *svc {
	t.Helper()
	return startServiceAs(t, nil, env...)
}

// startServiceAs starts the service as runAs (as systemd runs it as the `foureyes` user), or as
// root when runAs is nil. The state and socket folders are made for that user first, as
// systemd's StateDirectory= and RuntimeDirectory= do.
func startServiceAs(t *testing.T, runAs *testenv.OtherUser, env ...string) *svc {
	t.Helper()
	staff := testenv.NeedOtherUser(t)
	testenv.Program(t, "", "oathtool", "oathtool")
	root, err := os.MkdirTemp("", "foureyes-service-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The staff user must be able to run the binary: go test's folders are private to root.
	bin := filepath.Join(root, "foureyes")
	src, err := os.ReadFile(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	pol := fmt.Sprintf(`{"version":1,"audit":{"syslog":false},"default_approvers":["anna","ben"],"bridge_port":%d}`, port)
	if err := os.WriteFile(filepath.Join(root, "policy.json"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &svc{t: t, bin: bin, root: root, state: filepath.Join(root, "state"), socket: filepath.Join(root, "run", "foureyes.sock"),
		port: port, logs: &logBuffer{}, staff: staff}
	args := []string{"service", "--state-dir", s.state, "--socket", s.socket, "--policy", filepath.Join(root, "policy.json")}
	cmd := exec.Command(bin, args...)
	if runAs != nil {
		for dir, mode := range map[string]os.FileMode{s.state: 0o700, filepath.Dir(s.socket): 0o755} {
			if err := os.Mkdir(dir, mode); err != nil {
				t.Fatal(err)
			}
			if err := runAs.Own(dir, mode); err != nil {
				t.Fatal(err)
			}
		}
		cmd = runAs.Command(nil, bin, args...)
	}
	// A staff member's FOUREYES_POLICY must not reach the service: set one that would fail.
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "FOUREYES_POLICY=" + filepath.Join(root, "missing.json")}, env...)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.proc = cmd
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.logs)
		}
	})
	// Ready when the socket answers and the bridge listens (readiness, not a timing).
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, _, code := s.root_("", "status", "--json")
		if code == exitOK && strings.Contains(out, fmt.Sprintf(`"127.0.0.1:%d"`, port)) && !strings.Contains(out, "bridge_error") {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				_ = c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not become ready (status exit %d):\n%s\n%s", code, out, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// logBuffer is the service's output, written by its process's copier and read by the test.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// root_ runs a command as root (IT at the machine), against the service's socket.
func (s *svc) root_(stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "FOUREYES_SOCKET=" + s.socket, "HOME=" + s.root}
	return runCmd(s.t, cmd, stdin)
}

// asStaff runs a command as the staff user, with nothing of root's environment.
func (s *svc) asStaff(stdin string, args ...string) (string, string, int) {
	cmd := s.staff.Command([]string{"PATH=/usr/bin:/bin", "FOUREYES_SOCKET=" + s.socket, "HOME=/nonexistent"}, s.bin, args...)
	return runCmd(s.t, cmd, stdin)
}

func runCmd(t *testing.T, cmd *exec.Cmd, stdin string) (string, string, int) {
	t.Helper()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", cmd.Args, err)
	}
	return out.String(), errb.String(), code
}

// rootOK and staffOK run a command that must succeed and return its output.
func (s *svc) rootOK(stdin string, args ...string) string {
	s.t.Helper()
	return s.ok("root", s.root_, stdin, args)
}

func (s *svc) staffOK(stdin string, args ...string) string {
	s.t.Helper()
	return s.ok(s.staff.Name, s.asStaff, stdin, args)
}

func (s *svc) ok(who string, run func(string, ...string) (string, string, int), stdin string, args []string) string {
	s.t.Helper()
	out, errs, code := run(stdin, args...)
	if code != 0 {
		s.t.Fatalf("foureyes %s as %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), who, code, out, errs)
	}
	return out
}

func errCode(t *testing.T, out string) string {
	t.Helper()
	var v struct{ Error struct{ Code string } }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not a JSON error: %q", out)
	}
	return v.Error.Code
}

func (s *svc) trail() string {
	b, err := os.ReadFile(filepath.Join(s.state, auditName))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// nativeHost runs the native-messaging host as u (or root when u is nil), as the browser of
// that user would, and returns its answer to hello for origin.
func (s *svc) nativeHost(u *testenv.OtherUser, origin string) map[string]any {
	s.t.Helper()
	msg := []byte(fmt.Sprintf(`{"v":1,"id":1,"type":"hello","origin":%q}`, origin))
	in := append(byteorder.NativeEndian.AppendUint32(nil, uint32(len(msg))), msg...)
	env := []string{"PATH=/usr/bin:/bin", "FOUREYES_SOCKET=" + s.socket, "HOME=/nonexistent"}
	var cmd *exec.Cmd
	if u != nil {
		cmd = u.Command(env, s.bin, origin+"/")
	} else {
		cmd = exec.Command(s.bin, origin+"/")
		cmd.Env = env
	}
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil || len(out) < 4 {
		s.t.Fatalf("native host: %v %q", err, out)
	}
	var reply map[string]any
	if err := json.Unmarshal(out[4:], &reply); err != nil {
		s.t.Fatalf("native host answered %q: %v", out, err)
	}
	return reply
}

// bridgeAs connects to the bridge as u (the test binary run as that user) or as root (u nil),
// presents token, and sends a request for account when it is not empty. It returns the replies.
func (s *svc) bridgeAs(u *testenv.OtherUser, origin, token, account, text string) []map[string]any {
	s.t.Helper()
	env := []string{bridgeClientEnv + "=1", "FE_ORIGIN=" + origin, "FE_TOKEN=" + token,
		"FE_PORT=" + strconv.Itoa(s.port), "FE_ACCOUNT=" + account, "FE_TEXT=" + text}
	var cmd *exec.Cmd
	if u != nil {
		cmd = u.Command(env, u.TestBinary(s.t), "-test.run=^$")
	} else {
		self, err := os.Executable()
		if err != nil {
			s.t.Fatal(err)
		}
		cmd = exec.Command(self, "-test.run=^$")
		cmd.Env = env
	}
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("bridge client: %v %s", err, out)
	}
	var replies []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			s.t.Fatalf("bridge client printed %q", sc.Text())
		}
		replies = append(replies, m)
	}
	return replies
}

// The service as root, a staff member as a real second OS user: the staff member's requests go
// over the system socket and carry their name; the trail, the state, the sealed secrets and the
// key are out of their reach; the trust rules hold for them as for anyone.
func TestServiceStaffUser(t *testing.T) {
	s := startService(t)
	staff := s.staff.Name

	// IT enrols the approvers at the machine (as root); ben is mapped to the staff user.
	t0 := time.Now()
	var anna struct{ Secret string }
	if err := json.Unmarshal([]byte(s.rootOK("\n", "approver", "enroll", "anna", "--name", "Anna", "--json")), &anna); err != nil {
		t.Fatal(err)
	}
	s.rootOK("", "approver", "confirm", "anna", oathtool(t, anna.Secret, t0))
	var ben struct{ Secret string }
	vouch := oathtool(t, anna.Secret, t0.Add(30*time.Second))
	if err := json.Unmarshal([]byte(s.rootOK(vouch+"\n", "approver", "enroll", "ben", "--name", "Ben", "--os-user", staff, "--by", "anna", "--json")), &ben); err != nil {
		t.Fatal(err)
	}
	s.rootOK("", "approver", "confirm", "ben", oathtool(t, ben.Secret, time.Now()))
	s.rootOK("pw-of-the-ministry\n", "account", "add", "--platform", "x", "--handle", "@ministry", "--username", "press@example.org", "--password-stdin")

	// The staff user asks over the system socket; the service names them as the requester.
	var req struct{ ID, Requester string }
	if err := json.Unmarshal([]byte(s.staffOK("Guten Morgen!\n", "request", "--account", "x:@ministry", "--text-file", "-", "--json")), &req); err != nil {
		t.Fatal(err)
	}
	if req.Requester != staff {
		t.Fatalf("request made by %s is attributed to %q", staff, req.Requester)
	}
	// Ben is the staff user: approving their own request is self-approval, refused.
	out, _, code := s.asStaff(oathtool(t, ben.Secret, time.Now().Add(30*time.Second))+"\n", "approve", req.ID, "--approver", "ben", "--json")
	if code == 0 || errCode(t, out) != "self_approval" {
		t.Fatalf("ben (the staff user) approving their own request: exit %d %s", code, out)
	}
	// The staff user cannot enrol an approver of their own without another approver's code.
	out, _, code = s.asStaff("\n", "approver", "enroll", "mallory", "--name", "Mallory", "--json")
	if code == 0 || errCode(t, out) != "second_approver" {
		t.Fatalf("staff enrolling an approver without a code: exit %d %s", code, out)
	}
	// The commands that change what the service holds without an approver's code are IT's:
	// the staff user is refused each one, nothing changes, and every attempt is an alarm.
	for _, args := range [][]string{
		{"account", "add", "--platform", "x", "--handle", "@mine", "--username", "me@example.org", "--password-stdin"},
		{"account", "passwd", "x:@ministry", "--password-stdin"},
		{"account", "remove", "x:@ministry"},
		{"approver", "unlock", "anna"},
		{"radius", "secret"},
	} {
		out, _, code := s.asStaff("chosen-by-staff\n", append(args, "--json")...)
		if code == 0 || errCode(t, out) != "not_permitted" || !strings.Contains(out, "for IT in service mode") {
			t.Errorf("staff ran %v: exit %d %s", args, code, out)
		}
	}
	if n := strings.Count(s.trail(), `"event":"command_refused","severity":"high"`); n != 5 {
		t.Errorf("%d command_refused alarms in the trail, want 5", n)
	}
	if out := s.rootOK("", "account", "list", "--json"); !strings.Contains(out, "x:@ministry") || strings.Contains(out, "@mine") {
		t.Errorf("accounts after the staff user's attempts: %s", out)
	}
	// Status works for the staff user and names the service's state folder.
	if out := s.staffOK("", "status", "--json"); !strings.Contains(out, s.state) {
		t.Fatalf("staff status: %s", out)
	}

	// Nothing of the service is readable by the staff user; the policy (0644) is, as a control.
	if out, _, code := runCmd(t, s.staff.Command(nil, "/bin/cat", filepath.Join(s.root, "policy.json")), ""); code != 0 || !strings.Contains(out, "default_approvers") {
		t.Fatalf("control: %s cannot read the policy: %d %s", staff, code, out)
	}
	secrets, _ := filepath.Glob(filepath.Join(s.state, secretsDirName, "*.secret"))
	if len(secrets) < 3 { // two seeds and a password
		t.Fatalf("sealed secrets: %v", secrets)
	}
	for _, p := range append([]string{filepath.Join(s.state, "state.json"), filepath.Join(s.state, auditName),
		filepath.Join(s.state, keyFileName), filepath.Join(s.state, secretsDirName, "key.check")}, secrets...) {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out, errs, code := runCmd(t, s.staff.Command(nil, "/bin/cat", p), "")
		if code == 0 || !strings.Contains(errs, "Permission denied") {
			t.Errorf("%s read %s: exit %d %q %q", staff, p, code, out, errs)
		}
	}
	if _, errs, code := runCmd(t, s.staff.Command(nil, "/bin/ls", s.state), ""); code == 0 || !strings.Contains(errs, "Permission denied") {
		t.Errorf("%s listed %s: %s", staff, s.state, errs)
	}
	// Neither the seed nor the password is anywhere in the state folder in the clear.
	_ = filepath.Walk(s.state, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(anna.Secret)) || bytes.Contains(b, []byte("pw-of-the-ministry")) {
				t.Errorf("%s holds a secret in the clear", p)
			}
		}
		return nil
	})
	// The service ignored the FOUREYES_POLICY it was given and said so, and named the key's source.
	if !strings.Contains(s.logs.String(), "FOUREYES_POLICY and per-user policy files are ignored") || strings.Contains(s.trail(), "missing.json") {
		t.Errorf("the service's policy source:\n%s", s.logs)
	}
	if !strings.Contains(s.logs.String(), "key from "+filepath.Join(s.state, keyFileName)) {
		t.Errorf("the log does not say where the key came from:\n%s", s.logs)
	}
	// IT reads the trail as root; the staff user cannot.
	trail := filepath.Join(s.state, auditName)
	s.rootOK("", "audit", "verify", "--file", trail)
	if _, errs, code := s.asStaff("", "audit", "verify", "--file", trail); code == 0 || !strings.Contains(errs, "permission denied") {
		t.Errorf("%s verified the trail: exit %d %s", staff, code, errs)
	}
}

// The bridge is shared by every user of the laptop: a token the native host got for one OS
// user works only on a connection that user holds. Root presenting the staff user's token is
// refused and the trail says so; the staff user's own token works, and a request sent through
// the bridge carries the staff user's name.
//
// This service gets its key as systemd would pass a credential (CREDENTIALS_DIRECTORY), so no
// key file is made.
func TestServiceBridgeTokenBoundToUser(t *testing.T) {
	creds := t.TempDir()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "secrets.key"), key, 0o400); err != nil {
		t.Fatal(err)
	}
	s := startService(t, "CREDENTIALS_DIRECTORY="+creds)
	if !strings.Contains(s.logs.String(), "key from "+filepath.Join(creds, "secrets.key")) {
		t.Fatalf("the service did not take the credential:\n%s", s.logs)
	}
	if _, err := os.Stat(filepath.Join(s.state, keyFileName)); err == nil {
		t.Fatal("a key file was made although systemd passed the key")
	}
	staff := s.staff
	s.rootOK("pw\n", "account", "add", "--platform", "x", "--handle", "@ministry", "--username", "press@example.org", "--password-stdin")
	origin := "chrome-extension://" + policy.DefaultExtensionID

	stolen := s.nativeHost(&staff, origin)
	tok, _ := stolen["token"].(string)
	if stolen["type"] != "hello" || tok == "" {
		t.Fatalf("the staff user's native host: %v", stolen)
	}
	replies := s.bridgeAs(nil, origin, tok, "", "")
	if len(replies) != 1 || replies[0]["type"] != "error" {
		t.Fatalf("root with the staff user's token: %v", replies)
	}
	if e, _ := replies[0]["error"].(map[string]any); e["code"] != "forbidden" {
		t.Fatalf("root with the staff user's token: %v", replies)
	}
	tr := s.trail()
	if !strings.Contains(tr, `"event":"bridge_refused","severity":"high"`) || !strings.Contains(tr, `"token_user":"`+staff.Name+`"`) || !strings.Contains(tr, `"peer_user":"root"`) {
		t.Fatalf("no bridge_refused alarm naming both users in the trail:\n%s", tr)
	}

	// The staff user's own fresh token, on the staff user's own connection.
	own := s.nativeHost(&staff, origin)
	replies = s.bridgeAs(&staff, origin, own["token"].(string), "x:@ministry", "Aus dem Browser")
	if len(replies) != 2 || replies[0]["type"] != "hello" || replies[1]["type"] != "request" {
		t.Fatalf("the staff user with their own token: %v", replies)
	}
	r, _ := replies[1]["request"].(map[string]any)
	if r["requester"] != staff.Name {
		t.Fatalf("request through the bridge attributed to %v, want %s: %v", r["requester"], staff.Name, replies[1])
	}
	// And the other way round: root's own token in the staff user's hands.
	mine := s.nativeHost(nil, origin)
	replies = s.bridgeAs(&staff, origin, mine["token"].(string), "", "")
	if len(replies) != 1 || replies[0]["type"] != "error" {
		t.Fatalf("the staff user with root's token: %v", replies)
	}
	if n := strings.Count(s.trail(), `"event":"bridge_refused"`); n != 2 {
		t.Fatalf("%d bridge_refused lines, want 2", n)
	}
}
