package main

// Whole-daemon faults: the real foureyes binary, the real keyring and the audit log on disk,
// broken on purpose (killed with SIGKILL mid-stream, its disk full or read-only, its keyring
// gone). Each fault asserts that nothing was published, issued or lost. daemon/docs/faults.md
// describes them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/testenv"
)

// faultCLI is a cli whose policy has a bridge port of its own (so a restarted daemon, or
// another test's, never waits for the default port) and forwards nothing to the system log.
func faultCLI(t *testing.T) *cli {
	t.Helper()
	c := newCLI(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	pol := fmt.Sprintf(`{"version":1,"audit":{"syslog":false},"bridge_port":%d}`, port)
	if err := os.WriteFile(filepath.Join(c.home, "no-policy.json"), []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// launch starts `foureyes daemon --headless` and waits until its admin socket answers. The
// caller stops it (SIGKILL or stop).
func (c *cli) launch() (*daemonProc, *adminsock.Client) {
	c.t.Helper()
	cmd := exec.Command(c.bin, "daemon", "--headless")
	cmd.Env = c.env
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, logs: logs}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	d.exited = exited
	c.t.Cleanup(func() { d.kill() })
	cl := adminsock.Dial(filepath.Join(c.home, socketName))
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cl.Status(ctx)
		cancel()
		if err == nil {
			return d, cl
		}
		select {
		case werr := <-exited:
			exited <- werr
			c.t.Fatalf("the daemon exited at start (%v):\n%s", werr, logs)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("daemon did not become ready (%v):\n%s", err, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemonProc) kill() {
	if d.exited == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	err := <-d.exited
	d.exited <- err
}

// trailLine is an audit line as the fault tests read it.
type trailLine struct {
	Seq    uint64
	Event  string
	Fields map[string]any
}

// readTrail reads the whole lines of the audit log (a torn tail is left out).
func readTrail(t *testing.T, path string) []trailLine {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(raw, '\n'); i >= 0 {
		raw = raw[:i+1]
	} else {
		raw = nil
	}
	var out []trailLine
	for _, b := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
		if len(b) == 0 {
			continue
		}
		var l trailLine
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("audit line %q: %v", b, err)
		}
		out = append(out, l)
	}
	return out
}

// verifyJSON runs `foureyes audit verify --json` and decodes its answer.
type verifyAnswer struct {
	OK     bool   `json:"ok"`
	Lines  uint64 `json:"lines"`
	Line   uint64 `json:"line"`
	Reason string `json:"reason"`
	Torn   bool   `json:"torn"`
}

func (c *cli) verify(args ...string) (verifyAnswer, int) {
	c.t.Helper()
	out, errs, code := c.run("", append([]string{"audit", "verify", "--json"}, args...)...)
	var v verifyAnswer
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.t.Fatalf("audit verify --json: exit %d, %v\nstdout %q\nstderr %q", code, err, out, errs)
	}
	return v, code
}

// approverKeys is what the kill test's client knows of one approver: the secret from the
// enrolment, and the newest TOTP step it may have spent (a call whose answer was lost may have
// spent it too).
type approverKeys struct {
	id, secret string
	spent      uint64
}

// next returns a fresh code's step, or false when the approver has none left in this window.
// Only the current and the next step are used, so the daemon accepts them even if its clock
// has just crossed into the next step.
func (a *approverKeys) next(now time.Time) (uint64, bool) {
	cur := rules.Step(now)
	s := max(a.spent+1, cur)
	return s, s <= cur+1
}

// answered is what the client was told before a kill: the trail must show all of it.
type answered struct {
	requests  map[string]bool   // request id -> created
	cancelled map[string]bool   // request id -> cancelled
	sessions  map[string]string // session id -> request id
	steps     map[string]uint64 // approver -> newest step an answered approval used
}

func TestFaultKillDuringAuditAppends(t *testing.T) {
	needKeyring(t)
	kills := 100
	if testing.Short() {
		kills = 10
	}
	c := faultCLI(t)
	ctx := context.Background()
	d, cl := c.launch()
	const account = "x:@ministry"
	if _, err := cl.AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@ministry", Username: "press@example.org", Password: "pw-1"}); err != nil {
		t.Fatal(err)
	}
	var approvers []*approverKeys
	for i := range 8 {
		// The first is the bootstrap; each later one is vouched for by the one before, with
		// that approver's next code.
		var by api.Authority
		if i > 0 {
			v := approvers[i-1]
			s, ok := v.next(time.Now())
			if !ok {
				t.Fatalf("approver %s has no fresh code to vouch with", v.id)
			}
			code, err := rules.CodeAt(v.secret, s)
			if err != nil {
				t.Fatal(err)
			}
			by, v.spent = api.Authority{Approver: v.id, Code: code}, s
		}
		en, err := cl.EnrollApprover(ctx, api.NewApprover{ID: fmt.Sprintf("approver%d", i), Name: fmt.Sprintf("Approver %d", i), By: by})
		if err != nil {
			t.Fatal(err)
		}
		a := &approverKeys{id: en.Approver.ID, secret: en.Secret}
		s, _ := a.next(time.Now())
		code, err := rules.CodeAt(a.secret, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.ConfirmApprover(ctx, a.id, code); err != nil {
			t.Fatal(err)
		}
		a.spent = s
		approvers = append(approvers, a)
	}
	d.kill()

	auditPath := filepath.Join(c.home, auditName)
	statePath := filepath.Join(c.home, "state.json")
	ans := answered{requests: map[string]bool{}, cancelled: map[string]bool{}, sessions: map[string]string{}, steps: map[string]uint64{}}
	var torn, sessions, replays, appendsPerCycle int
	probes := map[string]int{} // approver -> replay probes so far
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	text := strings.Repeat("Pressemitteilung: Der Landtag tagt. ", 6) // long lines cross page boundaries more often
	t0 := time.Now()
	for cycle := range kills {
		before := len(readTrail(t, auditPath))
		d, cl = c.launch()
		// The restarted daemon holds no posting session and no request: they end with the run
		// that issued them, and none comes back from the state file.
		if ss, err := cl.ListSessions(ctx); err != nil || len(ss) != 0 {
			t.Fatalf("cycle %d: sessions after a restart: %v %+v", cycle, err, ss)
		}
		if rs, err := cl.ListRequests(ctx); err != nil || len(rs) != 0 {
			t.Fatalf("cycle %d: requests after a restart: %v %+v", cycle, err, rs)
		}
		// Now and then: a code whose approval the client was told of is still spent after the
		// kill and the restart. A replay counts as a failed code, so each approver is tried at
		// most twice (the throttle allows five in its window).
		var probe *approverKeys
		for _, a := range approvers {
			if step, ok := ans.steps[a.id]; ok && probes[a.id] < 2 && step >= rules.Step(time.Now()) {
				probe = a
				break
			}
		}
		if probe != nil && cycle%5 == 0 {
			probes[probe.id]++
			r, err := cl.CreateRequest(ctx, api.NewRequest{Account: account, Action: "post", Text: "replay probe"})
			if err != nil {
				t.Fatal(err)
			}
			code, _ := rules.CodeAt(probe.secret, ans.steps[probe.id])
			if _, err := cl.Approve(ctx, r.ID, probe.id, code); api.CodeOf(err) != api.CodeReplayed {
				t.Fatalf("cycle %d: a spent code after kill -9 and restart: %v, want replayed", cycle, err)
			}
			replays++
			if _, err := cl.Cancel(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			ans.requests[r.ID], ans.cancelled[r.ID] = true, true
		}

		// The stream: requests, each approved if an approver has a fresh code, else cancelled.
		var killed atomic.Bool
		var wg sync.WaitGroup
		var mu sync.Mutex // guards ans and approvers while the driver runs
		var driverErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(what string, err error) {
				if !killed.Load() {
					driverErr = fmt.Errorf("%s before the kill: %w", what, err)
				}
			}
			for n := 0; ; n++ {
				r, err := cl.CreateRequest(ctx, api.NewRequest{Account: account, Action: "post", Text: fmt.Sprintf("%s (%d/%d)", text, cycle, n)})
				if err != nil {
					fail("request", err)
					return
				}
				mu.Lock()
				ans.requests[r.ID] = true
				var a *approverKeys
				var step uint64
				for _, cand := range approvers {
					if s, ok := cand.next(time.Now()); ok {
						a, step = cand, s
						cand.spent = s // spent as soon as it is sent: the answer may be lost
						break
					}
				}
				mu.Unlock()
				if a == nil {
					if _, err := cl.Cancel(ctx, r.ID); err != nil {
						fail("cancel", err)
						return
					}
					mu.Lock()
					ans.cancelled[r.ID] = true
					mu.Unlock()
					continue
				}
				code, _ := rules.CodeAt(a.secret, step)
				res, err := cl.Approve(ctx, r.ID, a.id, code)
				if err != nil {
					fail("approval", err)
					return
				}
				if res.Session == nil {
					driverErr = fmt.Errorf("approval of %s by %s issued no session", r.ID, a.id)
					return
				}
				mu.Lock()
				ans.sessions[res.Session.ID] = r.ID
				ans.steps[a.id] = max(ans.steps[a.id], step)
				mu.Unlock()
			}
		}()
		time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
		killed.Store(true)
		d.kill()
		wg.Wait()
		if driverErr != nil {
			t.Fatalf("cycle %d: %v\n%s", cycle, driverErr, d.logs)
		}

		// The chain verifies up to the last whole line; a torn last line is reported as torn
		// and everything before it verifies.
		v, code := c.verify()
		if !v.OK {
			if code != exitRefused || !v.Torn || !strings.Contains(v.Reason, "torn") {
				t.Fatalf("cycle %d: audit verify after kill -9: exit %d, %+v (want ok, or a torn last line)", cycle, code, v)
			}
			raw, err := os.ReadFile(auditPath)
			if err != nil {
				t.Fatal(err)
			}
			whole := raw[:bytes.LastIndexByte(raw, '\n')+1]
			if res, err := audit.Verify(bytes.NewReader(whole)); err != nil || res.Lines != v.Line-1 {
				t.Fatalf("cycle %d: the lines before the torn one: %d lines, %v", cycle, res.Lines, err)
			}
			torn++
			// What the daemon asks for before it starts again.
			c.ok("", "audit", "repair")
		}
		lines := readTrail(t, auditPath)
		appendsPerCycle += len(lines) - before
		seen := map[string]map[string]bool{}
		for _, l := range lines {
			// A session's lines are known by the session, the others by their request.
			id, ok := l.Fields["session_id"].(string)
			if !ok {
				id, ok = l.Fields["request_id"].(string)
			}
			if ok {
				if seen[l.Event] == nil {
					seen[l.Event] = map[string]bool{}
				}
				seen[l.Event][id] = true
			}
		}
		mu.Lock()
		for id := range ans.requests {
			if !seen["request"][id] {
				t.Fatalf("cycle %d: request %s was answered, but the trail has no request line for it", cycle, id)
			}
		}
		for id := range ans.cancelled {
			if !seen["request_cancelled"][id] {
				t.Fatalf("cycle %d: request %s was cancelled, but the trail does not say so", cycle, id)
			}
		}
		for sid, rid := range ans.sessions {
			if !seen["session_issued"][sid] || !seen["approval"][rid] {
				t.Fatalf("cycle %d: session %s (request %s) was issued, but the trail lacks its approval or session line", cycle, sid, rid)
			}
		}
		sessions = len(ans.sessions)
		mu.Unlock()
		// Every session the trail shows was one the client asked for: no session appears that
		// no approval line explains.
		for sid := range seen["session_issued"] {
			if _, ok := ans.sessions[sid]; !ok {
				// Issued, but the answer was lost in the kill: its approval line must be there.
				found := false
				for _, l := range lines {
					if l.Event == "session_issued" && l.Fields["session_id"] == sid {
						found = seen["approval"][fmt.Sprint(l.Fields["request_id"])]
					}
				}
				if !found {
					t.Fatalf("cycle %d: session %s in the trail without its approval", cycle, sid)
				}
			}
		}
		// state.json is whole and remembers every step an answered approval spent.
		var st struct {
			Approvers map[string]struct {
				LastStep uint64 `json:"last_step"`
			} `json:"approvers"`
		}
		raw, err := os.ReadFile(statePath)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("cycle %d: state.json after kill -9: %v", cycle, err)
		}
		for id, step := range ans.steps {
			if got := st.Approvers[id].LastStep; got < step {
				t.Fatalf("cycle %d: approver %s: state.json last_step %d, but an approval with step %d was answered", cycle, id, got, step)
			}
		}
	}
	// One more start on the same home after the last kill.
	d, cl = c.launch()
	if ss, err := cl.ListSessions(ctx); err != nil || len(ss) != 0 {
		t.Fatalf("sessions after the last restart: %v %+v", err, ss)
	}
	d.stop()
	if v, code := c.verify(); !v.OK || code != exitOK {
		t.Fatalf("audit verify after a clean stop: exit %d, %+v", code, v)
	}
	leftover, _ := filepath.Glob(filepath.Join(c.home, "state.json.tmp-*"))
	if len(leftover) > 0 {
		t.Errorf("half-written state files left behind: %v", leftover)
	}
	el := time.Since(t0)
	t.Logf("%d kills in %v (%v each): %d sessions issued, %d audit lines per run on average, %d torn last lines, %d replays refused",
		kills, el.Round(time.Millisecond), (el / time.Duration(kills)).Round(time.Millisecond), sessions, appendsPerCycle/kills, torn, replays)
}

// A torn last line (what a crash mid-write leaves) is reported as torn, with the lines before
// it proven; a changed line in the middle is reported as tampering, not as torn.
func TestFaultVerifyTellsTornFromTampered(t *testing.T) {
	needKeyring(t)
	c := faultCLI(t)
	d, cl := c.launch()
	ctx := context.Background()
	for range 3 {
		if _, err := cl.Lock(ctx, "fault test"); err != nil {
			t.Fatal(err)
		}
	}
	d.stop()
	raw, err := os.ReadFile(filepath.Join(c.home, auditName))
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(raw, []byte("\n"))
	tornPath := filepath.Join(c.home, "torn.jsonl")
	if err := os.WriteFile(tornPath, raw[:len(raw)-20], 0o600); err != nil {
		t.Fatal(err)
	}
	v, code := c.verify("--file", tornPath)
	if code != exitRefused || v.OK || !v.Torn || v.Line != uint64(n) || v.Lines != uint64(n-1) {
		t.Fatalf("torn last line: exit %d, %+v (want torn at line %d after %d good lines)", code, v, n, n-1)
	}
	_, errs, _ := c.run("", "audit", "verify", "--file", tornPath)
	if !strings.Contains(errs, "torn") || !strings.Contains(errs, "foureyes audit repair") || strings.Contains(errs, "does NOT verify") {
		t.Fatalf("torn last line, in words: %q", errs)
	}
	tampered := bytes.Clone(raw)
	i := bytes.Index(tampered, []byte(`"fault test"`))
	tampered[i+1] = 'F'
	tamperedPath := filepath.Join(c.home, "tampered.jsonl")
	if err := os.WriteFile(tamperedPath, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, code := c.verify("--file", tamperedPath); code != exitRefused || v.OK || v.Torn {
		t.Fatalf("changed line: exit %d, %+v (want a failure that is not torn)", code, v)
	}
	if _, errs, _ := c.run("", "audit", "verify", "--file", tamperedPath); !strings.Contains(errs, "does NOT verify") {
		t.Fatalf("changed line, in words: %q", errs)
	}
}

// statusOf runs `foureyes status --json` and decodes it. Only the problems a test sets up are
// looked at: another program may hold the bridge port for a moment (the daemon retries).
func (c *cli) statusOf() api.Status {
	c.t.Helper()
	out, errs, code := c.run("", "status", "--json")
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || (code != exitOK && code != exitRefused) {
		c.t.Fatalf("foureyes status: exit %d, %v\n%s%s", code, err, out, errs)
	}
	return st
}

// needRoot stops a test that must mount file systems (a small tmpfs, a read-only bind mount).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Need(t, "root (to mount a small tmpfs and a read-only bind mount)", "run the tests as root, as CI does")
	}
}

func mount(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func umount(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		t.Errorf("umount %s: %v\n%s", dir, err, out)
	}
}

// faultSetup gives the daemon an account and one confirmed approver, and returns the
// approver's keys and a pending request.
func faultSetup(t *testing.T, cl *adminsock.Client) (*approverKeys, api.Request) {
	t.Helper()
	ctx := context.Background()
	if _, err := cl.AddAccount(ctx, api.NewAccount{Platform: "x", Handle: "@ministry", Username: "press@example.org", Password: "pw-1"}); err != nil {
		t.Fatal(err)
	}
	en, err := cl.EnrollApprover(ctx, api.NewApprover{ID: "anna", Name: "Anna"})
	if err != nil {
		t.Fatal(err)
	}
	a := &approverKeys{id: "anna", secret: en.Secret}
	s, _ := a.next(time.Now())
	code, _ := rules.CodeAt(a.secret, s)
	if _, err := cl.ConfirmApprover(ctx, a.id, code); err != nil {
		t.Fatal(err)
	}
	a.spent = s
	r, err := cl.CreateRequest(ctx, api.NewRequest{Account: "x:@ministry", Action: "post", Text: "Guten Morgen!"})
	if err != nil {
		t.Fatal(err)
	}
	return a, r
}

// approve approves r with a's next code. A refused approval does not spend the step: the
// daemon undoes everything it changed, the spent step included.
func (a *approverKeys) approve(t *testing.T, cl *adminsock.Client, r api.Request) (api.Approval, error) {
	t.Helper()
	s, ok := a.next(time.Now())
	if !ok {
		// Both steps spent: the next one comes within 30 seconds.
		time.Sleep(time.Until(time.Unix(int64(rules.Step(time.Now())+1)*rules.StepSeconds, 0)))
		s, _ = a.next(time.Now())
	}
	code, _ := rules.CodeAt(a.secret, s)
	res, err := cl.Approve(context.Background(), r.ID, a.id, code)
	if err == nil {
		a.spent = s
	}
	return res, err
}

// noSessionAnywhere checks that the daemon holds no session and the trail shows none.
func noSessionAnywhere(t *testing.T, c *cli, cl *adminsock.Client) {
	t.Helper()
	if ss, err := cl.ListSessions(context.Background()); err != nil || len(ss) != 0 {
		t.Fatalf("sessions: %v %+v", err, ss)
	}
	for _, l := range readTrail(t, filepath.Join(c.home, auditName)) {
		if l.Event == "session_issued" {
			t.Fatalf("the trail shows a session: %+v", l)
		}
	}
}

// wholeState checks that state.json parses and no temporary state file is left.
func wholeState(t *testing.T, home string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(home, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("state.json is not whole: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(home, "state.json.tmp-*")); len(left) > 0 {
		t.Fatalf("half-written state files left: %v", left)
	}
	return raw
}

// errorSays checks that err has code and that its message contains every one of want.
func errorSays(t *testing.T, err error, code api.Code, want ...string) {
	t.Helper()
	if api.CodeOf(err) != code {
		t.Fatalf("error %v: code %s, want %s", err, api.CodeOf(err), code)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// The disk holding FOUREYES_HOME fills up while the daemon runs: an approval (whose state
// cannot be saved) and a request (whose audit line cannot be written) are refused with errors
// that name the file and say to free disk space; no session is issued, nothing is half-written;
// once space is free again the same daemon approves without a restart.
func TestFaultDiskFull(t *testing.T) {
	needKeyring(t)
	needRoot(t)
	c := faultCLI(t)
	pol, err := os.ReadFile(filepath.Join(c.home, "no-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	mount(t, "-t", "tmpfs", "-o", "size=1m,mode=0700", "foureyes-fault", c.home)
	t.Cleanup(func() { umount(t, c.home) })
	if err := os.WriteFile(filepath.Join(c.home, "no-policy.json"), pol, 0o600); err != nil {
		t.Fatal(err)
	}
	d, cl := c.launch()
	a, r := faultSetup(t, cl)
	before := wholeState(t, c.home)

	// Fill the disk to the last byte.
	filler := filepath.Join(c.home, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for _, n := range []int{512, 64, 1} {
		for {
			if _, err := f.Write(block[:n]); err != nil {
				break
			}
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}

	ctx := context.Background()
	_, err = a.approve(t, cl, r)
	errorSays(t, err, api.CodeInternal, filepath.Join(c.home, "state.json"), "free disk space", "nothing was done")
	// Lines still fit into the audit log's last block for a while; every answered one must be
	// in the trail, and the first that does not fit is refused.
	answeredIDs := map[string]bool{}
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatal("200 requests and cancellations on a full disk, and no audit line failed")
		}
		r2, err := cl.CreateRequest(ctx, api.NewRequest{Account: "x:@ministry", Action: "post", Text: fmt.Sprintf("Beitrag %d", i)})
		if err == nil {
			answeredIDs[r2.ID] = true
			_, err = cl.Cancel(ctx, r2.ID)
		}
		if err != nil {
			errorSays(t, err, api.CodeAuditUnavailable, filepath.Join(c.home, auditName), "free disk space", "nothing was done")
			break
		}
	}
	for _, l := range readTrail(t, filepath.Join(c.home, auditName)) {
		if l.Event == "request" {
			delete(answeredIDs, fmt.Sprint(l.Fields["request_id"]))
		}
	}
	if len(answeredIDs) > 0 {
		t.Fatalf("requests answered on a full disk but missing from the trail: %v", answeredIDs)
	}
	noSessionAnywhere(t, c, cl)
	if got := wholeState(t, c.home); !bytes.Equal(got, before) {
		t.Fatalf("state.json changed although nothing was done:\n%s\nwas\n%s", got, before)
	}
	out := c.status(exitRefused)
	if !strings.Contains(out, "audit_error") {
		t.Fatalf("status with a full disk: %s", out)
	}
	if v, _ := c.verify(); !v.OK {
		t.Fatalf("audit verify with a full disk: %+v", v)
	}

	// Space returns: the same daemon approves, and status is healthy after the next line.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	res, err := a.approve(t, cl, r)
	if err != nil || res.Session == nil {
		t.Fatalf("approval once space is back: %v %+v", err, res)
	}
	if st := c.statusOf(); st.AuditError != "" {
		t.Fatalf("status still shows the audit problem: %s", st.AuditError)
	}
	d.stop()
	if v, _ := c.verify(); !v.OK {
		t.Fatalf("audit verify after the disk was full: %+v", v)
	}
}

// The state directory turns read-only while the daemon runs (a read-only bind mount as root,
// chmod 0500 otherwise): an approval is refused with an error that names state.json and says
// to make its folder writable; no session is issued; once writable again the same daemon
// approves without a restart.
func TestFaultReadOnlyStateDirectory(t *testing.T) {
	needKeyring(t)
	c := faultCLI(t)
	d, cl := c.launch()
	a, r := faultSetup(t, cl)
	before := wholeState(t, c.home)
	var writable func()
	if os.Geteuid() == 0 {
		// Root writes through a mode of 0500; a read-only mount stops it. The daemon's audit
		// log, opened before, stays writable: only the state folder is read-only.
		mount(t, "--bind", c.home, c.home)
		mount(t, "-o", "remount,bind,ro", c.home)
		done := false
		writable = func() {
			if !done {
				done = true
				umount(t, c.home)
			}
		}
		t.Cleanup(writable)
	} else {
		if err := os.Chmod(c.home, 0o500); err != nil {
			t.Fatal(err)
		}
		writable = func() { _ = os.Chmod(c.home, 0o700) }
		t.Cleanup(writable)
	}
	_, err := a.approve(t, cl, r)
	errorSays(t, err, api.CodeInternal, filepath.Join(c.home, "state.json"), "writable", "nothing was done")
	noSessionAnywhere(t, c, cl)
	if got := wholeState(t, c.home); !bytes.Equal(got, before) {
		t.Fatalf("state.json changed although nothing was done")
	}
	writable()
	res, err := a.approve(t, cl, r)
	if err != nil || res.Session == nil {
		t.Fatalf("approval once the folder is writable again: %v %+v", err, res)
	}
	d.stop()
	if v, _ := c.verify(); !v.OK {
		t.Fatalf("audit verify: %+v", v)
	}
}

// privateKeyring is a D-Bus session bus and a gnome-keyring-daemon this test starts (and so may
// lock, kill and start again). The bus has no service files: a keyring that is gone stays gone
// instead of being started again, locked, by D-Bus activation.
type privateKeyring struct {
	t       *testing.T
	dir     string
	addr    string
	keyring *exec.Cmd
	env     []string
}

const privateKeyringPassword = "foureyes-fault"

func newPrivateKeyring(t *testing.T) *privateKeyring {
	t.Helper()
	busd := testenv.Program(t, "", "dbus", "dbus-daemon")
	testenv.Program(t, "", "gnome-keyring", "gnome-keyring-daemon")
	testenv.Program(t, "", "dbus", "dbus-send")
	dir := t.TempDir()
	for _, d := range []string{"home", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=`+dir+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600); err != nil {
		t.Fatal(err)
	}
	bus := exec.Command(busd, "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Process.Kill(); _ = bus.Wait() })
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := out.Read(b); err != nil {
			t.Fatalf("dbus-daemon printed no address: %v", err)
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	k := &privateKeyring{t: t, dir: dir, addr: string(line)}
	k.env = []string{"DBUS_SESSION_BUS_ADDRESS=" + k.addr, "HOME=" + filepath.Join(dir, "home"), "XDG_RUNTIME_DIR=" + filepath.Join(dir, "run")}
	k.start()
	t.Cleanup(k.kill)
	return k
}

// start runs gnome-keyring-daemon, unlocked with the login keyring's password (the same each
// time, so the secrets stored before are there again), and waits until it is on the bus.
func (k *privateKeyring) start() {
	k.t.Helper()
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	cmd.Env = append(os.Environ(), k.env...)
	cmd.Stdin = strings.NewReader(privateKeyringPassword)
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	k.keyring = cmd
	for i := 0; !k.onBus(); i++ {
		if i == 200 {
			k.t.Fatal("gnome-keyring-daemon did not appear on the bus")
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (k *privateKeyring) dbusSend(args ...string) (string, error) {
	cmd := exec.Command("dbus-send", append([]string{"--bus=" + k.addr, "--print-reply"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k *privateKeyring) onBus() bool {
	out, err := k.dbusSend("--dest=org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets")
	return err == nil && strings.Contains(out, "boolean true")
}

// lock locks the login collection, as a screen lock or `Lock` in Seahorse does.
func (k *privateKeyring) lock() {
	k.t.Helper()
	if out, err := k.dbusSend("--dest=org.freedesktop.secrets", "/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
		"array:objpath:/org/freedesktop/secrets/collection/login"); err != nil {
		k.t.Fatalf("locking the keyring: %v\n%s", err, out)
	}
}

// kill ends the keyring daemon (SIGKILL): the Secret Service is gone from the bus.
func (k *privateKeyring) kill() {
	if k.keyring == nil {
		return
	}
	_ = k.keyring.Process.Kill()
	_ = k.keyring.Wait()
	k.keyring = nil
	for i := 0; k.onBus() && i < 200; i++ {
		time.Sleep(25 * time.Millisecond)
	}
}

// The keyring is locked, then the Secret Service disappears, while the daemon runs: approvals
// fail closed with keyring_locked and then no_keyring, `foureyes status` says so and exits 1,
// no session is issued, nothing is recorded as approved; when the keyring is back the same
// daemon approves again and status is healthy.
func TestFaultKeyringGoneMidRun(t *testing.T) {
	k := newPrivateKeyring(t)
	c := faultCLI(t)
	c.env = append(c.env, "DBUS_SESSION_BUS_ADDRESS="+k.addr)
	d, cl := c.launch()
	a, r := faultSetup(t, cl)
	ctx := context.Background()

	check := func(code api.Code, what string) {
		t.Helper()
		_, err := a.approve(t, cl, r)
		errorSays(t, err, code, "approver anna", "keyring")
		// Staff asking for a new approval still may (no secret is needed for that), but no
		// code is checked, so nothing is approved.
		noSessionAnywhere(t, c, cl)
		out, errs, exit := c.run("", "status")
		if exit != exitRefused || !strings.Contains(out, "keyring unavailable: ") {
			t.Fatalf("status with the keyring %s: exit %d\n%s%s", what, exit, out, errs)
		}
		var st api.Status
		if err := json.Unmarshal([]byte(c.status(exitRefused)), &st); err != nil || st.KeyringError == "" {
			t.Fatalf("status --json with the keyring %s: %v %+v", what, err, st)
		}
	}
	k.lock()
	check(api.CodeKeyringLocked, "locked")
	k.kill()
	check(api.CodeNoKeyring, "gone")
	for _, l := range readTrail(t, filepath.Join(c.home, auditName)) {
		if l.Event == "approval" {
			t.Fatalf("an approval was recorded without the keyring: %+v", l)
		}
	}

	// Back, unlocked: the same daemon approves, and status is healthy at once.
	k.start()
	res, err := a.approve(t, cl, r)
	if err != nil || res.Session == nil {
		t.Fatalf("approval with the keyring back: %v %+v", err, res)
	}
	if st := c.statusOf(); st.KeyringError != "" {
		t.Fatalf("status still shows the keyring problem: %s", st.KeyringError)
	}
	if ss, err := cl.ListSessions(ctx); err != nil || len(ss) != 1 {
		t.Fatalf("sessions: %v %+v", err, ss)
	}
	d.stop()
}
