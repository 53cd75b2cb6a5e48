package main

import (
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
)

func TestServiceModeBuilt(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		if err := serviceModeBuilt(goos); err != nil {
			t.Errorf("%s: %v", goos, err)
		}
	}
	err := serviceModeBuilt("windows")
	if api.AsError(err).Code != api.CodeUnsupported || !strings.Contains(err.Error(), "not built yet on Windows") || !strings.Contains(err.Error(), "user mode") {
		t.Fatalf("windows: %v; want unsupported, saying what to run instead", err)
	}
}
