package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/localui"
	"foureyes/daemon/internal/tray"
	"foureyes/daemon/internal/trim"
)

// askTimeout bounds asking the kernel who answers on the socket.
const askTimeout = 5 * time.Second

// cmdTray is the per-user tray of service mode: the same tray the daemon shows in user mode,
// as a client of the service's socket. The service takes who is asking from the socket's peer
// credentials, so this process holds nothing and can claim nothing.
func cmdTray(e *env, args []string) int {
	fs := e.flagSet("tray", "[--if-service] [--lines]",
		"Show the tray icon for the foureyes service (service mode): requests and sessions,\n"+
			"notifications, Lock now, the enrolment and accounts pages. It finds the socket as every\n"+
			"command does (FOUREYES_SOCKET, else your own daemon, else "+defaultServiceSocket+").\n"+
			"Your own daemon (user mode) shows its own tray: then this command does nothing.\n"+
			"Only one foureyes tray shows per user.")
	ifService := fs.Bool("if-service", false, "exit quietly (status 0) when no foureyes service is there: for the autostart entry")
	lines := fs.Bool("lines", false, "no icon: write each menu and notification as a JSON line on standard output, and read\nmenu choices from standard input (lock, enrol, accounts, quit)")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	logger := log.New(e.stderr, "foureyes tray: ", log.LstdFlags)
	path, err := e.socketPath()
	if err != nil {
		return e.fail(err)
	}
	client := adminsock.Dial(path)
	service, err := isService(client, path, e.getenv("FOUREYES_SOCKET") != "")
	switch {
	case errors.Is(err, errNoService) && *ifService:
		logger.Printf("no foureyes service on this computer (%s) and no daemon of yours answers: nothing to show", systemSocket)
		return exitOK
	case err != nil:
		return e.fail(err)
	case !service && !*lines:
		logger.Printf("your own foureyes daemon answers on %s and shows its own tray: nothing to do", path)
		return exitOK
	}
	if service {
		client.Unavailable = serviceUnavailable
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Like the daemon, give memory back once the tray has been left alone for a while.
	idle := trim.NewIdle(trim.After, func() {
		if _, err := trim.Now(); err != nil {
			logger.Printf("giving idle memory back: %v", err)
		}
	})
	defer idle.Stop()
	idle.Poke()
	opts := tray.Options{Version: version, OnQuit: stop, Logf: logger.Printf, OnAction: idle.Poke, Service: service}
	home, err := e.home()
	if err != nil {
		return e.fail(err)
	}
	if !*lines {
		if ok, why := tray.Available(); !ok {
			return e.fail(fmt.Errorf("no tray icon can be shown: %s", why))
		}
		release, held, err := trayLock(home)
		if err != nil {
			return e.fail(err)
		}
		if held {
			logger.Printf("a foureyes tray already shows for you: nothing to do")
			return exitOK
		}
		defer release()
	}
	if service {
		// The enrolment and accounts pages, served by this process to this user only, over the
		// service's socket: what the service refuses this user, the page shows in its words.
		ui, err := localui.New(client, localui.Options{
			Logf:       logger.Printf,
			HandoffDir: handoffDir(home),
			// The service's trail has no line for this: the refusal goes to this process's log.
			OnRefused: func(r localui.Refusal) {
				logger.Printf("refused a connection to the local pages from uid %d (%s): %s (%d times)", r.UID, r.Remote, r.Reason, r.Count)
			},
		})
		if err == nil {
			err = ui.Start(ctx)
		}
		if err != nil {
			logger.Printf("the local enrolment and account pages are not available: %v", err)
		} else {
			opts.UIURL = ui.Handoff
		}
	}
	if *lines {
		if err := tray.RunLines(ctx, client, opts, e.stdout, e.stdin); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	logger.Printf("showing the tray of the foureyes service on %s", path)
	if err := tray.Run(ctx, client, opts); err != nil {
		return e.fail(fmt.Errorf("showing the tray: %w", err))
	}
	return exitOK
}

// errNoService: nothing answers, and the socket found is not the service's.
var errNoService = errors.New("no foureyes service")

// isService reports whether the socket at path is the system service's rather than a daemon of
// this user's own. The kernel says who answers (peer credentials; on Windows the pipe's owner):
// another OS user than this one (on Windows SYSTEM) is the service. A socket that does not answer counts as the service's when it is the
// service's path or named by FOUREYES_SOCKET (the service may be restarting: the tray waits for
// it); otherwise nothing runs and the error says so.
func isService(c *adminsock.Client, path string, named bool) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
	defer cancel()
	service, err := c.ServedByService(ctx)
	if err == nil {
		return service, nil
	}
	if api.CodeOf(err) == api.CodeDaemonUnavailable && (path == systemSocket || named) {
		return true, nil
	}
	if api.CodeOf(err) == api.CodeDaemonUnavailable {
		return false, &api.Error{Code: api.CodeDaemonUnavailable, Err: errNoService,
			Message: fmt.Sprintf("neither a foureyes service (%s) nor your own daemon (%s) answers: in user mode start `foureyes daemon`, which shows its own tray", systemSocket, path)}
	}
	return false, err
}

// takeTrayLock is the daemon's side of one tray per user: ok is false, and the log says why,
// when another foureyes tray (service mode's `foureyes tray`) holds the lock. A lock that cannot
// be taken at all does not hide the daemon's tray.
func takeTrayLock(home string, logger *log.Logger) (release func(), ok bool) {
	release, held, err := trayLock(home)
	switch {
	case held:
		logger.Printf("no tray icon: another foureyes tray shows for this user already; carrying on without one")
		return nil, false
	case err != nil:
		logger.Printf("the tray lock: %v; showing the tray anyway", err)
		return func() {}, true
	}
	return release, true
}
