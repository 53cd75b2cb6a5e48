package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/bridge"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/engine"
	"foureyes/daemon/internal/localui"
	"foureyes/daemon/internal/peeruid"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/tray"
	"foureyes/daemon/internal/trim"
)

// keyringService names the keyring entries. A non-default FOUREYES_HOME gets entries of its
// own, so test instances and a second daemon never touch the real ones.
func keyringService(home string, custom bool) string {
	if !custom {
		return "foureyes"
	}
	sum := sha256.Sum256([]byte(home))
	return "foureyes-" + hex.EncodeToString(sum[:6])
}

func currentCaller(via string) api.Caller {
	c := api.Caller{UID: os.Getuid(), Via: via, OSUser: strconv.Itoa(os.Getuid())}
	if u, err := user.Current(); err == nil {
		c.OSUser = u.Username
	}
	return c
}

func cmdDaemon(e *env, args []string) int {
	fs := e.flagSet("daemon", "[--headless]",
		"Run the foureyes daemon for this user: the tray icon, the browser bridge on 127.0.0.1 and the\n"+
			"admin socket the foureyes command uses. Stop it with Ctrl+C or SIGTERM; SIGHUP reloads the policy.")
	var headless bool
	fs.BoolVar(&headless, "headless", false, "no tray icon (servers, CI, desktops without a tray)")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	logger := log.New(e.stderr, "foureyes: ", log.LstdFlags)
	// The engine and the packages below log through the standard logger: the same stream and
	// prefix as the daemon's own lines.
	log.SetOutput(e.stderr)
	log.SetPrefix("foureyes: ")
	if err := runDaemon(e, logger, headless, nil); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// runDaemon assembles and runs the daemon: user mode when svc is nil, else service mode
// (cmd_service.go), which differs only where svc is read.
func runDaemon(e *env, logger *log.Logger, headless bool, svc *serviceMode) error {
	home, err := e.home()
	if svc != nil {
		home, err = svc.state, svc.checkState()
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("creating the state directory %s: %w", home, err)
	}
	loadPolicy := policy.Load
	if svc != nil {
		loadPolicy = svc.loadPolicy(logger)
	}

	// The audit log comes first: without it nothing may happen.
	var forwarders []audit.Forwarder
	pol, polSource, polErr := loadPolicy()
	if polErr != nil {
		logger.Printf("POLICY INVALID, no approvals until it is fixed: %v", polErr)
	}
	// Always there, so a policy reload can turn it on; the engine turns it off when the policy
	// in force says so (after the line that says so has been forwarded).
	fw, err := audit.NewSyslogForwarder("foureyes")
	if err != nil && (pol == nil || pol.Audit.Syslog) {
		logger.Printf("audit events do not reach the system log yet (tried again with every event; foureyes status says so): %v", err)
	}
	if fw != nil {
		forwarders = append(forwarders, fw)
	}
	// The organisation's collector, when the policy names one. Its queue in the state directory
	// keeps what it has not confirmed across restarts; closed after the trail, so the last lines
	// are queued, and given a few seconds to send them.
	coll := audit.NewCollector(filepath.Join(home, collectorQueueName), logger.Printf)
	if err := coll.Configure(collectorConfig(pol)); err != nil {
		logger.Printf("audit events are not queued for the collector: %v", err)
	}
	defer func() { _ = coll.Close(5 * time.Second) }()
	forwarders = append(forwarders, coll)
	auditPath := filepath.Join(home, auditName)
	alog, err := audit.Open(auditPath, audit.Options{Forwarders: forwarders})
	if err != nil {
		if errors.Is(err, audit.ErrTorn) {
			return &api.Error{Code: api.CodeAuditUnavailable, Err: err,
				Message: fmt.Sprintf("%v: the daemon crashed while writing it. Run `foureyes audit repair` (the torn bytes are kept in a side file), then start the daemon again", err)}
		}
		return &api.Error{Code: api.CodeAuditUnavailable, Err: err, Message: fmt.Sprintf("opening the audit log: %v", err)}
	}
	defer func() { _ = alog.Close() }()

	// Every keyring call goes through one queue that answers within seconds: a locked keyring
	// waiting at an unlock prompt must not freeze the daemon.
	var store custody.Store
	if svc != nil {
		if store, err = svc.openStore(logger); err != nil {
			return err
		}
	} else {
		store = custody.NewQueue(custody.NewKeyring(keyringService(home, e.getenv("FOUREYES_HOME") != "")), 0)
	}
	// Once start-up has settled, and again after each burst of activity, the daemon gives back
	// what idling does not use: freed heap, and its program's pages start-up touched. Once per
	// burst, never on a timer while idle.
	idle := trim.NewIdle(trim.After, func() {
		if _, err := trim.Now(); err != nil {
			logger.Printf("giving idle memory back: %v", err)
		}
	})
	defer idle.Stop()
	var br *bridge.Server
	port := policy.DefaultBridgePort
	if pol != nil {
		port = pol.BridgePort
	}
	eng, err := engine.New(engine.Options{
		Home: home, Store: store, Audit: alog,
		Policy: pol, PolicySource: polSource, PolicyErr: polErr, LoadPolicy: loadPolicy,
		Version: version,
		Extensions: func() int {
			if br == nil {
				return 0
			}
			return br.Connected()
		},
		BridgeAddr:  fmt.Sprintf("127.0.0.1:%d", port),
		StartFields: svc.startFields(map[string]any{"native_host_manifests": allowedExtensions()}),
		Activity:    idle.Poke,
		PolicyInForce: func(p *policy.Policy) {
			if err := coll.Configure(collectorConfig(p)); err != nil {
				logger.Printf("audit events are not queued for the collector: %v", err)
			}
			recordCollectorNotes(alog, coll, logger)
		},
	})
	if err != nil {
		return err
	}
	// Without its first audit line the daemon must not run.
	if err := eng.Start(); err != nil {
		return err
	}
	recordCollectorNotes(alog, coll, logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	br, err = bridge.New(bridge.Config{
		Port:    port,
		Owner:   currentCaller("bridge"),
		Backend: func(c api.Caller) api.Staff { return eng.Staff(c) },
		ChromeIDs: func() []string {
			if p, _, _ := eng.Policy(); p != nil {
				return p.ExtensionIDs
			}
			return nil
		},
		Policy: func() bridge.ClientPolicy {
			p, _, _ := eng.Policy()
			if p == nil {
				return bridge.ClientPolicy{}
			}
			return bridge.ClientPolicy{MastodonInstances: p.MastodonInstances, PrivateAccounts: p.PrivateAccounts}
		},
		Logf:      logger.Printf,
		Version:   version,
		PeerUID:   svc.peerUID(),
		OnRefused: svc.onRefused(eng, logger),
	})
	if err != nil {
		return err
	}

	sockPath := filepath.Join(home, socketName)
	if svc != nil {
		sockPath = svc.socket
	}
	sock, err := adminsock.Listen(sockPath, adminsock.Config{
		Backend: func(c api.Caller) api.Backend { return eng.Owner(c) },
		Logf:    logger.Printf,
		Shared:  svc != nil,
		Admin:   svc.isAdmin,
		AdminGroup: func() string {
			if svc == nil {
				return ""
			}
			return svc.adminGroup
		}(),
		OnAdminRefused: func(c api.Caller, method string) {
			if err := eng.CommandRefused(c.UID, c.OSUser, method); err != nil {
				logger.Printf("recording a refused %s: %v", method, err)
			}
		},
	})
	if err != nil {
		return err
	}
	errc := make(chan error, 4)
	go func() { errc <- sock.Serve(ctx) }()
	go serveBridge(ctx, br, eng, port, logger, svc != nil)

	engineDone := make(chan struct{})
	go func() { eng.Run(ctx); close(engineDone) }()
	go reloadOnHUP(ctx, eng)
	if svc != nil {
		go svc.controls(ctx, eng, stop)
	}

	logger.Printf("ready: admin socket %s, audit log %s, policy %s", sock.Path(), auditPath, polSource)
	idle.Poke() // start-up is activity: trim once it has settled

	// A failing server stops the daemon; its error is the daemon's.
	var serveErr atomic.Pointer[error]
	go func() {
		select {
		case <-ctx.Done():
		case e := <-errc:
			serveErr.Store(&e)
			stop()
		}
	}()

	// The tray runs on the main goroutine (the desktop's event loop needs the main thread);
	// everything else already runs on its own.
	trayBackend := eng.Owner(currentCaller("tray"))
	// The service has no tray and no local pages: each staff member's desktop is its client.
	if !headless && svc == nil {
		if ok, why := tray.Available(); !ok {
			logger.Printf("no tray icon: %s; carrying on without one (foureyes daemon --headless says so on purpose)", why)
		} else if release, ok := takeTrayLock(home, logger); ok {
			defer release()
			ui, uerr := localui.New(trayBackend, localui.Options{
				Logf:       logger.Printf,
				HandoffDir: handoffDir(home),
				// Another OS user of this computer tried the pages: an alarm in the trail.
				OnRefused: func(r localui.Refusal) {
					if err := eng.LocalPageRefused(r.UID, r.Remote, r.Reason, r.Count); err != nil {
						logger.Printf("recording a refused local page connection: %v", err)
					}
				},
			})
			if uerr == nil {
				uerr = ui.Start(ctx)
			}
			topts := tray.Options{Version: version, OnQuit: stop, Logf: logger.Printf, OnAction: idle.Poke}
			if uerr != nil {
				logger.Printf("the local enrolment and account pages are not available: %v", uerr)
			} else {
				topts.UIURL = ui.Handoff
			}
			if terr := tray.Run(ctx, trayBackend, topts); terr != nil {
				logger.Printf("no tray icon: %v; carrying on without one", terr)
			} else {
				stop() // Quit in the menu
			}
		}
	}
	<-ctx.Done()
	err = nil
	if e := serveErr.Load(); e != nil {
		err = *e
	}
	stop()
	<-engineDone // the engine's closing lines are written
	logger.Printf("stopped")
	return err
}

// serveBridge listens on the bridge port and serves it. If another program holds the port, it
// fails closed (the extension blocks every post and says the daemon cannot be reached), tells
// the engine (status, tray and trail say the bridge is down and why), and tries again with a
// growing pause until the port is free.
func serveBridge(ctx context.Context, br *bridge.Server, eng *engine.Engine, port int, logger *log.Logger, shared bool) {
	pause := time.Second
	for {
		err := br.Listen()
		if err == nil {
			break
		}
		err = portHeld(port, err)
		logger.Printf("THE BROWSER EXTENSION CANNOT CONNECT: %v (is another program using port %d? set bridge_port in the policy); trying again in %v", err, port, pause)
		eng.SetBridgeError(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(pause*2, time.Minute)
	}
	eng.SetBridgeHello(br.Hello)
	if shared {
		eng.SetBridgeHelloFor(br.HelloFor)
	}
	eng.SetBridgeError(nil)
	if err := br.Serve(ctx); err != nil && ctx.Err() == nil {
		logger.Printf("browser bridge stopped: %v", err)
		eng.SetBridgeError(err)
	}
}

// handoffDir is where the local pages' handoff files go: a folder of this user's only, in
// XDG_RUNTIME_DIR where the desktop has one, else in the state directory.
func handoffDir(home string) string {
	if d := localui.DefaultHandoffDir(); d != "" {
		return d
	}
	return filepath.Join(home, "pages")
}

// portHeld names who holds the bridge port when listening failed because it is taken: the
// kernel always tells the user; the PID and program only when they are this user's (or the
// daemon runs as root).
func portHeld(port int, err error) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	who := "another program"
	if h, herr := peeruid.PortHolder(uint16(port)); herr == nil {
		name := strconv.Itoa(h.UID)
		if u, uerr := engine.LookupUID(h.UID); uerr == nil {
			name = u.Username
		}
		if h.PID > 0 {
			who += fmt.Sprintf(" (PID %d %s, user %s)", h.PID, h.Command, name)
		} else {
			who += fmt.Sprintf(" (user %s)", name)
		}
	}
	return fmt.Errorf("port 127.0.0.1:%d is held by %s: %w", port, who, err)
}

// reloadOnHUP reloads the policy on SIGHUP; the engine records the outcome.
func reloadOnHUP(ctx context.Context, eng *engine.Engine) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := eng.ReloadPolicy(); err != nil {
				log.Printf("reloading the policy: %v", err)
			}
		}
	}
}

// collectorQueueName is the collector's queue in the state directory.
const collectorQueueName = "collector.queue"

// collectorConfig is the policy's audit.collector for the forwarder (nil: none).
func collectorConfig(p *policy.Policy) *audit.CollectorConfig {
	if p == nil || p.Audit.Collector == nil {
		return nil
	}
	c := p.Audit.Collector
	return &audit.CollectorConfig{Address: c.Address, CAFile: c.CAFile, ClientCertFile: c.ClientCertFile,
		ClientKeyFile: c.ClientKeyFile, ServerName: c.VerifyName(), QueueMaxBytes: int64(c.QueueMaxMiB) << 20}
}

// recordCollectorNotes puts what opening the collector's queue found (a torn last record cut
// off after a crash) into the trail, as an alarm: those events are missing from the copy.
func recordCollectorNotes(alog *audit.Log, coll *audit.Collector, logger *log.Logger) {
	for _, n := range coll.Notes() {
		if err := alog.Record("foureyes", "forwarding_queue_repaired", audit.SeverityHigh, map[string]any{"note": n}); err != nil {
			logger.Printf("recording %q: %v", n, err)
		}
	}
}
