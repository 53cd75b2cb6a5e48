package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"

	"foureyes/daemon/internal/bridge"
	"foureyes/daemon/internal/engine"
	"foureyes/daemon/internal/peeruid"
	"foureyes/daemon/internal/policy"
)

// Service mode: the engine as a system service under its own OS user. Staff users are its
// clients: the CLI and the native-messaging host over a socket every local user may open, the
// extension over the shared bridge. Who each caller is comes from the kernel (SO_PEERCRED on
// the socket, the owner of the TCP peer on the bridge; on Windows the token of the pipe's client
// process), never from a message.
// Where it keeps things by default is per OS: defaultServiceState and defaultServiceSocket are
// in service_paths_*.go; how it keeps its folder and secrets in service_state_*.go.

// serviceMode is what `foureyes service` changes in the daemon's assembly (runDaemon). Its
// methods work on a nil value, which is user mode.
type serviceMode struct {
	state, socket, policy string
	adminGroup            string // members may run the IT-only commands besides root
	credentials           string // $CREDENTIALS_DIRECTORY: systemd's decrypted credentials
	// stopc and reloadc, when set, stop the daemon and reload its policy: the Windows Service
	// Control Manager's Stop and ParamChange (elsewhere signals do).
	stopc, reloadc <-chan struct{}
}

func cmdService(e *env, args []string) int {
	if len(args) > 0 && (args[0] == "install" || args[0] == "uninstall") {
		return cmdServiceControl(e, args[0], args[1:])
	}
	fs := e.flagSet("service", "[--state-dir DIR] [--socket PATH] [--policy FILE] [--admin-group GROUP]\n       foureyes service install|uninstall   (Windows)",
		"Run foureyes as a system service (service mode), under its own OS user: the approvers' seeds,\n"+
			"the accounts' passwords, the state and the audit trail in a folder the staff cannot read;\n"+
			"the policy only from the managed location; an admin socket every local user may open, where\n"+
			"the kernel says who is calling. No tray here: each staff member's `foureyes tray` is its client.\n"+
			"Normally started by systemd\n"+
			"(foureyes.service), launchd (eu.foureyes.service) or the Windows Service Control Manager (foureyes,\n"+
			"registered disabled by the MSI and turned on by `foureyes service install` from an elevated\n"+
			"prompt); see the admin guide, \"Service mode\".")
	m := &serviceMode{credentials: e.getenv("CREDENTIALS_DIRECTORY")}
	fs.StringVar(&m.state, "state-dir", defaultServiceState, stateDirHelp)
	fs.StringVar(&m.socket, "socket", defaultServiceSocket, "admin socket every local user may open")
	fs.StringVar(&m.policy, "policy", policy.ManagedPath(), "the policy file; FOUREYES_POLICY and per-user policies are ignored")
	fs.StringVar(&m.adminGroup, "admin-group", "foureyes-admin", "OS group whose members, besides root (Windows: SYSTEM and elevated Administrators), may add, remove and re-key accounts, set the RADIUS secret and unlock approvers (a missing group means root only)")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	if err := serviceModeBuilt(runtime.GOOS); err != nil {
		return e.fail(err)
	}
	for _, p := range []*string{&m.state, &m.socket, &m.policy} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return e.fail(fmt.Errorf("foureyes service: %s: %w", *p, err))
		}
		*p = abs
	}
	return runService(e, m)
}

// runServiceHere runs the service in this process, logging to e's standard error.
func runServiceHere(e *env, m *serviceMode) int {
	logger := log.New(e.stderr, "foureyes: ", log.LstdFlags)
	log.SetOutput(e.stderr)
	log.SetPrefix("foureyes: ")
	m.startNotes(logger)
	if err := runDaemon(e, logger, true, m); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// controls stops the daemon and reloads its policy when the service's controls say so (the
// Windows Service Control Manager's Stop and ParamChange; nil channels never do).
func (m *serviceMode) controls(ctx context.Context, eng *engine.Engine, stop func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.stopc:
			stop()
			return
		case <-m.reloadc:
			if err := eng.ReloadPolicy(); err != nil {
				log.Printf("reloading the policy: %v", err)
			}
		}
	}
}

// loadPolicy reads only the managed policy (the --policy file): a staff member cannot point the
// service at a laxer one.
func (m *serviceMode) loadPolicy(logger *log.Logger) func() (*policy.Policy, string, error) {
	logger.Printf("service mode: the policy comes only from %s; FOUREYES_POLICY and per-user policy files are ignored", m.policy)
	l := policy.Locations{Managed: m.policy}
	return l.Load
}

// peerUID is how the bridge learns who holds a connection: only in service mode.
func (m *serviceMode) peerUID() func(net.Conn) (int, error) {
	if m == nil {
		return nil
	}
	return peeruid.Of
}

// onRefused records a token presented by another OS user as an alarm in the trail.
func (m *serviceMode) onRefused(eng *engine.Engine, logger *log.Logger) func(bridge.Refusal) {
	if m == nil {
		return nil
	}
	return func(r bridge.Refusal) {
		if err := eng.BridgeRefused(r.PeerUID, r.TokenUID, r.Origin, r.Reason); err != nil {
			logger.Printf("recording a refused bridge connection: %v", err)
		}
	}
}

// startFields adds the mode to the daemon_started line.
func (m *serviceMode) startFields(f map[string]any) map[string]any {
	if m != nil {
		f["mode"] = "service"
		f["socket"] = m.socket
	}
	return f
}

// isAdmin reports whether uid is IT: root, or a member of the admin group (when it exists).
func (m *serviceMode) isAdmin(uid int) bool {
	if uid == 0 {
		return true
	}
	if m == nil || m.adminGroup == "" {
		return false
	}
	g, err := user.LookupGroup(m.adminGroup)
	if err != nil {
		return false
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return false
	}
	gids, err := u.GroupIds()
	if err != nil {
		return false
	}
	return slices.Contains(gids, g.Gid)
}
