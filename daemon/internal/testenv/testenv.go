// Package testenv decides what a test does when something it needs is not there: outside CI it
// skips, so a developer without a browser or a keyring can still run `go test ./...`; with
// CI=true it fails, so a run on a machine that lacks a prerequisite cannot pass by not testing.
package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI (CI=true, as GitHub Actions, GitLab and
// .ci/test.sh set it): then a missing prerequisite is a failure, never a skip.
func CI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// Need stops the test because what it needs is missing: hint says how to get it (an apt-get
// command, an environment variable to set). Under CI it fails the test; otherwise it skips it.
func Need(t testing.TB, what, hint string) {
	t.Helper()
	if CI() {
		t.Fatalf("missing prerequisite: %s (%s); with CI=true a missing prerequisite fails the run instead of skipping", what, hint)
	}
	t.Skipf("missing prerequisite: %s (%s)", what, hint)
}

// Enabled is for tests that run only when an environment variable turns them on (the real
// keyring, real browsers): it returns when name=1, and otherwise skips the test, or fails it
// under CI, naming how to turn it on.
func Enabled(t testing.TB, name, how string) {
	t.Helper()
	if os.Getenv(name) != "1" {
		Need(t, name+"=1", how)
	}
}

// Program returns the path of a program the test runs: the value of the environment variable
// override when it is set (FOUREYES_CHROMIUM, FOUREYES_FIREFOX: where the browser is), else
// the first of names found on PATH. When neither is there it calls Need, naming the Debian
// package that provides the program.
func Program(t testing.TB, override string, pkg string, names ...string) string {
	t.Helper()
	if override != "" {
		if p := os.Getenv(override); p != "" {
			if _, err := exec.LookPath(p); err != nil {
				Need(t, names[0]+" at "+override+"="+p, "no such executable; unset "+override+" or apt-get install "+pkg)
			}
			return p
		}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Need(t, names[0], "apt-get install "+pkg)
	return ""
}
