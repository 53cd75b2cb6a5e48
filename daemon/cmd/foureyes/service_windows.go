package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/winacl"
)

// Windows service mode: `foureyes service` as the Service Control Manager's service "foureyes",
// run as LocalSystem. Built and compiled in CI, not run there: CI has no Windows machine.

// serviceLogName is the service's log in its state folder: the Service Control Manager gives a
// service no standard error, and the Event Log is not written to yet.
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
// program is not running from an elevated prompt.
func elevated(what string) error {
	if windows.GetCurrentProcessToken().IsElevated() {
		return nil
	}
	return api.Errorf(api.CodeNotPermitted, "%s changes the services of this computer: run it from an elevated prompt (Run as administrator)", what)
}

// installService registers the service: LocalSystem, automatic start, restarted by Windows if
// it fails, and its state folder made with its access list now (by an administrator), so that
// no user can make that folder first.
func installService(e *env) error {
	if err := elevated("foureyes service install"); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's path: %w", err)
	}
	// The service runs this very file as LocalSystem: anyone who may replace it may run
	// anything as LocalSystem.
	if !underDir(exe, os.Getenv("ProgramFiles"), os.Getenv("ProgramFiles(x86)"), os.Getenv("ProgramW6432")) {
		return api.Errorf(api.CodeBadRequest, "%s is not under Program Files: the service runs this file as LocalSystem, so it must be where only administrators may change it; install foureyes with its MSI (or copy foureyes.exe under %s) and run foureyes service install from there", exe, os.Getenv("ProgramFiles"))
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the Service Control Manager: %w", err)
	}
	defer func() { _ = m.Disconnect() }()
	if s, err := m.OpenService(windowsServiceName); err == nil {
		_ = s.Close()
		return api.Errorf(api.CodeExists, "the service %q is installed already: foureyes service uninstall first to register it again", windowsServiceName)
	}
	if err := winacl.MakeStateDir(defaultServiceState); err != nil {
		return err
	}
	s, err := m.CreateService(windowsServiceName, exe, mgr.Config{
		StartType:   mgr.StartAutomatic,
		DisplayName: "foureyes (four-eyes rule)",
		Description: "Holds the organisation's social-media accounts and lets a post out only when a second person has approved it (foureyes service mode).",
	}, "service")
	if err != nil {
		return fmt.Errorf("registering the service %q: %w", windowsServiceName, err)
	}
	defer func() { _ = s.Close() }()
	restart := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 2 * time.Minute},
	}
	if err := s.SetRecoveryActions(restart, uint32((24 * time.Hour).Seconds())); err != nil {
		fmt.Fprintf(e.stderr, "foureyes: the service is registered, but Windows will not restart it when it fails: %v\n", err)
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"service": windowsServiceName, "program": exe, "state": defaultServiceState, "pipe": defaultServiceSocket}))
	} else {
		fmt.Fprintf(e.stdout, "registered the service %q: LocalSystem, started at boot, running %s service\nstate and log in %s; staff programs connect to %s\nstart it now with: sc.exe start %s\n", windowsServiceName, exe, defaultServiceState, defaultServiceSocket, windowsServiceName)
	}
	return nil
}

// uninstallService stops the service and removes it; its folder and secrets stay.
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
	if err := s.Delete(); err != nil {
		return fmt.Errorf("removing the service %q: %w", windowsServiceName, err)
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"removed": windowsServiceName, "state_kept": defaultServiceState}))
	} else {
		fmt.Fprintf(e.stdout, "removed the service %q; its folder %s (the trail, the state) and its secrets in LocalSystem's Credential Manager are kept\n", windowsServiceName, defaultServiceState)
	}
	return nil
}

// serviceThere reports whether the service's pipe answers (owned by SYSTEM or this user: the
// client checks).
func serviceThere(path string) bool { return adminsock.Answers(path) }
