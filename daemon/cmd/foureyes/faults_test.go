package main

// Whole-daemon faults: the real foureyes binary, the real keyring and the audit log on disk,
// broken on purpose (killed with SIGKILL mid-stream, its disk full or read-only, its keyring
// gone). Each fault asserts that nothing was published, issued or lost. daemon/docs/faults.md
// describes them.

import (
	"bytes"
	"context"
	"encoding/json"
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
		en, err := cl.EnrollApprover(ctx, api.NewApprover{ID: fmt.Sprintf("approver%d", i), Name: fmt.Sprintf("Approver %d", i)})
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
	var lastAnswered struct {
		approver *approverKeys
		step     uint64
	}
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
		// kill and the restart.
		if a := lastAnswered.approver; a != nil && cycle%10 == 0 && rules.Step(time.Now()) <= lastAnswered.step {
			r, err := cl.CreateRequest(ctx, api.NewRequest{Account: account, Action: "post", Text: "replay probe"})
			if err != nil {
				t.Fatal(err)
			}
			code, _ := rules.CodeAt(a.secret, lastAnswered.step)
			if _, err := cl.Approve(ctx, r.ID, a.id, code); api.CodeOf(err) != api.CodeReplayed {
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
				lastAnswered.approver, lastAnswered.step = a, step
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
