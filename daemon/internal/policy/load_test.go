package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePolicy(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func described(d string) string { return `{"version":1,"description":"` + d + `"}` }

// A managed policy must name its approvers: "*" there is refused, and never falls through to
// the user's file.
func TestManagedPolicyNamesItsApprovers(t *testing.T) {
	dir := t.TempDir()
	user := writePolicy(t, dir, "user.json", described("user"))
	for _, c := range []struct{ name, body, want string }{
		{"default", `{"version":1}`, "default_approvers: a managed policy must name its approvers"},
		{"explicit star", `{"version":1,"default_approvers":["*"]}`, "default_approvers: a managed policy must name its approvers"},
		{"per account", `{"version":1,"default_approvers":["anna"],"accounts":{"x:@m":{"approvers":["*"]}}}`, "accounts.x:@m.approvers: a managed policy must name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := writePolicy(t, dir, c.name+".json", c.body)
			p, src, err := Locations{Managed: m, User: user}.Load()
			if err == nil || p != nil || src != m || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v, %q, %v; want an error naming %q", p, src, err, c.want)
			}
		})
	}
	m := writePolicy(t, dir, "named.json", `{"version":1,"default_approvers":["anna","ben"]}`)
	p, _, err := Locations{Managed: m, User: user}.Load()
	if err != nil || !p.MayApprove("x:@m", "anna") || p.MayApprove("x:@m", "ghost") {
		t.Fatalf("named approvers: %v", err)
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	env := writePolicy(t, dir, "env/policy.json", described("env"))
	managed := writePolicy(t, dir, "etc/foureyes/policy.json", `{"version":1,"description":"managed","default_approvers":["anna"]}`)
	user := writePolicy(t, dir, "home/.config/foureyes/policy.json", described("user"))
	missing := filepath.Join(dir, "missing", "policy.json")

	tests := []struct {
		name       string
		loc        Locations
		wantDesc   string
		wantSource string
	}{
		{"managed wins over env and user", Locations{Env: env, Managed: managed, User: user}, "managed", managed},
		{"env wins over user when no managed file", Locations{Env: env, Managed: missing, User: user}, "env", env},
		{"managed wins over user", Locations{Managed: managed, User: user}, "managed", managed},
		{"user when no managed file", Locations{Managed: missing, User: user}, "user", user},
		{"user when no managed path", Locations{User: user}, "user", user},
		{"embedded when nothing exists", Locations{Managed: missing, User: missing}, "", SourceEmbedded},
		{"embedded when no locations", Locations{}, "", SourceEmbedded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, source, err := tt.loc.Load()
			if err != nil {
				t.Fatal(err)
			}
			if source != tt.wantSource || p.Description != tt.wantDesc {
				t.Errorf("Load = %q from %q, want %q from %q", p.Description, source, tt.wantDesc, tt.wantSource)
			}
		})
	}
}

func TestLoadErrorsDoNotFallBack(t *testing.T) {
	dir := t.TempDir()
	user := writePolicy(t, dir, "user.json", described("user"))
	invalidManaged := writePolicy(t, dir, "invalid-managed.json", `{"version":1,"throttle":{"max_consecutive_failures":500}}`)
	newer := writePolicy(t, dir, "newer.json", `{"version":2}`)
	empty := writePolicy(t, dir, "empty.json", ``)
	missing := filepath.Join(dir, "missing.json")
	notAFile := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(notAFile, 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		loc         Locations
		wantSource  string
		wantInvalid bool
		want        string
	}{
		{"env names a missing file", Locations{Env: missing, User: user}, missing, false, "FOUREYES_POLICY=" + missing + ": policy file not found"},
		{"invalid env file", Locations{Env: invalidManaged, User: user}, invalidManaged, true, "NIST SP 800-63B"},
		{"invalid managed wins over a valid env file", Locations{Env: user, Managed: invalidManaged}, invalidManaged, true, "NIST"},
		{"invalid managed does not fall back to user", Locations{Managed: invalidManaged, User: user}, invalidManaged, true, "throttle.max_consecutive_failures: 500 is over the limit of 100"},
		{"newer managed does not fall back", Locations{Managed: newer, User: user}, newer, true, "policy version 2 is newer than this foureyes understands"},
		{"empty managed does not fall back", Locations{Managed: empty, User: user}, empty, true, "not valid JSON"},
		{"unreadable managed does not fall back", Locations{Managed: notAFile, User: user}, notAFile, false, "read policy"},
		{"invalid user", Locations{Managed: missing, User: invalidManaged}, invalidManaged, true, "NIST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, source, err := tt.loc.Load()
			if err == nil {
				t.Fatalf("Load succeeded with %q from %s", p.Description, source)
			}
			if p != nil {
				t.Error("Load returned a policy with an error")
			}
			if source != tt.wantSource {
				t.Errorf("source = %q, want %q", source, tt.wantSource)
			}
			if errors.Is(err, ErrInvalid) != tt.wantInvalid {
				t.Errorf("errors.Is(err, ErrInvalid) = %v, want %v: %v", !tt.wantInvalid, tt.wantInvalid, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.wantInvalid && !strings.Contains(err.Error(), tt.wantSource) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, _, err := (Locations{Env: missing}).Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing env file: want fs.ErrNotExist, got %v", err)
	}
}

func TestDefaultLocations(t *testing.T) {
	t.Setenv(EnvVar, "/some/where/policy.json")
	l := DefaultLocations()
	if l.Env != "/some/where/policy.json" {
		t.Errorf("Env = %q", l.Env)
	}
	if l.Managed != ManagedPath() || !strings.HasSuffix(l.Managed, "policy.json") {
		t.Errorf("Managed = %q", l.Managed)
	}
	if l.User != "" && !strings.HasSuffix(l.User, filepath.Join("foureyes", "policy.json")) {
		t.Errorf("User = %q", l.User)
	}
	t.Setenv(EnvVar, "")
	if l := DefaultLocations(); l.Env != "" {
		t.Errorf("empty %s should mean unset, got %q", EnvVar, l.Env)
	}
}

func TestLoadUsesEnvironment(t *testing.T) {
	path := writePolicy(t, t.TempDir(), "p.json", described("from env"))
	t.Setenv(EnvVar, path)
	p, source, err := Load()
	if err != nil || source != path || p.Description != "from env" {
		t.Errorf("Load() = %v, %q, %v", p, source, err)
	}
}

// A policy may name nobody yet (what a package installs before IT names the press officers):
// valid, managed, and nobody may approve.
func TestNobodyMayApproveYet(t *testing.T) {
	p, err := Parse([]byte(`{"version":1,"default_approvers":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckManaged(); err != nil {
		t.Fatalf("as a managed policy: %v", err)
	}
	if p.MayApprove("x:@m", "anna") || p.MayApprove("x:@m", "*") {
		t.Fatal("somebody may approve under a policy that names nobody")
	}
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], "nobody may approve") {
		t.Fatalf("warnings %v", w)
	}
}
