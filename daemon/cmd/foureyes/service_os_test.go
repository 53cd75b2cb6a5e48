package main

import (
	"strings"
	"testing"

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
