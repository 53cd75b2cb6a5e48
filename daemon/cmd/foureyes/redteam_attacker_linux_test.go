package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	byteorder "encoding/binary"

	"github.com/gorilla/websocket"
	"github.com/zalando/go-keyring"
	ss "github.com/zalando/go-keyring/secret_service"
)

// The red team's attacker: the test binary run as the staff user (see redteam_linux_test.go),
// inside a D-Bus session of its own with an unlocked gnome-keyring, in a home of its own. It
// reads its brief on standard input, tries everything a staff member in full control of their
// own account can try, and prints one JSON report on standard output.
//
// The brief carries the secrets it hunts for (needles), so it can tell what it found; it never
// searches its own memory, only what it can reach: files, its keyring, its environment, and the
// memory of the other processes it runs (the native-messaging host and a foureyes command).
const redTeamEnv = "FOUREYES_TEST_RED_TEAM"

func init() {
	if os.Getenv(redTeamEnv) != "" {
		os.Exit(redTeam())
	}
}

// redTeamBrief is what the test tells the attacker: where things are (what a staff member
// can learn from `foureyes status`, the packages' file list and ps), the staff member's own
// approver phone (they are the approver Own), and the needles.
type redTeamBrief struct {
	Bin, Socket, Policy  string
	State, Trail         string
	StateFile, Key       string
	SecretsDir           string
	SecretFiles          []string
	ServicePID           int
	Port                 int
	Origin               string
	Account              string
	Colleague            string // another OS user of the laptop
	ColleagueToken       string // a bridge token the colleague's native host fetched
	ColleagueRequest     string // a request the colleague made
	Own, Other           string // the staff member's own approver id, and the press officer's
	OwnSeed              string // the staff member's own phone (not a secret from them)
	Walk                 []string
	At                   time.Time // the codes of found seeds are computed at At, At+30 s, At+60 s
	Needles              []needle
	OathtoolPath         string
	ExpectedPolicySource string
	// Phase "colleague's session" runs after an approver approved the colleague's request.
	Phase string
}

const phaseColleagueSession = "colleague's session"

type needle struct {
	Name  string
	Bytes []byte
}

// attempt is one line of the report: what was tried, what came back, and whether the
// defence held (the attacker's own judgement, checked again by the test).
type attempt struct {
	Name  string   `json:"name"`
	Tried string   `json:"tried"`
	Found string   `json:"found"`
	Held  bool     `json:"held"`
	Leaks []string `json:"leaks,omitempty"` // needles found, with where
}

// candidate is a string in what the attacker read that could be a base32 TOTP seed, with the
// codes oathtool computes from it at At, At+30 s and At+60 s.
type candidate struct {
	Seed  string   `json:"seed"`
	Where string   `json:"where"`
	Codes []string `json:"codes"`
}

type redTeamReport struct {
	Attempts   []attempt   `json:"attempts"`
	Candidates []candidate `json:"candidates"`
	BytesRead  int64       `json:"bytes_read"`
	Error      string      `json:"error,omitempty"`
}

// rt is the attacker's state while it works.
type rt struct {
	b          redTeamBrief
	report     redTeamReport
	seen       map[string]bool // candidate seeds already collected
	maxNeedle  int
	hostToken  string
	ownRequest string
	// control is a value the attacker knows is in what it reads (its own bridge token in the
	// native host's memory): seeing it proves the reading works.
	control     []byte
	controlSeen bool
}

func redTeam() int {
	var r rt
	if err := json.NewDecoder(os.Stdin).Decode(&r.b); err != nil {
		fmt.Printf(`{"error":%q}`+"\n", "reading the brief: "+err.Error())
		return 0
	}
	r.seen = map[string]bool{}
	for _, n := range r.b.Needles {
		r.maxNeedle = max(r.maxNeedle, len(n.Bytes))
	}
	if r.b.Phase == phaseColleagueSession {
		r.colleaguesSession()
	} else {
		r.run()
	}
	out, _ := json.Marshal(r.report)
	fmt.Println(string(out))
	return 0
}

func (r *rt) add(a attempt) { r.report.Attempts = append(r.report.Attempts, a) }

func (r *rt) run() {
	// First, while it is live: a bridge token is good for a minute after the colleague's native
	// host fetched it, and the reading below takes about that long on a loaded machine. Presented
	// too late it is refused as expired, which is no test of the other-user check.
	r.colleagueToken()
	// Reading.
	r.keyring()
	r.environment()
	r.ownProcesses()
	r.serviceProcess()
	r.serviceFiles()
	r.walk()
	// Attacks.
	r.totpFromFound()
	r.editState()
	r.widenPolicy()
	r.rewriteTrail()
	r.pretendOnSocket()
	r.selfApprove()
	r.enrolOwnApprover()
	r.colleaguesRequest()
	r.itOnly()
	r.bridgeWithoutSession()
	r.guessUntilThrottled()
}

// --- scanning ---

// scanner looks through a stream of bytes for the needles and for base32 runs.
type scanner struct {
	r     *rt
	where string
	leaks map[string]bool
	tail  []byte
	run   []byte // the base32 run in progress across chunks
	n     int64
}

func (r *rt) scan(where string) *scanner {
	return &scanner{r: r, where: where, leaks: map[string]bool{}}
}

func isB32(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7') }

func (s *scanner) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	s.r.report.BytesRead += int64(len(p))
	buf := append(s.tail, p...)
	if len(s.r.control) > 0 && bytes.Contains(buf, s.r.control) {
		s.r.controlSeen = true
	}
	for _, n := range s.r.b.Needles {
		if len(n.Bytes) > 0 && bytes.Contains(buf, n.Bytes) {
			s.leaks[n.Name] = true
		}
	}
	if k := s.r.maxNeedle - 1; k > 0 && len(buf) > k {
		s.tail = append([]byte(nil), buf[len(buf)-k:]...)
	} else {
		s.tail = append([]byte(nil), buf...)
	}
	for _, c := range p {
		if isB32(c) {
			if len(s.run) <= 64 {
				s.run = append(s.run, c)
			}
			continue
		}
		s.endRun()
	}
	return len(p), nil
}

// endRun keeps a finished run of 16 to 64 base32 letters as a candidate seed. At most 400
// distinct candidates are kept: each costs an oathtool run.
func (s *scanner) endRun() {
	if n := len(s.run); n >= 16 && n <= 64 && !s.r.seen[string(s.run)] && len(s.r.seen) < 400 {
		s.r.seen[string(s.run)] = true
		s.r.report.Candidates = append(s.r.report.Candidates, candidate{Seed: string(s.run), Where: s.where})
	}
	s.run = s.run[:0]
}

// done ends the stream and returns the needles found, named with where.
func (s *scanner) done() []string {
	s.endRun()
	var out []string
	for _, n := range s.r.b.Needles {
		if s.leaks[n.Name] {
			out = append(out, n.Name+" in "+s.where)
		}
	}
	return out
}

func (r *rt) scanBytes(where string, b []byte) []string {
	s := r.scan(where)
	_, _ = s.Write(b)
	return s.done()
}

// --- reading ---

// keyring dumps every item of the staff member's own Secret Service after running foureyes
// commands inside the same session; a note of their own stored first shows the dump works.
func (r *rt) keyring() {
	a := attempt{Name: "own keyring", Tried: "store a note of my own, run foureyes (status, request, native host) in the same D-Bus session, then dump every item of my login keyring (labels, attributes, secrets)"}
	note := "my-own-note-" + randHex(8)
	if err := keyring.Set("staff-notes", "me", note); err != nil {
		a.Found = "the keyring does not work: " + err.Error()
		r.add(a)
		return
	}
	_, _, _ = r.foureyes("", "status", "--json")
	_, _, _ = r.foureyes("Aus dem Schlüsselbund\n", "request", "--account", r.b.Account, "--text-file", "-", "--json")
	svc, err := ss.NewSecretService()
	if err != nil {
		a.Found = "no Secret Service: " + err.Error()
		r.add(a)
		return
	}
	sess, err := svc.OpenSession()
	if err != nil {
		a.Found = "opening a session: " + err.Error()
		r.add(a)
		return
	}
	defer func() { _ = svc.Close(sess) }()
	coll := svc.GetLoginCollection()
	_ = svc.Unlock(coll.Path())
	items, err := svc.SearchItems(coll, map[string]string{})
	if err != nil {
		a.Found = "listing items: " + err.Error()
		r.add(a)
		return
	}
	var dump bytes.Buffer
	var labels []string
	for _, it := range items {
		obj := svc.Object("org.freedesktop.secrets", it)
		if v, err := obj.GetProperty("org.freedesktop.Secret.Item.Label"); err == nil {
			labels = append(labels, fmt.Sprint(v.Value()))
			fmt.Fprintln(&dump, v.Value())
		}
		if v, err := obj.GetProperty("org.freedesktop.Secret.Item.Attributes"); err == nil {
			fmt.Fprintln(&dump, v.Value())
		}
		if sec, err := svc.GetSecret(it, sess.Path()); err == nil {
			dump.Write(sec.Value)
			dump.WriteByte('\n')
		}
	}
	a.Leaks = r.scanBytes("the keyring", dump.Bytes())
	control := bytes.Contains(dump.Bytes(), []byte(note))
	a.Found = fmt.Sprintf("%d item(s) %q; my own note read back: %v", len(items), labels, control)
	a.Held = control && len(items) == 1 && len(a.Leaks) == 0
	r.add(a)
}

// environment reads the attacker's environment and that of every process it may read.
func (r *rt) environment() {
	a := attempt{Name: "environments and command lines", Tried: "my environment, and /proc/*/environ and /proc/*/cmdline of every process on the machine"}
	s := r.scan("environments and command lines")
	for _, kv := range os.Environ() {
		_, _ = s.Write([]byte(kv + "\n"))
	}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	envs, cmds := 0, 0
	for _, p := range pids {
		if b, err := os.ReadFile(p + "/environ"); err == nil {
			envs++
			_, _ = s.Write(b)
			_, _ = s.Write([]byte{0})
		}
		if b, err := os.ReadFile(p + "/cmdline"); err == nil {
			cmds++
			_, _ = s.Write(b)
			_, _ = s.Write([]byte{0})
		}
	}
	a.Leaks = s.done()
	a.Found = fmt.Sprintf("%d processes; environments readable: %d (my own), command lines: %d", len(pids), envs, cmds)
	a.Held = len(a.Leaks) == 0
	r.add(a)
}

// ownProcesses runs the native-messaging host (as the browser would, through a hello) and a
// foureyes command waiting for its code, and reads their whole memory through /proc/PID/mem.
func (r *rt) ownProcesses() {
	a := attempt{Name: "memory of my own foureyes processes", Tried: "run the native-messaging host (hello answered: it fetched my bridge token from the service) and `foureyes approve` waiting at its code prompt, then read every readable mapping of both through /proc/PID/mem"}
	host := exec.Command(r.b.Bin, r.b.Origin+"/")
	host.Env = os.Environ()
	in, _ := host.StdinPipe()
	outp, _ := host.StdoutPipe()
	if err := host.Start(); err != nil {
		a.Found = "starting the native host: " + err.Error()
		r.add(a)
		return
	}
	defer func() { _ = in.Close(); _ = host.Process.Kill(); _ = host.Wait() }()
	msg := []byte(fmt.Sprintf(`{"v":1,"id":1,"type":"hello","origin":%q}`, r.b.Origin))
	_, _ = in.Write(append(byteorder.NativeEndian.AppendUint32(nil, uint32(len(msg))), msg...))
	var n uint32
	if err := binaryRead(outp, &n); err == nil {
		body := make([]byte, n)
		if _, err := io.ReadFull(outp, body); err == nil {
			var reply struct{ Token string }
			_ = json.Unmarshal(body, &reply)
			r.hostToken = reply.Token
		}
	}
	// A foureyes command at its code prompt: it has asked the service nothing secret, but it
	// is the process a staff member can stop at will.
	wait := exec.Command(r.b.Bin, "approve", "r-none", "--approver", r.b.Other)
	wait.Env = os.Environ()
	win, _ := wait.StdinPipe()
	werr, _ := wait.StderrPipe()
	wait.Stdout = io.Discard
	if err := wait.Start(); err != nil {
		a.Found = "starting foureyes approve: " + err.Error()
		r.add(a)
		return
	}
	defer func() { _ = win.Close(); _ = wait.Process.Kill(); _ = wait.Wait() }()
	// Ready when it has printed its prompt (on standard error).
	if f, ok := werr.(*os.File); ok {
		_ = f.SetReadDeadline(time.Now().Add(20 * time.Second))
	}
	_, _ = werr.Read(make([]byte, 1))
	var found []string
	var leaks []string
	r.control = []byte(r.hostToken)
	for _, p := range []struct {
		name string
		pid  int
	}{{"native host", host.Process.Pid}, {"foureyes approve", wait.Process.Pid}} {
		n, l, err := r.readMemory(p.name, p.pid)
		if err != nil {
			found = append(found, fmt.Sprintf("%s (pid %d): %v", p.name, p.pid, err))
			continue
		}
		leaks = append(leaks, l...)
		found = append(found, fmt.Sprintf("%s (pid %d): %d bytes read", p.name, p.pid, n))
	}
	a.Leaks = leaks
	a.Found = strings.Join(found, "; ") + fmt.Sprintf("; control: my bridge token, which the native host fetched, seen in its memory: %v", r.controlSeen)
	// The reads must have worked (it is the staff member's own process) and found nothing.
	a.Held = len(leaks) == 0 && r.hostToken != "" && r.controlSeen
	r.control = nil
	r.add(a)
}

func binaryRead(rd io.Reader, n *uint32) error {
	var b [4]byte
	if _, err := io.ReadFull(rd, b[:]); err != nil {
		return err
	}
	*n = byteorder.NativeEndian.Uint32(b[:])
	return nil
}

// readMemory reads every readable mapping of pid.
func (r *rt) readMemory(name string, pid int) (int64, []string, error) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, nil, err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = mem.Close() }()
	s := r.scan("the memory of " + name)
	buf := make([]byte, 1<<20)
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1][0] != 'r' || (len(f) >= 6 && f[5] == "[vvar]") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		for off := start; off < end; {
			k := min(uint64(len(buf)), end-off)
			got, err := mem.ReadAt(buf[:k], int64(off))
			if got > 0 {
				_, _ = s.Write(buf[:got])
			}
			if err != nil {
				break
			}
			off += uint64(got)
		}
	}
	n := s.n
	return n, s.done(), nil
}

// serviceProcess tries the service's /proc entries: its memory, environment, mappings, open
// files, root, and attaching a debugger. Its command line is world-readable and is scanned.
func (r *rt) serviceProcess() {
	a := attempt{Name: "the service's process", Tried: fmt.Sprintf("/proc/%d/{mem,environ,maps,fd,root,cwd} and ptrace attach", r.b.ServicePID)}
	var found []string
	denied := 0
	proc := fmt.Sprintf("/proc/%d/", r.b.ServicePID)
	for _, p := range []string{"mem", "environ", "maps"} {
		f, err := os.Open(proc + p)
		if err == nil {
			b := make([]byte, 4096)
			n, rerr := f.Read(b)
			_ = f.Close()
			if rerr == nil && n > 0 {
				found = append(found, p+": READ")
				a.Leaks = append(a.Leaks, r.scanBytes("the service's "+p, b[:n])...)
				continue
			}
			err = rerr
		}
		found = append(found, p+": "+errText(err))
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EIO) {
			denied++
		}
	}
	for _, p := range []string{"fd", "root", "cwd"} {
		_, err := os.ReadDir(proc + p)
		found = append(found, p+": "+errText(err))
		if errors.Is(err, fs.ErrPermission) {
			denied++
		}
	}
	err := syscall.PtraceAttach(r.b.ServicePID)
	if err == nil {
		_ = syscall.PtraceDetach(r.b.ServicePID)
	} else {
		denied++
	}
	found = append(found, "ptrace: "+errText(err))
	if b, err := os.ReadFile(proc + "cmdline"); err == nil {
		a.Leaks = append(a.Leaks, r.scanBytes("the service's command line", b)...)
		found = append(found, "cmdline (world-readable): "+strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " "))
	}
	a.Found = strings.Join(found, "; ")
	a.Held = denied == 7 && len(a.Leaks) == 0
	r.add(a)
}

func errText(err error) string {
	if err == nil {
		return "allowed"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// serviceFiles opens, lists and writes every file of the service by name (names a staff member
// can learn from the packages and the docs).
func (r *rt) serviceFiles() {
	a := attempt{Name: "the service's files", Tried: "list the state and secrets folders; read the state, the trail, the key, every sealed secret"}
	var found []string
	denied, total := 0, 0
	for _, d := range []string{r.b.State, r.b.SecretsDir} {
		total++
		_, err := os.ReadDir(d)
		found = append(found, "list "+d+": "+errText(err))
		if errors.Is(err, fs.ErrPermission) {
			denied++
		}
	}
	for _, p := range append([]string{r.b.StateFile, r.b.Trail, r.b.Key}, r.b.SecretFiles...) {
		total++
		b, err := os.ReadFile(p)
		if err == nil {
			a.Leaks = append(a.Leaks, r.scanBytes(p, b)...)
		} else if errors.Is(err, fs.ErrPermission) {
			denied++
		}
		found = append(found, "read "+filepath.Base(p)+": "+errText(err))
	}
	a.Found = strings.Join(found, "; ")
	a.Held = denied == total && len(a.Leaks) == 0
	r.add(a)
}

// walk reads every readable regular file under the roots (at most 64 MiB each).
func (r *rt) walk() {
	a := attempt{Name: "the file system", Tried: "read every readable file under " + strings.Join(r.b.Walk, ", ")}
	files, unreadable := 0, 0
	for _, root := range r.b.Walk {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				unreadable++
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				unreadable++
				return nil
			}
			defer func() { _ = f.Close() }()
			files++
			s := r.scan(p)
			_, _ = io.Copy(s, io.LimitReader(f, 64<<20))
			a.Leaks = append(a.Leaks, s.done()...)
			return nil
		})
	}
	a.Found = fmt.Sprintf("%d files read, %d files or folders refused", files, unreadable)
	a.Held = files > 0 && len(a.Leaks) == 0
	r.add(a)
}

// --- attacks ---

// totpFromFound tries every base32 string found as a TOTP seed with oathtool.
func (r *rt) totpFromFound() {
	a := attempt{Name: "TOTP codes from found strings", Tried: "every run of 16-64 base32 letters in all bytes read, as a seed for oathtool at three steps"}
	valid := 0
	for i := range r.report.Candidates {
		c := &r.report.Candidates[i]
		out, err := exec.Command(r.b.OathtoolPath, "--totp", "-b", "-w", "2", "--now", r.b.At.UTC().Format("2006-01-02 15:04:05 UTC"), c.Seed).Output()
		if err != nil {
			continue
		}
		c.Codes = strings.Fields(string(out))
		valid++
	}
	a.Found = fmt.Sprintf("%d candidate strings, %d accepted by oathtool as seeds; their codes go to the test, which compares them with the real ones", len(r.report.Candidates), valid)
	a.Held = true // the test decides: no candidate may give the real codes
	r.add(a)
}

func (r *rt) editState() {
	a := attempt{Name: "edit the state", Tried: "open state.json for writing, create a file in the state folder, rename state.json"}
	var found []string
	denied := 0
	if f, err := os.OpenFile(r.b.StateFile, os.O_WRONLY, 0); err == nil {
		_ = f.Close()
		found = append(found, "open for writing: allowed")
	} else {
		found = append(found, "open for writing: "+errText(err))
		denied++
	}
	if err := os.WriteFile(filepath.Join(r.b.State, "state.json.new"), []byte("{}"), 0o644); err != nil {
		found = append(found, "create: "+errText(err))
		denied++
	} else {
		found = append(found, "create: allowed")
	}
	if err := os.Rename(r.b.StateFile, r.b.StateFile+".old"); err != nil {
		found = append(found, "rename: "+errText(err))
		denied++
	} else {
		found = append(found, "rename: allowed")
	}
	a.Found = strings.Join(found, "; ")
	a.Held = denied == 3
	r.add(a)
}

// widenPolicy writes a policy that lets the staff member's own approver id approve alone,
// where user mode would read it, and asks the service to reload.
func (r *rt) widenPolicy() {
	a := attempt{Name: "widen the policy", Tried: "write a lax policy to ~/lax.json (FOUREYES_POLICY) and ~/.config/foureyes/policy.json, `foureyes policy reload`, SIGHUP to the service"}
	home := os.Getenv("HOME")
	lax := `{"version":1,"default_approvers":["` + r.b.Own + `"],"audit":{"syslog":false}}`
	_ = os.MkdirAll(filepath.Join(home, ".config", "foureyes"), 0o700)
	_ = os.WriteFile(filepath.Join(home, ".config", "foureyes", "policy.json"), []byte(lax), 0o600)
	_ = os.WriteFile(filepath.Join(home, "lax.json"), []byte(lax), 0o600)
	var found []string
	out, _, code := r.foureyesEnv([]string{"FOUREYES_POLICY=" + filepath.Join(home, "lax.json")}, "", "policy", "reload", "--json")
	var reload struct {
		PolicySource string `json:"policy_source"`
	}
	_ = json.Unmarshal([]byte(out), &reload)
	found = append(found, fmt.Sprintf("policy reload: exit %d, the service read %s", code, reload.PolicySource))
	err := syscall.Kill(r.b.ServicePID, syscall.SIGHUP)
	found = append(found, "SIGHUP: "+errText(err))
	out, _, _ = r.foureyesEnv([]string{"FOUREYES_POLICY=" + filepath.Join(home, "lax.json")}, "", "status", "--json")
	var st struct {
		PolicySource string `json:"policy_source"`
	}
	_ = json.Unmarshal([]byte(out), &st)
	found = append(found, "the service's policy now: "+st.PolicySource)
	a.Found = strings.Join(found, "; ")
	a.Held = err != nil && st.PolicySource == r.b.ExpectedPolicySource
	r.add(a)
}

func (r *rt) rewriteTrail() {
	a := attempt{Name: "rewrite the audit trail", Tried: "open the trail for appending, truncate it, `foureyes audit repair` on it"}
	var found []string
	denied := 0
	if f, err := os.OpenFile(r.b.Trail, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		_ = f.Close()
		found = append(found, "append: allowed")
	} else {
		found = append(found, "append: "+errText(err))
		denied++
	}
	if err := os.Truncate(r.b.Trail, 0); err != nil {
		found = append(found, "truncate: "+errText(err))
		denied++
	} else {
		found = append(found, "truncate: allowed")
	}
	_, errs, code := r.foureyes("", "audit", "repair", "--file", r.b.Trail)
	found = append(found, fmt.Sprintf("audit repair: exit %d %s", code, oneLine(errs)))
	// Refused as not permitted, not as a fault of the program.
	if code != 0 && strings.Contains(errs, "[not_permitted]") {
		denied++
	}
	a.Found = strings.Join(found, "; ")
	a.Held = denied == 3
	r.add(a)
}

// pretendOnSocket speaks the admin protocol directly, naming someone else.
func (r *rt) pretendOnSocket() {
	a := attempt{Name: "pretend to be someone else on the service's socket", Tried: fmt.Sprintf("request.create with requester/os_user/uid %s in the message; account.add with caller uid 0; session.consume of a made-up session; `foureyes request --as %s`", r.b.Colleague, r.b.Colleague)}
	var found []string
	held := 0
	res := r.raw(fmt.Sprintf(`{"v":1,"method":"request.create","caller":{"os_user":%q,"uid":0},"params":{"account":%q,"action":"post","text":"Im Namen der Kollegin","requester":%q,"os_user":%q,"uid":0}}`,
		r.b.Colleague, r.b.Account, r.b.Colleague, r.b.Colleague))
	var req struct {
		Result struct {
			ID, Requester string
		}
	}
	_ = json.Unmarshal([]byte(res), &req)
	found = append(found, "request.create naming "+r.b.Colleague+": requester "+strconv.Quote(req.Result.Requester))
	if me, err := user.Current(); err == nil && req.Result.Requester == me.Username {
		held++
		r.ownRequest = req.Result.ID
	}
	res = r.raw(`{"v":1,"method":"account.add","caller":{"os_user":"root","uid":0},"params":{"platform":"x","handle":"@mine","username":"me@example.org","password":"chosen"}}`)
	found = append(found, "account.add as uid 0: "+oneLine(res))
	if strings.Contains(res, `"not_permitted"`) {
		held++
	}
	res = r.raw(fmt.Sprintf(`{"v":1,"method":"session.consume","params":{"session_id":"s-made-up","account":%q,"action":"post","digest":"%s","manifest_digest":"%s"}}`, r.b.Account, strings.Repeat("0", 64), strings.Repeat("0", 64)))
	found = append(found, "session.consume: "+oneLine(res))
	if strings.Contains(res, `"error"`) {
		held++
	}
	_, errs, code := r.foureyes("x\n", "request", "--as", r.b.Colleague, "--account", r.b.Account, "--text-file", "-")
	found = append(found, fmt.Sprintf("--as: exit %d %s", code, oneLine(errs)))
	if code != 0 {
		held++
	}
	a.Found = strings.Join(found, "; ")
	a.Held = held == 4
	r.add(a)
}

// raw sends one admin-protocol line to the service's socket and returns the answer.
func (r *rt) raw(line string) string {
	c, err := net.Dial("unix", r.b.Socket)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "write: " + err.Error()
	}
	b, _ := bufio.NewReader(c).ReadBytes('\n')
	return string(b)
}

func (r *rt) colleagueToken() {
	a := attempt{Name: "use a colleague's bridge token", Tried: "connect to the bridge and present the token " + r.b.Colleague + "'s native host fetched"}
	replies := r.bridge(r.b.ColleagueToken)
	a.Found = "hello: " + replies
	a.Held = strings.Contains(replies, `"forbidden"`)
	r.add(a)
}

func (r *rt) selfApprove() {
	a := attempt{Name: "approve my own request", Tried: "as approver " + r.b.Own + " (my own phone, a valid code): through the foureyes command and through the bridge"}
	if r.ownRequest == "" {
		a.Found = "no request of my own to approve"
		r.add(a)
		return
	}
	out, _, code := r.foureyes(r.ownCode()+"\n", "approve", r.ownRequest, "--approver", r.b.Own, "--json")
	found := []string{fmt.Sprintf("command: exit %d %s", code, oneLine(out))}
	br := r.bridge("", map[string]any{"type": "approve", "request_id": r.ownRequest, "approver": r.b.Own, "code": r.ownCode()})
	found = append(found, "bridge: "+br)
	a.Found = strings.Join(found, "; ")
	a.Held = code != 0 && strings.Contains(out, "self_approval") && strings.Contains(br, "self_approval")
	r.add(a)
}

func (r *rt) enrolOwnApprover() {
	a := attempt{Name: "enrol an approver on a phone of my own", Tried: "approver enroll mallory, without a code and vouched by my own approver " + r.b.Own + "; approver remove " + r.b.Other + " vouched by " + r.b.Own}
	out1, _, code1 := r.foureyes("\n", "approver", "enroll", "mallory", "--name", "Mallory", "--json")
	out2, _, code2 := r.foureyes(r.ownCode()+"\n", "approver", "enroll", "mallory", "--name", "Mallory", "--by", r.b.Own, "--json")
	out3, _, code3 := r.foureyes(r.ownCode()+"\n", "approver", "remove", r.b.Other, "--by", r.b.Own, "--json")
	a.Found = fmt.Sprintf("no code: exit %d %s; vouched by myself: exit %d %s; remove: exit %d %s", code1, oneLine(out1), code2, oneLine(out2), code3, oneLine(out3))
	a.Held = code1 != 0 && code2 != 0 && code3 != 0 && strings.Contains(out2, "self_approval") && strings.Contains(out3, "self_approval")
	r.add(a)
}

func (r *rt) colleaguesRequest() {
	a := attempt{Name: "cancel a colleague's request", Tried: "cancel " + r.b.ColleagueRequest + " (made by " + r.b.Colleague + ")"}
	out, _, code := r.foureyes("", "cancel", r.b.ColleagueRequest, "--json")
	a.Found = fmt.Sprintf("exit %d %s", code, oneLine(out))
	a.Held = code != 0
	r.add(a)
}

func (r *rt) itOnly() {
	a := attempt{Name: "IT-only commands", Tried: "account add, account passwd, account remove, approver unlock, radius secret"}
	var found []string
	held := 0
	for _, args := range [][]string{
		{"account", "add", "--platform", "x", "--handle", "@mine", "--username", "me@example.org", "--password-stdin"},
		{"account", "passwd", r.b.Account, "--password-stdin"},
		{"account", "remove", r.b.Account},
		{"approver", "unlock", r.b.Other},
		{"radius", "secret"},
	} {
		out, _, code := r.foureyes("chosen-by-staff\n", append(args, "--json")...)
		found = append(found, fmt.Sprintf("%s %s: exit %d %s", args[0], args[1], code, errCodeOf(out)))
		if code != 0 && errCodeOf(out) == "not_permitted" {
			held++
		}
	}
	a.Found = strings.Join(found, "; ")
	a.Held = held == 5
	r.add(a)
}

// bridgeWithoutSession asks the bridge, with the staff member's own token, for what only an
// approved session gives: the account's credentials, a rotation, the open gate.
func (r *rt) bridgeWithoutSession() {
	a := attempt{Name: "publish or sign in without a session", Tried: "with my own bridge token: open, credentials, rotation and published for a made-up session and for my own pending request's id"}
	zero := strings.Repeat("0", 64)
	var found []string
	held := 0
	for _, sid := range []string{"s-made-up", r.ownRequest} {
		for _, m := range []map[string]any{
			{"type": "open", "session_id": sid, "account": r.b.Account, "action": "post", "digest": zero, "manifest_digest": zero},
			{"type": "credentials", "session_id": sid, "account": r.b.Account, "host": "x.com"},
			{"type": "rotation", "session_id": sid, "account": r.b.Account, "host": "x.com"},
			{"type": "published", "session_id": sid, "digest": zero, "manifest_digest": zero},
		} {
			reply := r.bridge("", m)
			found = append(found, fmt.Sprintf("%s(%s): %s", m["type"], sid, reply))
			// Refused for want of a session, not for the token: the connection was good.
			if strings.Contains(reply, `"type":"error"`) && !strings.Contains(reply, `"forbidden"`) && !strings.Contains(reply, "password") {
				held++
			}
		}
	}
	a.Found = strings.Join(found, "; ")
	a.Leaks = r.scanBytes("the bridge's answers", []byte(a.Found))
	a.Held = held == 8 && len(a.Leaks) == 0
	r.add(a)
}

// guessUntilThrottled approves the staff member's own request as the press officer, first
// with codes from the found strings, then with random ones, until the service throttles.
func (r *rt) guessUntilThrottled() {
	a := attempt{Name: "guess the press officer's code", Tried: "approve my own request as " + r.b.Other + " with codes from found strings, then random codes, until throttled"}
	var guesses []string
	for _, c := range r.report.Candidates {
		if len(c.Codes) > 0 {
			guesses = append(guesses, c.Codes[0])
		}
	}
	answers := map[string]int{}
	n := 0
	throttled := false
	for n < 30 && !throttled {
		g := fmt.Sprintf("%06d", randInt(1000000))
		if n < len(guesses) {
			g = guesses[n]
		}
		n++
		out, _, code := r.foureyes(g+"\n", "approve", r.ownRequest, "--approver", r.b.Other, "--json")
		if code == 0 {
			answers["APPROVED"]++
			break
		}
		c := errCodeOf(out)
		answers[c]++
		throttled = c == "throttled"
	}
	a.Found = fmt.Sprintf("%d tries: %v", n, answers)
	a.Held = throttled && answers["APPROVED"] == 0
	r.add(a)
}

// colleaguesSession finds the session an approver gave the colleague (every user may list
// sessions) and asks for what it releases, with the staff member's own bridge token: the
// account's password and 2FA code, the rotation's passwords, the open gate for its text.
func (r *rt) colleaguesSession() {
	a := attempt{Name: "use a colleague's approved session", Tried: "list sessions, then with my own bridge token: credentials, rotation, open (with the session's own digests), published, signed_out for " + r.b.Colleague + "'s session"}
	out, _, code := r.foureyes("", "sessions", "--json")
	var sessions []struct {
		ID, Account, Action, Digest, Requester, State string
		ManifestDigest                                string `json:"manifest_digest"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &sessions) != nil {
		a.Found = fmt.Sprintf("sessions: exit %d %s", code, oneLine(out))
		r.add(a)
		return
	}
	var found []string
	held, tried := 0, 0
	for _, se := range sessions {
		if se.Requester != r.b.Colleague || se.State != "active" {
			continue
		}
		found = append(found, fmt.Sprintf("session %s of %s listed", se.ID, se.Requester))
		for _, m := range []map[string]any{
			{"type": "credentials", "session_id": se.ID, "account": se.Account, "host": "x.com"},
			{"type": "rotation", "session_id": se.ID, "account": se.Account, "host": "x.com"},
			{"type": "open", "session_id": se.ID, "account": se.Account, "action": se.Action, "digest": se.Digest, "manifest_digest": se.ManifestDigest},
			{"type": "published", "session_id": se.ID, "digest": se.Digest, "manifest_digest": se.ManifestDigest},
			{"type": "signed_out", "session_id": se.ID, "account": se.Account, "host": "x.com", "result": "failed", "error": "forged"},
		} {
			tried++
			reply := r.bridge("", m)
			a.Leaks = append(a.Leaks, r.scanBytes("the answer to "+m["type"].(string), []byte(reply))...)
			if strings.Contains(reply, "password") {
				reply = "(an answer with a password, not printed)"
			}
			found = append(found, fmt.Sprintf("%s: %s", m["type"], reply))
			if strings.Contains(reply, `"type":"error"`) && !strings.Contains(reply, `"forbidden"`) {
				held++
			}
		}
	}
	a.Found = strings.Join(found, "; ")
	a.Held = tried == 5 && held == tried && len(a.Leaks) == 0
	r.add(a)
}

// --- helpers ---

func (r *rt) ownCode() string {
	out, err := exec.Command(r.b.OathtoolPath, "--totp", "-b", r.b.OwnSeed).Output()
	if err != nil {
		return "000000"
	}
	return strings.TrimSpace(string(out))
}

// foureyes runs the foureyes command as the staff member.
func (r *rt) foureyes(stdin string, args ...string) (string, string, int) {
	return r.foureyesEnv(nil, stdin, args...)
}

func (r *rt) foureyesEnv(env []string, stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(r.b.Bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return "", err.Error(), -1
	}
	return out.String(), errb.String(), code
}

// freshToken asks the native host for a bridge token, as the browser does for each connection
// (a token is good for one hello).
func (r *rt) freshToken() string {
	host := exec.Command(r.b.Bin, r.b.Origin+"/")
	host.Env = os.Environ()
	msg := []byte(fmt.Sprintf(`{"v":1,"id":1,"type":"hello","origin":%q}`, r.b.Origin))
	host.Stdin = bytes.NewReader(append(byteorder.NativeEndian.AppendUint32(nil, uint32(len(msg))), msg...))
	out, err := host.Output()
	if err != nil || len(out) < 4 {
		return ""
	}
	var reply struct{ Token string }
	_ = json.Unmarshal(out[4:], &reply)
	return reply.Token
}

// bridge connects to the bridge with token (a fresh one of the staff member's own when
// empty), says hello, sends msg if given, and returns the
// last answer (events skipped) as one JSON line.
func (r *rt) bridge(token string, msg ...map[string]any) string {
	if token == "" {
		token = r.freshToken()
	}
	hdr := http.Header{}
	hdr.Set("Origin", r.b.Origin)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial("ws://127.0.0.1:"+strconv.Itoa(r.b.Port)+"/v1", hdr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer func() { _ = ws.Close() }()
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	nonce := base64.RawURLEncoding.EncodeToString([]byte(randHex(16)))
	msgs := []map[string]any{{"v": 1, "id": 1, "type": "hello", "token": token, "nonce": nonce}}
	for i, m := range msg {
		m["v"], m["id"] = 1, i+2
		msgs = append(msgs, m)
	}
	last := ""
	for _, m := range msgs {
		if err := ws.WriteJSON(m); err != nil {
			return last + " write: " + err.Error()
		}
		for {
			var reply map[string]any
			if err := ws.ReadJSON(&reply); err != nil {
				return last + " read: " + err.Error()
			}
			if reply["type"] == "event" {
				continue
			}
			b, _ := json.Marshal(reply)
			last = string(b)
			break
		}
		if strings.Contains(last, `"type":"error"`) {
			break
		}
	}
	return last
}

func errCodeOf(out string) string {
	var v struct{ Error struct{ Code string } }
	if json.Unmarshal([]byte(out), &v) != nil {
		return "not JSON: " + oneLine(out)
	}
	return v.Error.Code
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randInt(n int) int {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return int(byteorder.BigEndian.Uint32(b) % uint32(n))
}
