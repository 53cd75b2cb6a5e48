package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/testenv"
)

// The red-team test of service mode: a staff member in full control of their own account (not
// root) tries everything they can to read the secrets and to post without an approver, and
// cannot. The service runs as a system user of its own, as systemd runs it; the staff member
// is a real OS user with a home, a D-Bus session and an unlocked gnome-keyring of their own;
// a colleague is a second OS user. The attacker itself is redteam_attacker_linux_test.go.
//
// It prints a report, one block per attempt (what was tried, what came back, the verdict), to
// the test log and, when FOUREYES_RED_TEAM_REPORT names a file, to that file (CI:
// artifacts/redteam-report.txt).
func TestRedTeamServiceModeStaffUser(t *testing.T) {
	svcUser := testenv.NeedUser(t, testenv.ServiceUserName)
	staff := testenv.NeedUser(t, testenv.StaffUserName)
	oath := testenv.Program(t, "", "oathtool", "oathtool")
	dbusRun := testenv.Program(t, "", "dbus", "dbus-run-session")
	testenv.Program(t, "", "gnome-keyring", "gnome-keyring-daemon")
	s := startServiceAs(t, &svcUser)
	colleague := s.staff

	// IT at the machine (root): two approvers, anna the press officer and ben, who is the staff
	// member (mapped to their OS user); an account with its password and the platform's 2FA seed.
	t0 := time.Now()
	var anna, ben struct{ Secret string }
	if err := json.Unmarshal([]byte(s.rootOK("\n", "approver", "enroll", "anna", "--name", "Anna", "--json")), &anna); err != nil {
		t.Fatal(err)
	}
	s.rootOK("", "approver", "confirm", "anna", oathtool(t, anna.Secret, t0))
	vouch := oathtool(t, anna.Secret, t0.Add(30*time.Second))
	if err := json.Unmarshal([]byte(s.rootOK(vouch+"\n", "approver", "enroll", "ben", "--name", "Ben", "--os-user", staff.Name, "--by", "anna", "--json")), &ben); err != nil {
		t.Fatal(err)
	}
	s.rootOK("", "approver", "confirm", "ben", oathtool(t, ben.Secret, time.Now()))
	password := "pw-" + hex.EncodeToString(randBytes(t, 12))
	platformSeedRaw := randBytes(t, 20)
	platformSeed := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(platformSeedRaw)
	s.rootOK(password+"\n"+platformSeed+"\n", "account", "add", "--platform", "x", "--handle", "@ministry", "--username", "press@example.org", "--password-stdin", "--totp-seed-stdin")
	const account = "x:@ministry"

	// The colleague: a request of theirs, and a bridge token their native host fetched.
	var colReq struct{ ID string }
	colOut, _, code := runCmd(t, colleague.Command([]string{"PATH=/usr/bin:/bin", "FOUREYES_SOCKET=" + s.socket, "HOME=/nonexistent"}, s.bin, "request", "--account", account, "--text-file", "-", "--json"), "Von der Kollegin\n")
	if code != 0 || json.Unmarshal([]byte(colOut), &colReq) != nil {
		t.Fatalf("the colleague's request: exit %d %s", code, colOut)
	}
	origin := "chrome-extension://" + policy.DefaultExtensionID
	colTok, _ := s.nativeHost(&colleague, origin)["token"].(string)
	if colTok == "" {
		t.Fatal("the colleague's native host got no token")
	}

	annaRaw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(anna.Secret, "="))
	if err != nil {
		t.Fatalf("anna's seed %q is not base32: %v", anna.Secret, err)
	}
	needles := []needle{
		{"the account's password", []byte(password)},
		{"the platform 2FA seed (base32)", []byte(platformSeed)},
		{"the platform 2FA seed (base32, lower case)", []byte(strings.ToLower(platformSeed))},
		{"the platform 2FA seed (raw)", platformSeedRaw},
		{"anna's seed (base32)", []byte(anna.Secret)},
		{"anna's seed (base32, lower case)", []byte(strings.ToLower(anna.Secret))},
		{"anna's seed (raw)", annaRaw},
	}
	secrets, _ := filepath.Glob(filepath.Join(s.state, secretsDirName, "*"))
	trailBefore := s.trail()

	// The staff member: a home, a D-Bus session and an unlocked gnome-keyring of their own.
	home, run := staff.NewHome(t), staff.NewHome(t)
	at := time.Now().Truncate(30 * time.Second)
	brief := redTeamBrief{
		Bin: s.bin, Socket: s.socket, Policy: filepath.Join(s.root, "policy.json"),
		State: s.state, Trail: filepath.Join(s.state, auditName), StateFile: filepath.Join(s.state, "state.json"),
		Key: filepath.Join(s.state, keyFileName), SecretsDir: filepath.Join(s.state, secretsDirName), SecretFiles: secrets,
		ServicePID: s.proc.Process.Pid, Port: s.port, Origin: origin, Account: account,
		Colleague: colleague.Name, ColleagueToken: colTok, ColleagueRequest: colReq.ID,
		Own: "ben", Other: "anna", OwnSeed: ben.Secret,
		Walk: walkRoots(t, s.root, home, run),
		At:   at, Needles: needles, OathtoolPath: oath,
		ExpectedPolicySource: filepath.Join(s.root, "policy.json"),
	}
	in, err := json.Marshal(brief)
	if err != nil {
		t.Fatal(err)
	}
	attacker := staff.TestBinary(t)
	script := `printf %s staff-login | gnome-keyring-daemon --unlock --components=secrets >/dev/null
i=0
until dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; do
  i=$((i+1)); [ "$i" -ge 100 ] && { echo "no Secret Service on the bus" >&2; break; }; sleep 0.1
done
exec "$@"`
	cmd := staff.Command([]string{redTeamEnv + "=1", "PATH=/usr/bin:/bin", "HOME=" + home, "XDG_RUNTIME_DIR=" + run,
		"USER=" + staff.Name, "LOGNAME=" + staff.Name, "FOUREYES_SOCKET=" + s.socket},
		dbusRun, "--", "sh", "-c", script, "redteam", attacker, "-test.run=^$")
	cmd.Dir = home
	out, errs, code := runCmd(t, cmd, string(in))
	var rep redTeamReport
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(lastLine(out))), &rep) != nil || rep.Error != "" {
		t.Fatalf("the attacker: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}

	// Ben, the staff member, approves the colleague's request (four eyes: ben is not the
	// colleague), as an approver may; then the staff member goes after that session. (Anna is
	// throttled by now.) IT runs the approval here, with ben's next code.
	colSession := s.rootOK(oathtool(t, ben.Secret, time.Now().Add(30*time.Second))+"\n", "approve", colReq.ID, "--approver", "ben", "--json")
	if !strings.Contains(colSession, `"session"`) {
		t.Fatalf("ben approving the colleague's request: %s", colSession)
	}
	brief.Phase = phaseColleagueSession
	if in, err = json.Marshal(brief); err != nil {
		t.Fatal(err)
	}
	cmd = staff.Command([]string{redTeamEnv + "=1", "PATH=/usr/bin:/bin", "HOME=" + home, "USER=" + staff.Name, "FOUREYES_SOCKET=" + s.socket}, attacker, "-test.run=^$")
	out, errs, code = runCmd(t, cmd, string(in))
	var rep2 redTeamReport
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(lastLine(out))), &rep2) != nil || rep2.Error != "" {
		t.Fatalf("the attacker, second phase: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	rep.Attempts = append(rep.Attempts, rep2.Attempts...)

	// Codes from every string found that oathtool takes as a seed, against the real codes.
	realCodes := map[string][]string{}
	for name, seed := range map[string]string{"anna": anna.Secret, "the platform 2FA": platformSeed} {
		o, err := exec.Command(oath, "--totp", "-b", "-w", "2", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), seed).Output()
		if err != nil {
			t.Fatal(err)
		}
		realCodes[name] = strings.Fields(string(o))
	}
	tried, working := 0, []string{}
	for _, c := range rep.Candidates {
		if len(c.Codes) == 0 {
			continue
		}
		tried++
		for name, codes := range realCodes {
			if strings.Join(c.Codes, " ") == strings.Join(codes, " ") {
				working = append(working, fmt.Sprintf("%s's codes from %q found in %s", name, c.Seed, c.Where))
			}
		}
	}
	for i := range rep.Attempts {
		if rep.Attempts[i].Name == "TOTP codes from found strings" {
			rep.Attempts[i].Found += fmt.Sprintf("; seeds tried with oathtool: %d, giving a real approver's or the platform's codes: %d", tried, len(working))
			rep.Attempts[i].Leaks = append(rep.Attempts[i].Leaks, working...)
			rep.Attempts[i].Held = len(working) == 0
		}
	}

	// What the service holds afterwards, read by IT (root).
	// Sessions and approvals: only the colleague's, untouched by the staff member.
	var sessions []struct {
		Requester, State string
		Published        bool
	}
	if err := json.Unmarshal([]byte(s.rootOK("", "sessions", "--json")), &sessions); err != nil {
		t.Fatal(err)
	}
	staffSessions, colleagueUntouched := 0, false
	for _, se := range sessions {
		if se.Requester == staff.Name {
			staffSessions++
		}
		if se.Requester == colleague.Name && se.State == "active" && !se.Published {
			colleagueUntouched = true
		}
	}
	var requests []struct{ ID, Requester, State string }
	if err := json.Unmarshal([]byte(s.rootOK("", "requests", "--json")), &requests); err != nil {
		t.Fatal(err)
	}
	approved := 0
	for _, r := range requests {
		if r.State == "approved" && r.Requester == staff.Name {
			approved++
		}
	}
	trail := s.trail()
	added := strings.TrimPrefix(trail, trailBefore)
	verify, verr, vcode := s.root_("", "audit", "verify", "--file", filepath.Join(s.state, auditName))
	accounts := s.rootOK("", "account", "list", "--json")
	approvers := s.rootOK("", "approver", "list", "--json")

	rep.Attempts = append(rep.Attempts, attempt{
		Name:  "what the service holds afterwards (IT, as root)",
		Tried: "foureyes sessions, requests, account list, approver list, audit verify",
		Found: fmt.Sprintf("sessions: %d of the staff member's, the colleague's still active and unused: %v; requests: %d, of the staff member's approved: %d; accounts %s; approvers %s; audit verify: exit %d %s",
			staffSessions, colleagueUntouched, len(requests), approved, oneLine(accounts), oneLine(approvers), vcode, oneLine(verify+verr)),
		Held: staffSessions == 0 && colleagueUntouched && approved == 0 && vcode == 0 && strings.Contains(accounts, account) && !strings.Contains(accounts, "@mine") && !strings.Contains(approvers, "mallory"),
	})

	// Every attempt that reached the service is in its trail.
	events := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(added), "\n") {
		var e struct {
			Event, Severity string
			Fields          map[string]any
		}
		if json.Unmarshal([]byte(line), &e) == nil {
			events[e.Event]++
		}
	}
	// Lines each kind of attempt must have left, at least; and nothing else may have been
	// written: no approval, session, enrolment or change to custody.
	wantEvents := map[string]int{
		"command_refused":      6, // five IT-only commands and the forged account.add
		"bridge_refused":       1, // the colleague's token
		"approval_refused":     2, // self-approval, by the command and by the bridge
		"trust_change_refused": 2, // mallory vouched by ben, anna removed by ben
		"code_failed":          5, // the guesses before the throttle
		"approver_throttled":   1,
		"session_refused":      5, // the colleague's session: credentials, rotation, open, published, signed_out
		"request":              1, // the staff member's own requests (allowed)
		"policy_loaded":        0, // `policy reload` reads the managed policy again (allowed)
		"approval":             0, // ben approving the colleague's request (allowed; checked below)
		"session_issued":       0, // the colleague's session (checked below)
	}
	var missing []string
	for ev, n := range events {
		if _, ok := wantEvents[ev]; !ok {
			missing = append(missing, fmt.Sprintf("%d unexpected %s line(s)", n, ev))
		}
	}
	for ev, n := range wantEvents {
		if events[ev] < n {
			missing = append(missing, fmt.Sprintf("%s: %d line(s), want at least %d", ev, events[ev], n))
		}
	}
	for _, line := range strings.Split(added, "\n") {
		if strings.Contains(line, `"event":"request"`) && !strings.Contains(line, `"requester":"`+staff.Name+`"`) {
			missing = append(missing, "a request line not made by the staff member: "+line)
		}
		if (strings.Contains(line, `"event":"approval"`) || strings.Contains(line, `"event":"session_issued"`)) && !strings.Contains(line, colReq.ID) {
			missing = append(missing, "an approval or session not for the colleague's request: "+line)
		}
	}
	if events["approval"] > 1 || events["session_issued"] > 1 {
		missing = append(missing, fmt.Sprintf("%d approval and %d session_issued lines, want one each (the colleague's)", events["approval"], events["session_issued"]))
	}
	policyLines := 0
	for _, line := range strings.Split(added, "\n") {
		if strings.Contains(line, `"event":"policy_loaded"`) {
			policyLines++
			if !strings.Contains(line, brief.ExpectedPolicySource) || strings.Contains(line, home) {
				missing = append(missing, "a policy_loaded line not from the managed policy: "+line)
			}
		}
	}
	rep.Attempts = append(rep.Attempts, attempt{
		Name:  "the service's audit trail of the attempts",
		Tried: "the lines the attempts added, counted by event",
		Found: fmt.Sprintf("%v; policy reloads, all from %s: %d", events, brief.ExpectedPolicySource, policyLines),
		Held:  len(missing) == 0,
		Leaks: missing,
	})

	// The report, and the verdicts.
	var b strings.Builder
	fmt.Fprintf(&b, "Red team: service mode as a staff user\n")
	fmt.Fprintf(&b, "service: `foureyes service` as %s (pid %d), state %s; staff member: %s (uid %d, approver ben, home %s, own D-Bus session and gnome-keyring); colleague: %s\n",
		svcUser.Name, s.proc.Process.Pid, s.state, staff.Name, staff.UID, home, colleague.Name)
	fmt.Fprintf(&b, "hunted: %d needles (the account's password; the platform's 2FA seed and anna's seed, base32 and raw); %d bytes read as the staff member\n\n", len(needles), rep.BytesRead)
	failed := 0
	for i, a := range rep.Attempts {
		verdict := "HELD"
		if !a.Held || len(a.Leaks) > 0 {
			verdict, failed = "BROKEN", failed+1
		}
		fmt.Fprintf(&b, "%2d. %s: %s\n    tried: %s\n    found: %s\n", i+1, a.Name, verdict, a.Tried, a.Found)
		for _, l := range a.Leaks {
			fmt.Fprintf(&b, "    !! %s\n", l)
		}
	}
	fmt.Fprintf(&b, "\n%d attempts, %d held, %d broken; sessions issued to the staff member: %d; approvals of their requests: %d\n", len(rep.Attempts), len(rep.Attempts)-failed, failed, staffSessions, approved)
	t.Log("\n" + b.String())
	if p := os.Getenv("FOUREYES_RED_TEAM_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Errorf("writing the report: %v", err)
		}
	}
	if failed > 0 {
		t.Errorf("%d attempt(s) broke through or did not run as planned (see the report)", failed)
	}
	// The report must not carry a secret itself.
	for _, n := range needles {
		if bytes.Contains([]byte(b.String()), n.Bytes) {
			t.Errorf("the report holds %s", n.Name)
		}
	}
}

// walkRoots are the folders the attacker reads everything of: the service's folder (state,
// socket, policy, binary), the staff member's home and runtime folder, the shared memory and
// temporary folders, and every foureyes folder in /tmp (other tests', the built binary's).
func walkRoots(t *testing.T, roots ...string) []string {
	t.Helper()
	roots = append(roots, "/dev/shm", "/var/tmp")
	more, err := filepath.Glob(filepath.Join(os.TempDir(), "foureyes*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		if !strings.HasPrefix(m, roots[0]) && !strings.HasPrefix(m, roots[1]) && !strings.HasPrefix(m, roots[2]) {
			roots = append(roots, m)
		}
	}
	return roots
}

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
