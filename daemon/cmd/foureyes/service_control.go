package main

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// cmdServiceControl is `foureyes service install|uninstall`: turning service mode on and off
// with the Windows Service Control Manager (service_windows.go). Elsewhere the packages install the
// systemd unit and the LaunchDaemon, and this says so.
func cmdServiceControl(e *env, verb string, args []string) int {
	help := "Turn service mode on: the Windows service \"" + windowsServiceName + "\" (LocalSystem, `foureyes service` with its\n" +
		"default options) set to start at boot. The MSI registers the service disabled; this sets it to\n" +
		"start at boot, remembers that for upgrades (HKLM\\Software\\foureyes, value ServiceMode) and makes\n" +
		"the tray at sign-in (the Run value foureyes) `foureyesw.exe tray --if-service`, the tray of the\n" +
		"service. Without the MSI it registers the service.\n" +
		"Run it from an elevated prompt (Run as administrator), with foureyes.exe where only administrators\n" +
		"may change it (under Program Files). Then: sc.exe start " + windowsServiceName + " (or give --start)."
	if verb == "uninstall" {
		help = "Turn service mode off: stop the Windows service \"" + windowsServiceName + "\". When the MSI installed foureyes,\n" +
			"the service stays registered but disabled and the tray at sign-in is `foureyesw.exe daemon` again;\n" +
			"otherwise the service is removed. Its folder (the trail, the state) and the secrets in\n" +
			"LocalSystem's Credential Manager stay. Run it from an elevated prompt (Run as administrator)."
	}
	fs := e.flagSet("service "+verb, "", help)
	start := false
	if verb == "install" {
		fs.BoolVar(&start, "start", false, "start the service now too, and wait until it runs")
	}
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	var err error
	if verb == "install" {
		err = installService(e, start)
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

// serviceProgram is the program of a service's command line as the Service Control Manager
// keeps it (`"C:\Program Files\foureyes\foureyes.exe" service`, or unquoted without spaces).
func serviceProgram(cmdline string) string {
	cmdline = strings.TrimSpace(cmdline)
	if rest, ok := strings.CutPrefix(cmdline, `"`); ok {
		if i := strings.IndexByte(rest, '"'); i >= 0 {
			return rest[:i]
		}
		return "" // an unterminated quote names no program
	}
	if i := strings.IndexAny(cmdline, " \t"); i >= 0 {
		return cmdline[:i]
	}
	return cmdline
}

// trayMutexName is the Windows tray lock's name for the state folder home: in the sign-in's
// own namespace, and the same for every spelling Windows takes as that folder.
func trayMutexName(home string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(strings.ReplaceAll(home, `\`, "/")))))
	return `Local\foureyes-tray-` + hex.EncodeToString(sum[:16])
}

// trayAtSignIn is the command line of the MSI's tray at sign-in (the Run value foureyes) with
// foureyesw.exe beside prog: the tray of the service in service mode, else each user's own
// daemon. The MSI writes the same ("[INSTALLDIR]foureyesw.exe" [TRAYARGS]).
func trayAtSignIn(prog string, service bool) string {
	dir := prog[:strings.LastIndexAny(prog, `\/`)+1]
	args := "daemon"
	if service {
		args = "tray --if-service"
	}
	return `"` + dir + `foureyesw.exe" ` + args
}
