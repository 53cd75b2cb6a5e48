package main

import (
	"path/filepath"
	"strings"
)

// cmdServiceControl is `foureyes service install|uninstall`: registering the service with the
// Windows Service Control Manager (service_windows.go). Elsewhere the packages install the
// systemd unit and the LaunchDaemon, and this says so.
func cmdServiceControl(e *env, verb string, args []string) int {
	help := "Register foureyes with the Windows Service Control Manager as the service \"" + windowsServiceName + "\": run as\n" +
		"LocalSystem, started at boot, as `foureyes service` with its default options. Run it from an\n" +
		"elevated prompt (Run as administrator), with foureyes.exe where only administrators may change it\n" +
		"(under Program Files). Then: sc.exe start " + windowsServiceName + "."
	if verb == "uninstall" {
		help = "Stop the Windows service \"" + windowsServiceName + "\" and remove it from the Service Control Manager.\n" +
			"Its folder (the trail, the state) and the secrets in LocalSystem's Credential Manager stay.\n" +
			"Run it from an elevated prompt (Run as administrator)."
	}
	fs := e.flagSet("service "+verb, "", help)
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	var err error
	if verb == "install" {
		err = installService(e)
	} else {
		err = uninstallService(e)
	}
	if err != nil {
		return e.fail(err)
	}
	return exitOK
}

// windowsServiceName is the service's name in the Service Control Manager (sc.exe, services.msc).
const windowsServiceName = "foureyes"

// underDir reports whether path is inside one of dirs, compared as Windows compares paths
// (without regard to case, either separator). Empty dirs count for nothing.
func underDir(path string, dirs ...string) bool {
	norm := func(p string) string {
		return strings.ToLower(strings.ReplaceAll(filepath.Clean(strings.ReplaceAll(p, `\`, "/")), `\`, "/"))
	}
	p := norm(path)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		d = strings.TrimSuffix(norm(d), "/")
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
