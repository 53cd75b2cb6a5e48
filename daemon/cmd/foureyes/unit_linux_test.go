package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/testenv"
)

const systemUnit = "../../../installer/linux/foureyes-system.service"

// verifyUnit runs systemd-analyze verify on unit (with ExecStart pointing at the built binary)
// and returns what it said about that unit. It exits 0 on settings it ignores, so its words
// are what count.
func verifyUnit(t *testing.T, analyze, unit string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "foureyes.service")
	unit = strings.ReplaceAll(unit, "ExecStart=/usr/bin/foureyes ", "ExecStart="+binary(t)+" ")
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", p).CombinedOutput()
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "foureyes") {
			ours = append(ours, l)
		}
	}
	if err != nil {
		ours = append(ours, "exit: "+err.Error())
	}
	return strings.Join(ours, "\n")
}

// The system unit of service mode: the hardening the admin guide promises is in it, and
// systemd reads it (with the package's credential drop-in too) without a complaint.
func TestSystemUnit(t *testing.T) {
	b, err := os.ReadFile(systemUnit)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	lines := map[string]bool{}
	for _, l := range strings.Split(unit, "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{
		"User=foureyes", "ExecStart=/usr/bin/foureyes service", "StateDirectory=foureyes", "StateDirectoryMode=0700",
		"RuntimeDirectory=foureyes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"NoNewPrivileges=yes", "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
		"WantedBy=multi-user.target",
	} {
		if !lines[want] {
			t.Errorf("the unit lacks %q", want)
		}
	}
	if lines["DynamicUser=yes"] {
		t.Error("the unit uses DynamicUser: the sealed secrets need a stable owner")
	}
	// The drop-in the package writes names the credential the service reads.
	post, err := os.ReadFile("../../../installer/linux/postinst.sh")
	if err != nil {
		t.Fatal(err)
	}
	dropin := "LoadCredentialEncrypted=" + custody.CredentialName + ":"
	if !strings.Contains(string(post), dropin+"$cred") {
		t.Errorf("postinst.sh does not write %s...", dropin)
	}

	analyze := testenv.Program(t, "", "systemd", "systemd-analyze")
	if got := verifyUnit(t, analyze, unit); got != "" {
		t.Errorf("systemd-analyze verify:\n%s", got)
	}
	withCred := strings.Replace(unit, "[Install]", dropin+"/etc/credstore.encrypted/foureyes-secrets.key\n\n[Install]", 1)
	if got := verifyUnit(t, analyze, withCred); got != "" {
		t.Errorf("systemd-analyze verify with the credential drop-in:\n%s", got)
	}
	// Control: a setting systemd cannot read is noticed.
	bad := strings.Replace(unit, "ProtectSystem=strict", "ProtectSystem=sometimes", 1)
	if got := verifyUnit(t, analyze, bad); !strings.Contains(got, "ProtectSystem") && !strings.Contains(got, "protect system") {
		t.Errorf("systemd-analyze verify did not notice a bad setting: %q", got)
	}
}
