//go:build !windows

package main

import (
	"os"

	"foureyes/daemon/internal/api"
)

func installService(*env, bool) error { return notWindowsService("install") }
func uninstallService(*env) error     { return notWindowsService("uninstall") }

func notWindowsService(verb string) error {
	return api.Errorf(api.CodeUnsupported, "foureyes service %s is for Windows: on Linux the package installs foureyes.service (systemctl enable --now foureyes.service), on macOS the pkg installs the LaunchDaemon eu.foureyes.service (launchctl bootstrap system); see the admin guide, \"Service mode\"", verb)
}

// runService runs the service in this process: systemd and launchd start it as a program.
func runService(e *env, m *serviceMode) int { return runServiceHere(e, m) }

// serviceThere reports whether the service's socket is there (it may be restarting).
func serviceThere(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Type() == os.ModeSocket
}
