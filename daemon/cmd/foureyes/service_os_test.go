package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

func TestServiceModeBuilt(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		if err := serviceModeBuilt(goos); err != nil {
			t.Errorf("%s: %v", goos, err)
		}
	}
	err := serviceModeBuilt("freebsd")
	if api.AsError(err).Code != api.CodeUnsupported || !strings.Contains(err.Error(), "not built yet on freebsd") || !strings.Contains(err.Error(), "user mode") {
		t.Fatalf("freebsd: %v; want unsupported, saying what to run instead", err)
	}
}

func TestUnderDir(t *testing.T) {
	pf, pf86 := `C:\Program Files`, `C:\Program Files (x86)`
	for _, c := range []struct {
		path string
		want bool
	}{
		{`C:\Program Files\foureyes\foureyes.exe`, true},
		{`c:\program files\FOUREYES\foureyes.exe`, true},
		{`C:\Program Files (x86)\foureyes\foureyes.exe`, true},
		{`C:\Program Files Evil\foureyes.exe`, false},
		{`C:\Program Files\..\Users\anna\foureyes.exe`, false},
		{`C:\Users\anna\Downloads\foureyes.exe`, false},
		{`C:\Program Files`, false},
	} {
		if got := underDir(c.path, pf, "", pf86); got != c.want {
			t.Errorf("underDir(%q) = %v, want %v", c.path, got, c.want)
		}
	}
	if underDir(`C:\foureyes.exe`, "") {
		t.Error("an empty folder took everything")
	}
}

// The program of the service's command line, as the MSI and `foureyes service install` register
// it: what `foureyes service install` checks is under Program Files before it turns the service on.
func TestServiceProgram(t *testing.T) {
	for _, c := range []struct{ cmdline, want string }{
		{`"C:\Program Files\foureyes\foureyes.exe" service`, `C:\Program Files\foureyes\foureyes.exe`},
		{`"C:\Program Files\foureyes\foureyes.exe"`, `C:\Program Files\foureyes\foureyes.exe`},
		{`  C:\foureyes\foureyes.exe service`, `C:\foureyes\foureyes.exe`},
		{`C:\Program Files\foureyes\foureyes.exe service`, `C:\Program`}, // unquoted: Windows too reads C:\Program first
		{`"C:\Program Files\foureyes\foureyes.exe service`, ``},
		{``, ``},
	} {
		if got := serviceProgram(c.cmdline); got != c.want {
			t.Errorf("serviceProgram(%q) = %q, want %q", c.cmdline, got, c.want)
		}
	}
}

// The tray at sign-in that foureyes service install and uninstall write is the MSI's own
// ("[INSTALLDIR]foureyesw.exe" [TRAYARGS]) for each mode.
func TestTrayAtSignIn(t *testing.T) {
	prog := `C:\Program Files\foureyes\foureyes.exe`
	if got, want := trayAtSignIn(prog, false), `"C:\Program Files\foureyes\foureyesw.exe" daemon`; got != want {
		t.Errorf("user mode: %s, want %s", got, want)
	}
	if got, want := trayAtSignIn(prog, true), `"C:\Program Files\foureyes\foureyesw.exe" tray --if-service`; got != want {
		t.Errorf("service mode: %s, want %s", got, want)
	}
}

// On Windows every foureyes tray of one user, the daemon's and service mode's, takes the same
// named mutex for the same state folder however it is spelled, another for another folder, in
// the sign-in's own namespace.
func TestTrayMutexName(t *testing.T) {
	a := trayMutexName(`C:\Users\anna\AppData\Roaming\foureyes`)
	if b := trayMutexName(`c:/users/anna/appdata/roaming/foureyes/`); a != b {
		t.Errorf("one folder, two names: %q, %q", a, b)
	}
	if b := trayMutexName(`C:\Users\ben\AppData\Roaming\foureyes`); a == b {
		t.Errorf("two folders, one name %q", a)
	}
	if !strings.HasPrefix(a, `Local\foureyes-tray-`) || len(a) != len(`Local\foureyes-tray-`)+32 || strings.ContainsAny(a[len(`Local\`):], `\/`) {
		t.Errorf("name %q is not Local\\foureyes-tray- and 32 hex digits", a)
	}
}

// The Windows Service Control Manager's Stop reaches the daemon as its stop function.
func TestServiceControlsStop(t *testing.T) {
	stopc := make(chan struct{})
	m := &serviceMode{stopc: stopc}
	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() {
		m.controls(t.Context(), nil, func() { close(stopped) })
		close(done)
	}()
	close(stopc)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the stop channel did not stop the daemon")
	}
	<-done
}

// Without controls (Linux, macOS: signals do it) nothing stops the daemon but its context.
func TestServiceControlsNone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		(&serviceMode{}).controls(ctx, nil, func() { t.Error("stopped without a Stop") })
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
}
