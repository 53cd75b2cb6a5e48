package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/nativehost"
	"foureyes/daemon/internal/policy"
)

// The packages ship the manifest `extension manifest` prints; it must be the file `extension
// allow` writes for the same ID, so the two can never drift apart.
func TestExtensionManifestMatchesAllow(t *testing.T) {
	c := newCLI(t)
	self := c.bin
	printed := c.ok("", "extension", "manifest", "--browser", "chromium", "--binary", self, policy.DefaultExtensionID)
	dir := t.TempDir()
	c.ok("", "extension", "allow", policy.DefaultExtensionID, "--dir", dir)
	written, err := os.ReadFile(filepath.Join(dir, "NativeMessagingHosts", nativehost.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if printed != string(written) {
		t.Fatalf("extension manifest printed\n%s\nextension allow wrote\n%s", printed, written)
	}
}

func TestExtensionManifestPinsIDs(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args        []string
		origins     []string
		firefoxIDs  []string
		wantBinary  string
		description string
	}{
		{[]string{"--browser", "chromium"}, []string{"chrome-extension://" + policy.DefaultExtensionID + "/"}, nil, "/usr/bin/foureyes", "default: the project's build"},
		{[]string{"--browser", "edge", "abcdefghijklmnopabcdefghijklmnop"}, []string{"chrome-extension://abcdefghijklmnopabcdefghijklmnop/"}, nil, "/usr/bin/foureyes", "an organisation's own build"},
		{[]string{"--browser", "firefox", "--binary", "/opt/foureyes/foureyes"}, nil, []string{policy.DefaultFirefoxExtensionID}, "/opt/foureyes/foureyes", "Firefox, another path"},
	} {
		out := c.ok("", append([]string{"extension", "manifest"}, tc.args...)...)
		var m nativehost.Manifest
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", tc.description, err, out)
		}
		if m.Name != nativehost.HostName || m.Type != "stdio" || m.Path != tc.wantBinary ||
			strings.Join(m.AllowedOrigins, ",") != strings.Join(tc.origins, ",") ||
			strings.Join(m.AllowedExtensions, ",") != strings.Join(tc.firefoxIDs, ",") {
			t.Errorf("%s: got %+v", tc.description, m)
		}
	}
}

func TestExtensionManifestRefusesBadInput(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--browser is missing"},
		{[]string{"--browser", "safari"}, `--browser "safari"`},
		{[]string{"--browser", "chromium", "--binary", "foureyes"}, `"foureyes" is not absolute`},
		{[]string{"--browser", "chromium", "not-an-id"}, `"not-an-id" is not a Chrome extension ID`},
		{[]string{"--browser", "firefox", "has space"}, `"has space" is not a Firefox add-on ID`},
	} {
		out, errs, code := c.run("", append([]string{"extension", "manifest"}, tc.args...)...)
		if code != exitUsage || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("extension manifest %v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errs, tc.want)
		}
	}
}

// The packages ship /etc/foureyes/policy.json naming nobody as approver. It must be a valid
// managed policy (or the daemon would report the install broken) under which nobody can approve
// (or a staff member could enrol an approver of their own and approve their own posts).
func TestShippedManagedPolicyNamesNoEnrollableApprover(t *testing.T) {
	for _, file := range []string{"../../../installer/linux/policy.json", "../../../installer/linux/policy.example.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.ReplaceAll(string(data), "EXTENSION-ID", policy.DefaultExtensionID))
		p, err := policy.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := p.CheckManaged(); err != nil {
			t.Fatalf("%s: not a valid managed policy: %v", file, err)
		}
		if !strings.HasSuffix(file, "/policy.json") {
			continue
		}
		if len(p.DefaultApprovers) != 0 || len(p.Accounts) != 0 {
			t.Fatalf("%s: want nobody named as approver, got %v and accounts %v", file, p.DefaultApprovers, p.Accounts)
		}
		for _, id := range []string{"anna", "replace-with-approver-ids", "*"} {
			if p.MayApprove("x:@ministry", id) {
				t.Errorf("%s lets %q approve", file, id)
			}
		}
	}
}
