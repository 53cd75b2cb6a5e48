package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that remembers how the test ended instead of ending it.
type recorder struct {
	testing.TB
	how, msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(f string, a ...any) {
	r.how, r.msg = "fail", sprintf(f, a...)
	panic(r)
}
func (r *recorder) Skipf(f string, a ...any) {
	r.how, r.msg = "skip", sprintf(f, a...)
	panic(r)
}

func run(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		fn(r)
	}()
	return r
}

func TestNeedSkipsOutsideCIAndFailsUnderCI(t *testing.T) {
	for _, tt := range []struct{ ci, want string }{{"", "skip"}, {"false", "skip"}, {"true", "fail"}, {"1", "fail"}} {
		t.Setenv("CI", tt.ci)
		r := run(t, func(tb testing.TB) { Need(tb, "firefox-esr", "apt-get install firefox-esr") })
		if r.how != tt.want || !strings.Contains(r.msg, "firefox-esr (apt-get install firefox-esr)") {
			t.Errorf("CI=%q: %s %q, want %s naming the package", tt.ci, r.how, r.msg, tt.want)
		}
	}
}

func TestEnabled(t *testing.T) {
	t.Setenv("CI", "true")
	t.Setenv("FOUREYES_X_TEST", "1")
	if r := run(t, func(tb testing.TB) { Enabled(tb, "FOUREYES_X_TEST", "set it") }); r.how != "" {
		t.Errorf("enabled: %s %q", r.how, r.msg)
	}
	t.Setenv("FOUREYES_X_TEST", "")
	if r := run(t, func(tb testing.TB) { Enabled(tb, "FOUREYES_X_TEST", "set it") }); r.how != "fail" || !strings.Contains(r.msg, "FOUREYES_X_TEST=1") {
		t.Errorf("off under CI: %s %q", r.how, r.msg)
	}
}

func TestProgram(t *testing.T) {
	t.Setenv("CI", "true")
	t.Setenv("FOUREYES_TEST_BROWSER", "/nonexistent/firefox-esr")
	r := run(t, func(tb testing.TB) { Program(tb, "FOUREYES_TEST_BROWSER", "firefox-esr", "firefox-esr") })
	if r.how != "fail" || !strings.Contains(r.msg, "FOUREYES_TEST_BROWSER=/nonexistent/firefox-esr") || !strings.Contains(r.msg, "apt-get install firefox-esr") {
		t.Errorf("override to a missing file: %s %q", r.how, r.msg)
	}
	t.Setenv("FOUREYES_TEST_BROWSER", "")
	var got string
	if r := run(t, func(tb testing.TB) { got = Program(tb, "FOUREYES_TEST_BROWSER", "coreutils", "sh") }); r.how != "" || got == "" {
		t.Errorf("sh on PATH: %s %q, path %q", r.how, r.msg, got)
	}
	r = run(t, func(tb testing.TB) { Program(tb, "", "no-such-package", "no-such-program-foureyes") })
	if r.how != "fail" || !strings.Contains(r.msg, "apt-get install no-such-package") {
		t.Errorf("missing program: %s %q", r.how, r.msg)
	}
}

var sprintf = fmt.Sprintf
