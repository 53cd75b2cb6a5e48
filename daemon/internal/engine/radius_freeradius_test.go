package engine

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/radius"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/testenv"
)

// annaSeed is anna's TOTP seed, known only to the OTP server (FreeRADIUS), never to the daemon.
const annaSeed = "JBSWY3DPEHPK3PXP"

// freeradiusConf is a complete private FreeRADIUS 3.2 configuration: one client (127.0.0.1 with
// the shared secret), one user whose code rlm_totp checks. FreeRADIUS before 3.2.5 sends no
// Message-Authenticator in its answers unless told to, and foureyes believes no answer without
// one: the update reply lines tell it to.
const freeradiusConf = `prefix = /usr
localstatedir = {{DIR}}
logdir = {{DIR}}
raddbdir = {{DIR}}
confdir = {{DIR}}
run_dir = {{DIR}}
libdir = /usr/lib/freeradius
pidfile = {{DIR}}/radiusd.pid
name = radiusd
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
  destination = stdout
  auth = yes
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = no
}
thread pool {
  start_servers = 1
  max_servers = 2
  min_spare_servers = 1
  max_spare_servers = 2
  max_requests_per_server = 0
}
modules {
  totp {
  }
}
client foureyes {
  ipaddr = 127.0.0.1
  secret = {{SECRET}}
  require_message_authenticator = yes
}
server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = {{PORT}}
  }
  authorize {
    update reply {
      &Message-Authenticator := 0x00
    }
    if (&User-Name == "anna.radius") {
      update control {
        &TOTP-Secret := "` + annaSeed + `"
        &Auth-Type := totp
      }
      update request {
        &TOTP-Password := &User-Password
      }
    }
  }
  authenticate {
    Auth-Type totp {
      totp
    }
  }
}
`

// radiusd is one FreeRADIUS server the test started.
type radiusd struct {
	addr string
	cmd  *exec.Cmd
	log  string
}

// startFreeRADIUS starts FreeRADIUS (radiusd -X) on a free loopback port with its own
// configuration directory, waits until it is ready, and stops it (its whole process group) when
// the test ends.
func startFreeRADIUS(t *testing.T, bin, secret string) *radiusd {
	t.Helper()
	dir := t.TempDir()
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	_ = l.Close()
	conf := strings.NewReplacer("{{DIR}}", dir, "{{SECRET}}", secret, "{{PORT}}", fmt.Sprint(port)).Replace(freeradiusConf)
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &radiusd{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(dir, "radiusd.log")}
	r.cmd = exec.Command(bin, "-d", dir, "-X")
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.cmd.Stdout
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	logf, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		defer func() { _ = logf.Close() }()
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			_, _ = fmt.Fprintln(logf, sc.Text())
			if !said && strings.Contains(sc.Text(), "Ready to process requests") {
				ready <- true
				said = true
			}
		}
		if !said {
			ready <- false
		}
	}()
	if !<-ready {
		b, _ := os.ReadFile(r.log)
		t.Fatalf("FreeRADIUS did not start:\n%s", b)
	}
	return r
}

func (r *radiusd) stop() {
	if r.cmd.Process == nil || r.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	_ = r.cmd.Wait()
}

// oathtool computes the code for seed at the current time, independently of the daemon.
func oathtool(t *testing.T, seed string) string {
	t.Helper()
	bin := testenv.Program(t, "", "oathtool", "oathtool")
	out, err := exec.Command(bin, "--totp", "-b", seed).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// waitForFreshStep sleeps until a new 30-second step has begun: rlm_totp accepts only the
// current step's code, and each step gives one code.
func waitForFreshStep(after time.Time) {
	next := time.Unix(int64(rules.Step(after)+1)*rules.StepSeconds, 0).Add(200 * time.Millisecond)
	time.Sleep(time.Until(next))
}

// TestFreeRADIUS runs the daemon's RADIUS approvers against Debian's real FreeRADIUS 3.2 with
// rlm_totp checking the code: accept, reject, a replay (refused by the daemon; FreeRADIUS
// itself accepts it again), fail-over when the first server is down, both down, and a shared
// secret that does not match.
func TestFreeRADIUS(t *testing.T) {
	bin := testenv.Program(t, "", "freeradius", "freeradius", "radiusd")
	if _, err := os.Stat("/usr/lib/freeradius/rlm_totp.so"); err != nil {
		testenv.Need(t, "FreeRADIUS's rlm_totp module", "apt-get install freeradius")
	}
	const secret = "shared-with-the-otp-server"
	a := startFreeRADIUS(t, bin, secret)
	b := startFreeRADIUS(t, bin, secret)
	other := startFreeRADIUS(t, bin, "another-secret")

	pol := policy.Default()
	pol.ApproverCodes = policy.ApproverCodesRadius
	pol.Radius = &policy.Radius{Servers: []string{a.addr, b.addr}, TimeoutSeconds: 1, Retries: 0, NASIdentifier: "foureyes-test", ReplayWindowSeconds: 300}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, home: t.TempDir(), clk: clock.NewFake(time.Now()), engineClock: clock.Real{}, store: &memStore{m: map[string]string{}}, pol: pol}
	f.start()
	ctx := context.Background()
	if err := f.admin().SetRadiusSecret(ctx, secret+"\n"); err != nil {
		t.Fatal(err)
	}
	en, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna", OSUser: "anna", RadiusUser: "anna.radius"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Get(custody.ApproverKey("anna")); en.Secret != "" || en.URI != "" || err == nil {
		t.Fatalf("a RADIUS approver got a seed: %+v, keyring %v", en, err)
	}
	// Confirmed by a code the OTP server accepts (both servers up: the first answers).
	first := oathtool(t, annaSeed)
	if _, err := f.admin().ConfirmApprover(ctx, "anna", first); err != nil {
		t.Fatalf("confirm with the server's accept: %v", err)
	}
	waitForFreshStep(time.Now())

	// The first server goes down: the second answers.
	a.stop()
	r1 := f.request("Eins")
	code := oathtool(t, annaSeed)
	ap, err := f.staff().Approve(ctx, r1.ID, "anna", code)
	if err != nil || ap.Session == nil {
		t.Fatalf("accept through fail-over: %v %+v", err, ap)
	}

	// Replay: the daemon refuses the same code at once, without asking.
	r2 := f.request("Zwei")
	if _, err := f.staff().Approve(ctx, r2.ID, "anna", code); api.CodeOf(err) != api.CodeReplayed {
		t.Fatalf("replayed code: %v, want replayed", err)
	}
	// What FreeRADIUS 3.2.1's rlm_totp does with the same code: it accepts it again (it keeps no
	// memory of used codes), which is why the daemon keeps its own.
	ok, err := radius.Authenticate(ctx, radius.Config{Servers: []string{b.addr}, Secret: []byte(secret), Timeout: time.Second}, "anna.radius", code)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FreeRADIUS rlm_totp on the replayed code: accepted=%v", ok)
	if !ok {
		t.Errorf("FreeRADIUS refused the replayed code itself; the docs say it accepts it: update installer/admin.md")
	}

	// Reject: a wrong code counts against the approver (as the replay did), no session.
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	if _, err := f.staff().Approve(ctx, r2.ID, "anna", wrong); api.CodeOf(err) != api.CodeBadCode {
		t.Fatalf("wrong code: %v, want bad_code", err)
	}
	if as, _ := f.admin().ListApprovers(ctx); as[0].Failures != 2 || as[0].RadiusUser != "anna.radius" {
		t.Fatalf("after a reject: %+v", as[0])
	}

	// Both down: a clear error, no session, an audit line; not counted against the approver.
	b.stop()
	_, err = f.staff().Approve(ctx, r2.ID, "anna", wrong)
	if api.CodeOf(err) != api.CodeCodeCheckUnavailable || !strings.Contains(err.Error(), "cannot check the code now") {
		t.Fatalf("both down: %v", err)
	}
	for _, s := range []string{a.addr + ": not listening", b.addr + ": not listening"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if lines := f.auditLines("code_check_unavailable"); len(lines) != 1 || lines[0]["fields"].(map[string]any)["reason"] != "unavailable" {
		t.Fatalf("audit lines: %v", lines)
	}
	rs, _ := f.staff().ListRequests(ctx)
	for _, r := range rs {
		if r.ID == r2.ID && (r.State != rules.Pending || r.SessionID != "") {
			t.Fatalf("request after both down: %+v", r)
		}
	}
	if as, _ := f.admin().ListApprovers(ctx); as[0].Failures != 2 {
		t.Fatalf("an unreachable server counted against the approver: %+v", as[0])
	}

	// A server with another shared secret drops our requests (it cannot verify their
	// Message-Authenticator): the error names the shared secret.
	f.eng.locked(func() { f.eng.pol.Radius.Servers = []string{other.addr} })
	_, err = f.staff().Approve(ctx, r2.ID, "anna", wrong)
	if api.CodeOf(err) != api.CodeCodeCheckUnavailable || !strings.Contains(err.Error(), "shared secret") {
		t.Fatalf("secret mismatch: %v", err)
	}
	if lines := f.auditLines("code_check_unavailable"); len(lines) != 2 {
		t.Fatalf("audit lines: %v", lines)
	}
	if logb, _ := os.ReadFile(other.log); !strings.Contains(string(logb), "Shared secret is incorrect") {
		t.Logf("FreeRADIUS log of the mismatch:\n%s", logb)
		t.Errorf("FreeRADIUS did not log the shared secret mismatch")
	}
	f.verifyAudit()
	if v, err := f.store.Get(custody.RadiusSecretKey); err != nil || v != secret {
		t.Fatalf("shared secret in the keyring: %q %v (the trailing newline must go)", v, err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
