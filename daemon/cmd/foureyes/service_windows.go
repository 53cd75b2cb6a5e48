package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/winacl"
)

// Windows service mode: `foureyes service` as the Service Control Manager's service "foureyes",
// run as LocalSystem. Built and compiled in CI, not run there: CI has no Windows machine.

// serviceLogName is the service's log in its state folder: the Service Control Manager gives a
// service no standard error. (The audit events go to the Event Log; this log is the daemon's own.)
const serviceLogName = "service.log"

// Service-specific exit codes the Service Control Manager shows (sc.exe query foureyes,
// SERVICE_EXIT_CODE) when the service stops before it can write its log; apart from the exit
// statuses of main.go, which it shows for a failure after that.
const (
	exitStateFolder = 10 // the state folder is missing its access list, or others may use it
	exitLogFile     = 11 // the log in the state folder cannot be opened
)

// runService runs under the Service Control Manager when it started this program, and
// otherwise in this window (for debugging, from an elevated prompt).
func runService(e *env, m *serviceMode) int {
	underSCM, err := svc.IsWindowsService()
	if err != nil {
		return e.fail(fmt.Errorf("asking Windows whether the Service Control Manager started foureyes: %w", err))
	}
	if !underSCM {
		tok := windows.GetCurrentProcessToken()
		if u, err := tok.GetTokenUser(); err != nil || (u.User.Sid.String() != winacl.SIDSystem && !tok.IsElevated()) {
			return e.fail(api.Errorf(api.CodeNotPermitted, "foureyes service runs as the Windows service %q (foureyes service install, then sc.exe start %s); run it in a window only from an elevated prompt (Run as administrator), for debugging", windowsServiceName, windowsServiceName))
		}
		fmt.Fprintf(e.stderr, "foureyes: not started by the Service Control Manager: running in this window for debugging; the secrets are this user's Credential Manager's, not the service's, and staff programs do not trust a pipe that is not SYSTEM's\n")
		return runServiceHere(e, m)
	}
	if err := svc.Run(windowsServiceName, &scmHandler{e: e, m: m}); err != nil {
		return e.fail(fmt.Errorf("running as the Windows service %s: %w", windowsServiceName, err))
	}
	return exitOK
}

// scmHandler answers the Service Control Manager: Stop and Shutdown stop the daemon,
// ParamChange (sc.exe control foureyes paramchange) reloads the policy.
type scmHandler struct {
	e *env
	m *serviceMode
}

func (h *scmHandler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	changes <- svc.Status{State: svc.StartPending}
	// The log goes in the state folder, so that folder is checked first.
	if err := winacl.MakeStateDir(h.m.state); err != nil {
		return true, exitStateFolder
	}
	logf, err := openServiceLog(h.m.state)
	if err != nil {
		return true, exitLogFile
	}
	defer func() { _ = logf.Close() }()
	e := *h.e
	e.stdout, e.stderr = logf, logf
	stopc, reloadc := make(chan struct{}), make(chan struct{}, 1)
	h.m.stopc, h.m.reloadc = stopc, reloadc
	done := make(chan int, 1)
	go func() { done <- runServiceHere(&e, h.m) }()

	const accepts = svc.AcceptStop | svc.AcceptShutdown | svc.AcceptParamChange
	changes <- svc.Status{State: svc.Running, Accepts: accepts}
	stopping := false
	for {
		select {
		case st := <-done:
			if st != exitOK {
				return true, uint32(st)
			}
			return false, 0
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				changes <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				if !stopping {
					stopping = true
					// The engine writes its closing lines to the trail before it stops.
					changes <- svc.Status{State: svc.StopPending, WaitHint: 30_000}
					close(stopc)
				}
			case svc.ParamChange:
				select {
				case reloadc <- struct{}{}:
				default: // a reload is already waiting
				}
			}
		}
	}
}

// openServiceLog opens the service's log in the state folder, keeping the previous run's log
// beside it (service.log.1). Files made there take the folder's access list.
func openServiceLog(dir string) (io.WriteCloser, error) {
	p := filepath.Join(dir, serviceLogName)
	if err := os.Rename(p, p+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
}

// elevated refuses, in words, a command that changes this computer's services when this
// program is neither running from an elevated prompt nor as SYSTEM (the MSI runs `foureyes
// service install --start` as SYSTEM when it keeps service mode on across an upgrade).
func elevated(what string) error {
	tok := windows.GetCurrentProcessToken()
	if tok.IsElevated() {
		return nil
	}
	if u, err := tok.GetTokenUser(); err == nil && u.User.Sid.String() == winacl.SIDSystem {
		return nil
	}
	return api.Errorf(api.CodeNotPermitted, "%s changes the services of this computer: run it from an elevated prompt (Run as administrator)", what)
}

// The service's name and description as services.msc shows them; installer/windows/foureyes.wxs
// registers the same.
const (
	windowsServiceDisplayName = "foureyes (four-eyes rule)"
	windowsServiceDescription = "Holds the organisation's social-media accounts and lets a post out only when a second person has approved it (foureyes service mode)."
)

// Registry places service mode uses, all under HKEY_LOCAL_MACHINE (the 64-bit view).
const (
	// foureyesKey holds what the MSI writes (Version: the MSI installed foureyes) and the value
	// ServiceMode ("1": service mode is on), which the MSI reads at every install and upgrade to
	// keep the service on and the tray at sign-in service mode's. The MSI does not own ServiceMode: it
	// outlives an upgrade's removal of the older version.
	foureyesKey      = `Software\foureyes`
	serviceModeValue = "ServiceMode"
	// runKey's value foureyes is the MSI's tray at sign-in.
	runKey   = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValue = "foureyes"
)

// installedByMSI reports whether the MSI installed foureyes on this computer (its Version value
// is there): the MSI then owns the service's registration.
func installedByMSI() bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, foureyesKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return false
	}
	defer func() { _ = k.Close() }()
	_, _, err = k.GetStringValue("Version")
	return err == nil
}

// setServiceMode remembers service mode on or off in HKLM\Software\foureyes.
func setServiceMode(on bool) error {
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, foureyesKey, registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return fmt.Errorf(`opening HKLM\%s: %w`, foureyesKey, err)
	}
	defer func() { _ = k.Close() }()
	if on {
		err = k.SetStringValue(serviceModeValue, "1")
	} else if err = k.DeleteValue(serviceModeValue); errors.Is(err, registry.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf(`writing HKLM\%s, value %s: %w`, foureyesKey, serviceModeValue, err)
	}
	return nil
}

// setTrayAtSignIn points the MSI's tray at sign-in (the Run value foureyes, for every user) at
// service mode's tray (`foureyesw.exe tray --if-service`, a client of the service) or at user
// mode's (`foureyesw.exe daemon`, each user's own daemon), foureyesw.exe beside prog, as the MSI
// writes it. Only where the MSI installed foureyes: elsewhere nothing starts at sign-in. It
// reports whether it changed anything.
func setTrayAtSignIn(service bool, prog string) (bool, error) {
	if !installedByMSI() {
		return false, nil
	}
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, runKey, registry.QUERY_VALUE|registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return false, fmt.Errorf(`opening HKLM\%s: %w`, runKey, err)
	}
	defer func() { _ = k.Close() }()
	want := trayAtSignIn(prog, service)
	if got, _, err := k.GetStringValue(runValue); err == nil && got == want {
		return false, nil
	}
	if err := k.SetStringValue(runValue, want); err != nil {
		return false, fmt.Errorf(`changing HKLM\%s, value %s: %w`, runKey, runValue, err)
	}
	return true, nil
}

// setStartType sets when Windows starts the service (windows.SERVICE_AUTO_START, _DISABLED),
// changing nothing else of its registration.
func setStartType(s *mgr.Service, start uint32) error {
	const same = windows.SERVICE_NO_CHANGE
	if err := windows.ChangeServiceConfig(s.Handle, same, start, same, nil, nil, nil, nil, nil, nil, nil); err != nil {
		return fmt.Errorf("changing when Windows starts the service %q: %w", windowsServiceName, err)
	}
	return nil
}

// installService turns service mode on. The MSI registers the service (LocalSystem, disabled):
// this sets it to start at boot. Without the MSI it registers the service itself. Either way
// Windows restarts it when it fails, its state folder is made with its access list now (by an
// administrator), so that no user can make that folder first, its Event Log source is
// registered, ServiceMode is remembered for the MSI's upgrades and the tray at sign-in made
// service mode's `foureyes tray --if-service` (each user's own daemon would hold the bridge
// port). With start, it starts the service and waits until it runs.
func installService(e *env, start bool) error {
	if err := elevated("foureyes service install"); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's path: %w", err)
	}
	programFiles := []string{os.Getenv("ProgramFiles"), os.Getenv("ProgramFiles(x86)"), os.Getenv("ProgramW6432")}
	// The service runs this very file as LocalSystem: anyone who may replace it may run
	// anything as LocalSystem.
	if !underDir(exe, programFiles...) {
		return api.Errorf(api.CodeBadRequest, "%s is not under Program Files: the service runs this file as LocalSystem, so it must be where only administrators may change it; install foureyes with its MSI (or copy foureyes.exe under %s) and run foureyes service install from there", exe, os.Getenv("ProgramFiles"))
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the Service Control Manager: %w", err)
	}
	defer func() { _ = m.Disconnect() }()
	if err := winacl.MakeStateDir(defaultServiceState); err != nil {
		return err
	}
	prog, how := exe, "registered"
	s, err := m.OpenService(windowsServiceName)
	if err == nil {
		// Registered already (by the MSI, or by an earlier foureyes service install): it must
		// run a program only administrators may change before it is turned on.
		cfg, err := s.Config()
		if err != nil {
			_ = s.Close()
			return fmt.Errorf("reading the registration of the service %q: %w", windowsServiceName, err)
		}
		prog = serviceProgram(cfg.BinaryPathName)
		if !underDir(prog, programFiles...) {
			_ = s.Close()
			return api.Errorf(api.CodeBadRequest, "the service %q runs %s, which is not under Program Files: remove it (foureyes service uninstall, or sc.exe delete %s) and run foureyes service install again", windowsServiceName, cfg.BinaryPathName, windowsServiceName)
		}
		if err := setStartType(s, windows.SERVICE_AUTO_START); err != nil {
			_ = s.Close()
			return err
		}
		how = "set to start at boot"
	} else {
		s, err = m.CreateService(windowsServiceName, exe, mgr.Config{
			StartType:   mgr.StartAutomatic,
			DisplayName: windowsServiceDisplayName,
			Description: windowsServiceDescription,
		}, "service")
		if err != nil {
			return fmt.Errorf("registering the service %q: %w", windowsServiceName, err)
		}
	}
	defer func() { _ = s.Close() }()
	restart := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 2 * time.Minute},
	}
	if err := s.SetRecoveryActions(restart, uint32((24 * time.Hour).Seconds())); err != nil {
		fmt.Fprintf(e.stderr, "foureyes: the service is on, but Windows will not restart it when it fails: %v\n", err)
	}
	if err := registerEventSource(); err != nil {
		fmt.Fprintf(e.stderr, "foureyes: %v; the audit events still reach the Event Log, shown without their source's registration\n", err)
	}
	if err := setServiceMode(true); err != nil {
		return fmt.Errorf("the service is on, but an upgrade of the MSI would turn it off again: %w", err)
	}
	trayChanged, err := setTrayAtSignIn(true, prog)
	if err != nil {
		return fmt.Errorf("the service is on, but each user's own daemon still starts at sign-in: %w", err)
	}
	if start {
		if err := startService(s); err != nil {
			return err
		}
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"service": windowsServiceName, "program": prog, "state": defaultServiceState, "pipe": defaultServiceSocket, "started": start, "tray_at_sign_in": trayAtSignIn(prog, true), "tray_at_sign_in_changed": trayChanged}))
		return nil
	}
	fmt.Fprintf(e.stdout, "service mode on: the service %q is %s (LocalSystem, started at boot, running %s service)\nstate and log in %s; staff programs connect to %s; audit events go to the Event Log (Application, source %s)\n", windowsServiceName, how, prog, defaultServiceState, defaultServiceSocket, eventSource)
	if trayChanged {
		fmt.Fprintf(e.stdout, "the tray at sign-in (HKLM\\%s, value %s) is now service mode's: %s\n", runKey, runValue, trayAtSignIn(prog, true))
	}
	if start {
		fmt.Fprintf(e.stdout, "the service is running\n")
	} else {
		fmt.Fprintf(e.stdout, "start it now with: sc.exe start %s\n", windowsServiceName)
	}
	return nil
}

// startService starts the service unless it runs, and waits up to a minute until it does.
func startService(s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("asking the state of the service %q: %w", windowsServiceName, err)
	}
	if st.State == svc.Running {
		return nil
	}
	if st.State == svc.Stopped {
		if err := s.Start(); err != nil {
			return fmt.Errorf("starting the service %q: %w (see %s)", windowsServiceName, err, filepath.Join(defaultServiceState, serviceLogName))
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("asking the state of the service %q: %w", windowsServiceName, err)
		}
		switch {
		case st.State == svc.Running:
			return nil
		case st.State == svc.Stopped:
			return fmt.Errorf("the service %q stopped as it started (exit code %d, service-specific %d): see %s, or run foureyes service from an elevated prompt to read why", windowsServiceName, st.Win32ExitCode, st.ServiceSpecificExitCode, filepath.Join(defaultServiceState, serviceLogName))
		case time.Now().After(deadline):
			return fmt.Errorf("the service %q did not start within a minute (state %d): see %s", windowsServiceName, st.State, filepath.Join(defaultServiceState, serviceLogName))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// uninstallService turns service mode off: it stops the service; when the MSI installed
// foureyes it leaves the MSI's registration in place, disabled, and makes the tray at sign-in
// user mode's again; otherwise it removes the service and its Event Log source. The folder and the secrets stay.
func uninstallService(e *env) error {
	if err := elevated("foureyes service uninstall"); err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the Service Control Manager: %w", err)
	}
	defer func() { _ = m.Disconnect() }()
	s, err := m.OpenService(windowsServiceName)
	if err != nil {
		return api.Errorf(api.CodeNotFound, "the service %q is not installed (%v)", windowsServiceName, err)
	}
	defer func() { _ = s.Close() }()
	cfg, err := s.Config()
	if err != nil {
		return fmt.Errorf("reading the registration of the service %q: %w", windowsServiceName, err)
	}
	msi := installedByMSI()
	if msi {
		// Disabled first, so that nothing starts it again while it stops.
		if err := setStartType(s, windows.SERVICE_DISABLED); err != nil {
			return err
		}
	}
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("asking the state of the service %q: %w", windowsServiceName, err)
	}
	if st.State != svc.Stopped {
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stopping the service %q: %w", windowsServiceName, err)
		}
		deadline := time.Now().Add(time.Minute)
		for st.State != svc.Stopped {
			if time.Now().After(deadline) {
				return fmt.Errorf("the service %q did not stop within a minute (state %d): see %s, then try again", windowsServiceName, st.State, filepath.Join(defaultServiceState, serviceLogName))
			}
			time.Sleep(300 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				return fmt.Errorf("asking the state of the service %q: %w", windowsServiceName, err)
			}
		}
	}
	if err := setServiceMode(false); err != nil {
		return fmt.Errorf("the service is stopped, but an upgrade of the MSI would turn it on again: %w", err)
	}
	trayOn := false
	if msi {
		if trayOn, err = setTrayAtSignIn(false, serviceProgram(cfg.BinaryPathName)); err != nil {
			return fmt.Errorf("the service is stopped and disabled, but the tray at sign-in is still service mode's: %w", err)
		}
	} else {
		if err := s.Delete(); err != nil {
			return fmt.Errorf("removing the service %q: %w", windowsServiceName, err)
		}
		if err := removeEventSource(); err != nil {
			fmt.Fprintf(e.stderr, "foureyes: %v\n", err)
		}
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"service": windowsServiceName, "removed": !msi, "disabled": msi, "tray_at_sign_in_restored": trayOn, "state_kept": defaultServiceState}))
		return nil
	}
	if msi {
		fmt.Fprintf(e.stdout, "service mode off: the service %q is stopped and disabled (the MSI keeps it registered)\n", windowsServiceName)
	} else {
		fmt.Fprintf(e.stdout, "service mode off: the service %q is stopped and removed\n", windowsServiceName)
	}
	if trayOn {
		fmt.Fprintf(e.stdout, "the tray at sign-in (HKLM\\%s, value %s) is user mode's again: each user's own daemon starts at their next sign-in\n", runKey, runValue)
	}
	fmt.Fprintf(e.stdout, "its folder %s (the trail, the state) and its secrets in LocalSystem's Credential Manager are kept\n", defaultServiceState)
	return nil
}

// serviceThere reports whether the service's pipe answers (owned by SYSTEM or this user: the
// client checks).
func serviceThere(path string) bool { return adminsock.Answers(path) }

// eventSource is the Event Log source the audit events are written under.
const eventSource = audit.EventSource

// eventSourceKey is where Windows keeps the registration of an Application log source.
const eventSourceKey = `SYSTEM\CurrentControlSet\Services\EventLog\Application\` + eventSource

// registerEventSource registers the audit events' Event Log source, with EventCreate.exe as its
// message file, unless it is registered (the MSI registers it too).
func registerEventSource() error {
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE); err == nil {
		_ = k.Close()
		return nil
	}
	if err := eventlog.InstallAsEventCreate(eventSource, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		return fmt.Errorf("registering the Event Log source %q: %w", eventSource, err)
	}
	return nil
}

// removeEventSource removes the source's registration, when foureyes service uninstall removes
// a service the MSI did not register. The entries written stay in the Event Log.
func removeEventSource() error {
	if err := eventlog.Remove(eventSource); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("removing the Event Log source %q (HKLM\\%s): %w", eventSource, eventSourceKey, err)
	}
	return nil
}
