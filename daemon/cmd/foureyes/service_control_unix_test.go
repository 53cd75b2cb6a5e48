//go:build !windows

package main

import (
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
)

func TestServiceControlOnlyOnWindows(t *testing.T) {
	if err := notWindowsService("install"); api.CodeOf(err) != api.CodeUnsupported || !strings.Contains(err.Error(), "systemctl") {
		t.Fatalf("notWindowsService = %v; want unsupported, naming what to do instead", err)
	}
}
