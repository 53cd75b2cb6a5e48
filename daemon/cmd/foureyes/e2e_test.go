package main

// End-to-end tests of the foureyes binary: a real daemon process, the real OS keyring (Secret
// Service), codes computed by Debian's oathtool (an independent TOTP implementation), the admin
// socket and the audit log on disk. Run them inside a private keyring session:
//
//	bash .ci/with-keyring.sh env FOUREYES_KEYRING_TEST=1 go test ./daemon/cmd/foureyes/

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/testenv"
)

var builtBinary string

func TestMain(m *testing.M) {
	if os.Getenv(squatterEnv) != "" {
		os.Exit(squatter())
	}
	if os.Getenv(bridgeClientEnv) != "" {
		os.Exit(bridgeClient())
	}
	code := m.Run()
	if builtBinary != "" {
		_ = os.RemoveAll(filepath.Dir(builtBinary))
	}
	os.Exit(code)
}

// binary builds foureyes once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if builtBinary != "" {
		return builtBinary
	}
	dir, err := os.MkdirTemp("", "foureyes-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "foureyes")
	cmd := exec.Command("go", "build", "-tags", "headless", "-o", out, ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building foureyes: %v\n%s", err, b)
	}
	builtBinary = out
	return out
}

type cli struct {
	t    *testing.T
	bin  string
	home string
	env  []string
}

func newCLI(t *testing.T, env ...string) *cli {
	home := t.TempDir()
	base := append(os.Environ(), "FOUREYES_HOME="+home, "FOUREYES_POLICY="+filepath.Join(home, "no-policy.json"))
	// No policy file at FOUREYES_POLICY means "missing", which Load reports as an error; use the
	// embedded default instead by pointing at a minimal policy. Test machines have no system log,
	// so forwarding to it is off: status then reports a healthy daemon.
	if err := os.WriteFile(filepath.Join(home, "no-policy.json"), []byte(`{"version":1,"audit":{"syslog":false}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, bin: binary(t), home: home, env: append(base, env...)}
}

// run runs foureyes and returns stdout, stderr and the exit status.
func (c *cli) run(stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running foureyes %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("foureyes %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// refused runs a command that must fail with the given error code in its JSON output.
func (c *cli) refused(wantCode string, args ...string) {
	c.t.Helper()
	c.refusedIn("", wantCode, args...)
}

// refusedIn is refused with stdin as standard input (an approver's code, typed or piped in).
func (c *cli) refusedIn(stdin, wantCode string, args ...string) {
	c.t.Helper()
	out, errs, code := c.run(stdin, append(args, "--json")...)
	if code == 0 {
		c.t.Fatalf("foureyes %s succeeded, want %s\n%s", strings.Join(args, " "), wantCode, out)
	}
	var v struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Error.Code != wantCode {
		c.t.Fatalf("foureyes %s: want code %s, got %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), wantCode, v.Error.Code, out, errs)
	}
	if v.Error.Message == "" {
		c.t.Fatalf("error %s without a message", wantCode)
	}
}

type daemonProc struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	// exited has the process's end once it ended (launch's processes; nil for startDaemon's).
	exited chan error
}

func (c *cli) startDaemon() *daemonProc {
	c.t.Helper()
	cmd := exec.Command(c.bin, "daemon", "--headless")
	cmd.Env = c.env
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, logs: logs}
	c.t.Cleanup(func() { d.stop() })
	// Wait until the admin socket answers (the daemon's readiness, not a rule's timing).
	deadline := time.Now().Add(20 * time.Second)
	for {
		// 0: healthy, 1: running with a problem (what some tests set up), 3: not yet.
		if _, _, code := c.run("", "status"); code == exitOK || code == exitRefused {
			return d
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("daemon did not become ready:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemonProc) stop() {
	if d.exited != nil {
		_ = d.cmd.Process.Signal(os.Interrupt)
		var err error
		select {
		case err = <-d.exited:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			err = <-d.exited
		}
		d.exited <- err
		return
	}
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}

// status runs `foureyes status --json`, wants exit status want, and returns its output.
func (c *cli) status(want int) string {
	c.t.Helper()
	out, errs, code := c.run("", "status", "--json")
	if code != want {
		c.t.Fatalf("foureyes status: exit %d, want %d\n%s%s", code, want, out, errs)
	}
	return out
}

// oathtool computes the TOTP code for secret at t with Debian's independent implementation.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	out, err := exec.Command("oathtool", "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func needKeyring(t *testing.T) {
	t.Helper()
	testenv.Enabled(t, "FOUREYES_KEYRING_TEST", "the real Secret Service: bash .ci/with-keyring.sh env FOUREYES_KEYRING_TEST=1 go test ./daemon/cmd/foureyes/")
	testenv.Program(t, "", "oathtool", "oathtool")
}

func enrol(t *testing.T, c *cli, id, osUser string) (secret string) {
	t.Helper()
	return enrolBy(t, c, id, osUser, "", "")
}

// enrolBy enrols id with approver by vouching with code (none for the first approver).
func enrolBy(t *testing.T, c *cli, id, osUser, by, code string) (secret string) {
	t.Helper()
	args := []string{"approver", "enroll", id, "--name", "Approver " + id, "--json", "--qr", filepath.Join(c.home, id+".png")}
	if by != "" {
		args = append(args, "--by", by)
	}
	if osUser != "" {
		args = append(args, "--os-user", osUser)
	}
	var en struct {
		URI, Secret string
	}
	if err := json.Unmarshal([]byte(c.ok(code+"\n", args...)), &en); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(en.URI, "otpauth://totp/") || !strings.Contains(en.URI, "secret="+en.Secret) || len(en.Secret) != 32 {
		t.Fatalf("enrolment URI/secret: %+v (want a 160-bit base32 secret)", en)
	}
	if fi, err := os.Stat(filepath.Join(c.home, id+".png")); err != nil || fi.Size() == 0 {
		t.Fatalf("no QR image: %v", err)
	}
	return en.Secret
}

func TestCLIEndToEnd(t *testing.T) {
	needKeyring(t)
	c := newCLI(t)
	d := c.startDaemon()
	me, _ := user.Current()

	t0 := time.Now()
	anna := enrol(t, c, "anna", "")
	if _, errs, code := c.run("", "approver", "enroll", "ben", "--name", "Ben"); code != exitRefused || !strings.Contains(errs, "none is confirmed yet") {
		t.Fatalf("a second enrolment before the first approver confirmed: exit %d %s", code, errs)
	}
	// Not confirmed yet: cannot approve.
	c.ok("pw-1\n", "account", "add", "--platform", "x", "--handle", "@ministry", "--username", "press@example.org", "--password-stdin")
	rid := strings.TrimSpace(c.ok("Guten Morgen!\n", "request", "--account", "x:@ministry", "--text-file", "-"))
	c.refusedIn(oathtool(t, anna, t0)+"\n", "not_confirmed", "approve", rid, "--approver", "anna")
	c.ok("", "approver", "confirm", "anna", oathtool(t, anna, t0))

	// The confirming code is spent; the next step's code (inside the skew window) approves.
	c.refusedIn(oathtool(t, anna, t0)+"\n", "replayed", "approve", rid, "--approver", "anna")
	code := oathtool(t, anna, t0.Add(30*time.Second))
	sid := strings.TrimSpace(c.ok(code+"\n", "approve", rid, "--approver", "anna"))
	if !strings.HasPrefix(sid, "s") {
		t.Fatalf("approve printed %q, want a session id", sid)
	}
	// Replay on a new request.
	rid2 := strings.TrimSpace(c.ok("Zweiter Beitrag\n", "request", "--account", "x:@ministry", "--text-file", "-"))
	c.refusedIn(code+"\n", "replayed", "approve", rid2, "--approver", "anna")
	c.refusedIn("12345x"+"\n", "bad_request", "approve", rid2, "--approver", "anna") // not 6 digits: wrong usage

	// Self-approval: an approver mapped to the OS user who asked.
	// Anna vouches for a second approver with a code of a step she has not used yet: the
	// approval above spent the next step's, so wait until that step has begun.
	if wait := time.Until(t0.Truncate(30 * time.Second).Add(30 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	c.refused("second_approver", "approver", "enroll", "myself", "--name", "Me")
	self := enrolBy(t, c, "myself", me.Username, "anna", oathtool(t, anna, time.Now().Add(30*time.Second)))
	c.ok("", "approver", "confirm", "myself", oathtool(t, self, time.Now()))
	c.refusedIn(oathtool(t, self, time.Now().Add(30*time.Second))+"\n", "self_approval", "approve", rid2, "--approver", "myself")

	// Lock revokes the open session and the pending request.
	out := c.ok("", "lock", "account", "hijacked", "--json") // words after lock are its reason
	var lock struct{ Sessions, Requests int }
	if err := json.Unmarshal([]byte(out), &lock); err != nil {
		t.Fatal(err)
	}
	if lock.Sessions != 1 || lock.Requests != 1 {
		t.Fatalf("lock revoked %+v, want 1 session and 1 request", lock)
	}
	var sessions []struct{ ID, State string }
	if err := json.Unmarshal([]byte(c.ok("", "sessions", "--json")), &sessions); err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].ID != sid || sessions[0].State != "revoked" {
		t.Fatalf("sessions after lock: %+v", sessions)
	}

	// A request still open when the daemon stops is closed with its line.
	ridOpen := strings.TrimSpace(c.ok("Offen beim Anhalten\n", "request", "--account", "x:@ministry", "--text-file", "-"))

	// Restart: the replay is still refused.
	d.stop()
	c.startDaemon()
	rid3 := strings.TrimSpace(c.ok("Nach dem Neustart\n", "request", "--account", "x:@ministry", "--text-file", "-"))
	c.refusedIn(code+"\n", "replayed", "approve", rid3, "--approver", "anna")
	checkLifecycleLines(t, filepath.Join(c.home, "audit.jsonl"), ridOpen)

	// Status JSON names the audit log; the chain verifies.
	var st struct {
		AuditLog string `json:"audit_log"`
		Accounts int
	}
	if err := json.Unmarshal([]byte(c.ok("", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.AuditLog != filepath.Join(c.home, "audit.jsonl") || st.Accounts != 1 {
		t.Fatalf("status: %+v", st)
	}
	if out := c.ok("", "audit", "verify"); !strings.Contains(out, "verifies") {
		t.Fatalf("audit verify: %s", out)
	}
	csv := c.ok("", "audit", "export", "--format", "csv")
	for _, want := range []string{"Guten Morgen!", "code_replayed", "approval_refused", "lock", "session_issued", "account hijacked"} {
		if !strings.Contains(csv, want) {
			t.Errorf("CSV export lacks %q", want)
		}
	}
	for _, secret := range []string{anna, self, "pw-1", code} {
		raw, _ := os.ReadFile(st.AuditLog)
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("a secret or code (%q) is in the audit log", secret)
		}
	}

	// Change one byte of line 5: verify fails and names the line.
	raw, _ := os.ReadFile(st.AuditLog)
	lines := bytes.SplitAfter(raw, []byte("\n"))
	i := bytes.Index(lines[4], []byte(`"user":"`)) + len(`"user":"`)
	lines[4][i] ^= 0x01
	if err := os.WriteFile(st.AuditLog, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, exit := c.run("", "audit", "verify")
	if exit == 0 || !strings.Contains(errs, "line 5") {
		t.Fatalf("tampered log: exit %d, stdout %q, stderr %q (want a failure naming line 5)", exit, out, errs)
	}
}

// The shared secret with the OTP server goes from standard input to the keyring; --radius-user
// needs a policy that has the OTP server check codes.
func TestCLIRadius(t *testing.T) {
	needKeyring(t)
	c := newCLI(t)
	c.startDaemon()
	if out := c.ok("s3cret-shared\n", "radius", "secret"); !strings.Contains(out, "stored in the OS keyring") {
		t.Fatalf("radius secret: %q", out)
	}
	c.refused("bad_request", "radius", "secret")
	_, errs, code := c.run("", "approver", "enroll", "anna", "--name", "Anna", "--radius-user", "anna")
	if code != exitRefused || !strings.Contains(errs, `approver_codes is "radius"`) {
		t.Fatalf("--radius-user under a local policy: exit %d %s", code, errs)
	}
}

func TestCLINoKeyring(t *testing.T) {
	// No session bus at all: the daemon runs, but anything needing a secret says no_keyring.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	c := newCLI(t)
	c.env = append(env, "FOUREYES_HOME="+c.home, "FOUREYES_POLICY="+filepath.Join(c.home, "no-policy.json"), "DBUS_SESSION_BUS_ADDRESS=")
	c.startDaemon()
	c.refused("no_keyring", "approver", "enroll", "anna", "--name", "Anna")
	_, errs, code := c.run("", "approver", "enroll", "anna", "--name", "Anna")
	if code != 1 || !strings.Contains(errs, "keyring") || !strings.Contains(errs, "[no_keyring]") {
		t.Fatalf("want a helpful no_keyring message, got exit %d: %s", code, errs)
	}
	var st struct {
		KeyringError string `json:"keyring_error"`
	}
	if err := json.Unmarshal([]byte(c.status(exitRefused)), &st); err != nil {
		t.Fatal(err)
	}
	if st.KeyringError == "" {
		t.Fatal("status must show the keyring problem")
	}
}

func TestCLIDaemonNotRunning(t *testing.T) {
	c := newCLI(t)
	_, errs, code := c.run("", "status")
	if code != exitUnavailable || !strings.Contains(errs, "foureyes daemon") {
		t.Fatalf("exit %d, %s", code, errs)
	}
}

func TestCLIUsage(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, exitUsage, "unknown command"},
		{[]string{"approve"}, exitUsage, "name one request id"},
		{[]string{"approve", "r1"}, exitUsage, "--approver is required"},
		{[]string{"approve", "r1", "--approver", "anna"}, exitUsage, "no code for anna: type the 6 digits"},
		{[]string{"account", "add", "--platform", "x", "--handle", "@m", "--username", "u"}, exitUsage, "--password-stdin"},
		{[]string{"audit", "export", "--format", "xml"}, exitUsage, "csv or json"},
		{[]string{"account", "frobnicate"}, exitUsage, "unknown subcommand"},
		{[]string{"account", "remove"}, exitUsage, "name one account, e.g. x:@ministry"},
		{[]string{"account", "remove", "x:@a", "x:@b"}, exitUsage, "name one account, e.g. x:@ministry"},
		{[]string{"account", "passwd", "--password-stdin"}, exitUsage, "name one account, e.g. x:@ministry"},
		{[]string{"approver", "enroll", "--name", "Anna"}, exitUsage, "name one approver ID, e.g. anna.schmidt"},
		{[]string{"approver", "confirm", "anna"}, exitUsage, "no code for anna"},
		{[]string{"approver", "confirm"}, exitUsage, "give the approver ID"},
		{[]string{"approver", "remove"}, exitUsage, "name one approver ID"},
		{[]string{"approver", "unlock", "anna", "ben"}, exitUsage, "name one approver ID"},
		{[]string{"cancel"}, exitUsage, "name one request id"},
		{[]string{"radius", "secret", "s3cret"}, exitUsage, "pipe the secret in on standard input"},
		{[]string{"radius", "frobnicate"}, exitUsage, "unknown subcommand"},
		{[]string{"status", "now"}, exitUsage, "takes no arguments besides its options"},
		{[]string{"sessions", "all"}, exitUsage, "takes no arguments besides its options"},
		{[]string{"policy", "check"}, exitUsage, "name one policy file"},
		{[]string{"approver", "remove", "--help"}, exitOK, ""},
		{[]string{"request", "--account", "x:@m", "--action", "tweet", "--text-file", "/dev/null"}, exitUsage, `--action "tweet" is not one of post, reply, quote, repost`},
		{[]string{"approve", "r1", "--approver", "anna", "--code", "12345"}, exitUsage, "the code must be the 6 digits"},
		{[]string{"approver", "confirm", "anna", "1234567"}, exitUsage, "the code must be the 6 digits"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errs, code := c.run("", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tt.code, errs, tt.want)
			}
		})
	}
	// Help is asked for, so it goes to standard output (foureyes x --help | less).
	for _, args := range [][]string{{"--help"}, {"approve", "--help"}, {"audit", "--help"}, {"daemon", "--help"}, {"status", "--help"}} {
		if out, errs, code := c.run("", args...); code != 0 || !strings.Contains(out, "Usage") || errs != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	// A code on the command line still works but is warned about: other OS users can read a
	// running command's arguments. Typed or piped in, there is no warning.
	if _, errs, _ := c.run("", "approve", "r1", "--approver", "anna", "--code", "123456"); !strings.Contains(errs, "warning: a code on the command line can be read by other users") {
		t.Errorf("--code on the command line: no warning in %q", errs)
	}
	if _, errs, _ := c.run("123456\n", "approve", "r1", "--approver", "anna"); strings.Contains(errs, "warning") || !strings.Contains(errs, "daemon") {
		t.Errorf("code on standard input: stderr %q", errs)
	}
	// Wrong usage with --json is a JSON error too, still exit 2.
	out, _, code := c.run("", "approve", "r1", "--approver", "anna", "--code", "abc", "--json")
	var v struct{ Error struct{ Code string } }
	if code != exitUsage || json.Unmarshal([]byte(out), &v) != nil || v.Error.Code != "bad_request" {
		t.Errorf("usage error with --json: exit %d, %q", code, out)
	}
}

func TestCLIPolicyCheck(t *testing.T) {
	c := newCLI(t)
	good := filepath.Join(c.home, "good.json")
	bad := filepath.Join(c.home, "bad.json")
	if err := os.WriteFile(good, []byte(`{"version":1,"session_ttl_seconds":300}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"version":1,"throttle":{"max_consecutive_failures":500}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("", "policy", "check", good); !strings.Contains(out, "valid") {
		t.Fatal(out)
	}
	_, errs, code := c.run("", "policy", "check", bad)
	if code != exitRefused || !strings.Contains(errs, "max_consecutive_failures") || !strings.Contains(errs, "[invalid_policy]") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// An old file with a key of a feature not built yet, and accounts on platforms foureyes
	// does not govern: valid, with a warning for each.
	old := filepath.Join(c.home, "old.json")
	_ = os.WriteFile(old, []byte(`{"version":1,"editorial_sites":["cms.example"],"accounts":{"x:@m":{},"instagram:@m":{},"myspace:@m":{}}}`), 0o600)
	out, errs, code := c.run("", "policy", "check", old)
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	for _, want := range []string{
		"warning: editorial_sites is not built yet and is ignored",
		`warning: accounts["instagram:@m"]: Instagram is not governed yet: foureyes supports X, Mastodon`,
		`warning: accounts["myspace:@m"]: unknown platform "myspace"`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q lacks %q", errs, want)
		}
	}
	if _, errs, _ := c.run("", "policy", "check", good); errs != "" {
		t.Errorf("a clean policy warns: %q", errs)
	}
	// Custody one_time: at the top level Bluesky is held at strict, with a warning; on a Bluesky
	// account of its own it is an error naming the account and the platform.
	oneTime := filepath.Join(c.home, "one-time.json")
	_ = os.WriteFile(oneTime, []byte(`{"version":1,"custody":"one_time","accounts":{"x:@m":{},"bluesky:@m.bsky.social":{}}}`), 0o600)
	if out, errs, code := c.run("", "policy", "check", oneTime); code != 0 || !strings.Contains(out, "valid") ||
		!strings.Contains(errs, "warning: custody one_time does not apply on Bluesky") || !strings.Contains(errs, "(bluesky:@m.bsky.social) are held at strict custody") {
		t.Errorf("top-level one_time: exit %d %q %q", code, out, errs)
	}
	_ = os.WriteFile(oneTime, []byte(`{"version":1,"accounts":{"bluesky:@m.bsky.social":{"custody":"one_time"}}}`), 0o600)
	if _, errs, code := c.run("", "policy", "check", oneTime); code != exitRefused || !strings.Contains(errs, "bluesky:@m.bsky.social") || !strings.Contains(errs, "Bluesky") {
		t.Errorf("one_time on a Bluesky account: exit %d %q", code, errs)
	}
	// As the managed policy, it must name its approvers.
	if _, errs, code := c.run("", "policy", "check", "--managed", good); code != exitRefused || !strings.Contains(errs, "must name its approvers") {
		t.Errorf("--managed with the default approvers: exit %d %q", code, errs)
	}
	named := filepath.Join(c.home, "named.json")
	if err := os.WriteFile(named, []byte(`{"version":1,"default_approvers":["anna.schmidt"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("", "policy", "check", "--managed", named)
}

func TestCLIInvalidPolicyRefusesApprovals(t *testing.T) {
	needKeyring(t)
	c := newCLI(t)
	if err := os.WriteFile(filepath.Join(c.home, "no-policy.json"), []byte(`{"version":1,"totp_skew_steps":9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.startDaemon()
	_, _, code := c.run("hi", "request", "--account", "x:@m", "--text-file", "-")
	if code == 0 {
		t.Fatal("a request under an invalid policy was accepted")
	}
	c.refused("invalid_policy", "request", "--account", "x:@m", "--text-file", "/dev/null")
	var st struct {
		PolicyError string `json:"policy_error"`
	}
	if err := json.Unmarshal([]byte(c.status(exitRefused)), &st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.PolicyError, "totp_skew_steps") {
		t.Fatalf("status policy_error %q must name the field", st.PolicyError)
	}
	// For monitoring: exit 1 and the problem in words.
	out, _, code := c.run("", "status")
	if code != exitRefused || !strings.Contains(out, "PROBLEMS:") || !strings.Contains(out, "policy invalid: ") {
		t.Fatalf("status with an invalid policy: exit %d\n%s", code, out)
	}
	// Fixed and reloaded over the admin socket: healthy again, exit 0.
	if err := os.WriteFile(filepath.Join(c.home, "no-policy.json"), []byte(`{"version":1,"audit":{"syslog":false}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("", "policy", "reload"); !strings.Contains(out, "policy reloaded from") {
		t.Fatalf("policy reload: %s", out)
	}
	c.status(exitOK)
}

// checkLifecycleLines checks the daemon's own lines across one stop and start: each start
// writes daemon_started and then the policy's line; the stop closes the request still open
// (request_closed, reason daemon_stopped) before daemon_stopped; the next start follows.
func checkLifecycleLines(t *testing.T, path, openRequest string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		Event  string
		Fields map[string]any
	}
	var events []string
	var lines []line
	for _, b := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("audit line %q: %v", b, err)
		}
		lines = append(lines, l)
		events = append(events, l.Event)
	}
	if len(events) < 2 || events[0] != "daemon_started" || events[1] != "policy_loaded" {
		t.Errorf("the trail starts %q, want daemon_started, policy_loaded", events[:min(2, len(events))])
	}
	stopped := slices.Index(events, "daemon_stopped")
	if stopped < 0 {
		t.Fatalf("no daemon_stopped line in %q", events)
	}
	closed := slices.IndexFunc(lines, func(l line) bool {
		return l.Event == "request_closed" && l.Fields["request_id"] == openRequest
	})
	if closed < 0 || closed > stopped {
		t.Errorf("request %s: request_closed at %d, daemon_stopped at %d, in %q", openRequest, closed, stopped, events)
	} else if r := lines[closed].Fields["reason"]; r != "daemon_stopped" {
		t.Errorf("request_closed reason %v, want daemon_stopped", r)
	}
	if n := slices.Index(events[stopped+1:], "daemon_started"); n != 0 {
		t.Errorf("after daemon_stopped: %q, want daemon_started next", events[stopped+1:])
	}
	if n := stopped + 2; n >= len(events) || events[n] != "policy_loaded" {
		t.Errorf("after the restart's daemon_started: %q, want policy_loaded", events[stopped+1:])
	}
}

// Another program holds the bridge port when the daemon starts: status says the bridge is down
// and why (exit 1), the trail has a bridge_down alarm, and once the port is free the daemon
// takes it by itself.
func TestCLIBridgePortSquatted(t *testing.T) {
	needKeyring(t)
	squat, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := squat.Addr().(*net.TCPAddr).Port
	c := newCLI(t)
	if err := os.WriteFile(filepath.Join(c.home, "no-policy.json"), []byte(fmt.Sprintf(`{"version":1,"audit":{"syslog":false},"bridge_port":%d}`, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.startDaemon()
	out, _, code := c.run("", "status")
	if code != exitRefused || !strings.Contains(out, "browser bridge down: ") || !strings.Contains(out, "address already in use") {
		t.Fatalf("status with the port taken: exit %d\n%s", code, out)
	}
	if trail, err := os.ReadFile(filepath.Join(c.home, "audit.jsonl")); err != nil || !strings.Contains(string(trail), `"event":"bridge_down","severity":"high"`) {
		t.Fatalf("no bridge_down alarm in the trail (%v)", err)
	}
	_ = squat.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, _, code := c.run("", "status"); code == exitOK {
			break
		}
		if time.Now().After(deadline) {
			out, _, _ := c.run("", "status")
			t.Fatalf("the daemon did not take the freed port:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
