// Command foureyes is the four-eyes daemon and its command line: it keeps official social-media
// accounts' passwords in the OS keyring, checks approvers' TOTP codes, issues one-time posting
// sessions to the browser extension and writes the audit trail.
//
// This file only wires packages together, prints and exits; the rules live in
// daemon/internal/rules and the state in daemon/internal/engine.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"foureyes/daemon/internal/adminsock"
	"foureyes/daemon/internal/api"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit statuses.
const (
	exitOK          = 0
	exitRefused     = 1 // the daemon or a check said no
	exitUsage       = 2 // the command line is wrong
	exitUnavailable = 3 // the daemon is not running
)

// env is everything a command touches, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	json           bool
	// outErr is the first error writing a command's JSON or table to stdout: a script reading
	// the output must not take a truncated answer for a whole one.
	outErr error
}

// out records err, the result of writing output, if it is the first one.
func (e *env) out(err error) {
	if err != nil && e.outErr == nil {
		e.outErr = err
	}
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"daemon", "run the daemon (tray, browser bridge, admin socket)", cmdDaemon},
		{"service", "run the daemon as a system service (service mode)", cmdService},
		{"tray", "show the tray icon for the system service (service mode)", cmdTray},
		{"status", "show the daemon's health, policy and audit log", cmdStatus},
		{"account", "official accounts in custody: add, list, passwd, remove", cmdAccount},
		{"approver", "approvers: enroll, confirm, list, remove, unlock", cmdApprover},
		{"radius", "the OTP server that checks approvers' codes: secret", cmdRadius},
		{"request", "ask for approval of a text", cmdRequest},
		{"requests", "list requests", cmdRequests},
		{"approve", "approve a request with an approver's code", cmdApprove},
		{"deny", "deny a request with an approver's code", cmdDeny},
		{"cancel", "cancel your own request", cmdCancel},
		{"sessions", "list posting sessions", cmdSessions},
		{"lock", "revoke every open session and pending request now", cmdLock},
		{"audit", "audit trail: verify, export, repair, path, media", cmdAudit},
		{"policy", "policy: check FILE, show", cmdPolicy},
		{"extension", "browser extension: allow ID", cmdExtension},
		{"nativehost", "native-messaging host (started by the browser)", cmdNativeHost},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(run(e, os.Args[1:]))
}

func run(e *env, args []string) int {
	// The browser starts the native-messaging host with its own arguments, not ours.
	if isNativeHostInvocation(args) {
		return cmdNativeHost(e, args)
	}
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		if len(args) > 1 {
			return run(e, []string{args[1], "--help"})
		}
		usage(e.stdout)
		return exitOK
	}
	if name == "--version" {
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			st := c.run(e, args[1:])
			if e.outErr != nil {
				fmt.Fprintf(e.stderr, "foureyes: writing the output: %v\n", e.outErr)
				if st == exitOK {
					st = exitRefused
				}
			}
			return st
		}
	}
	fmt.Fprintf(e.stderr, "foureyes: unknown command %q\n\n", name)
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `foureyes %s: the four-eyes rule for official social-media accounts.

Usage: foureyes COMMAND [arguments]

Commands:
`, version)
	for _, c := range commands {
		if c.name == "nativehost" {
			continue
		}
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "foureyes COMMAND --help" for a command's options. Every command takes --json.

Environment:
  FOUREYES_HOME    state directory (default: `+defaultHomeHint()+`)
  FOUREYES_POLICY  policy file to use instead of the per-user one (a managed policy always wins)
  FOUREYES_SOCKET  admin socket to use (default: this user's daemon if it runs, else the
                   service's `+defaultServiceSocket+`)
`)
}

// helpOut is a FlagSet's output: standard error for mistakes, standard output when help was
// asked for (so "foureyes x --help | less" works).
type helpOut struct {
	w    io.Writer
	help io.Writer
}

func (h *helpOut) Write(b []byte) (int, error) { return h.w.Write(b) }

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// flagSet makes a FlagSet with --json and a usage text.
func (e *env) flagSet(name, args, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(&helpOut{w: e.stderr, help: e.stdout})
	fs.BoolVar(&e.json, "json", false, "print JSON for scripts")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: foureyes %s %s\n\n%s\n", name, args, help)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(fs.Output(), "\nOptions:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags that may come before or after positional arguments, so
// "approve r1 --approver anna" and "approve --approver anna r1" both work.
func parse(fs *flag.FlagSet, args []string) ([]string, int) {
	if h, ok := fs.Output().(*helpOut); ok && wantsHelp(args) {
		h.w = h.help
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK
			}
			return nil, exitUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, -1
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), -1
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// home is the state directory: FOUREYES_HOME, else the OS's per-user state location.
func (e *env) home() (string, error) {
	if h := e.getenv("FOUREYES_HOME"); h != "" {
		return filepath.Abs(h)
	}
	return defaultHome()
}

func defaultHome() (string, error) {
	switch runtime.GOOS {
	case "windows", "darwin":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("finding the state directory: %w (set FOUREYES_HOME)", err)
		}
		return filepath.Join(d, "foureyes"), nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "foureyes"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the state directory: %w (set FOUREYES_HOME)", err)
	}
	return filepath.Join(h, ".local", "state", "foureyes"), nil
}

func defaultHomeHint() string {
	switch runtime.GOOS {
	case "windows":
		return `%AppData%\foureyes`
	case "darwin":
		return "~/Library/Application Support/foureyes"
	}
	return "$XDG_STATE_HOME/foureyes or ~/.local/state/foureyes"
}

const (
	socketName = "foureyes.sock"
	auditName  = "audit.jsonl"
)

func (e *env) client() (*adminsock.Client, error) {
	p, err := e.socketPath()
	if err != nil {
		return nil, err
	}
	return adminsock.Dial(p), nil
}

// systemSocket is the service's socket (`foureyes service`); a variable so tests can move it.
var systemSocket = defaultServiceSocket

// socketPath is the admin socket commands talk to: FOUREYES_SOCKET when set; with FOUREYES_HOME
// set, that folder's; otherwise this user's own daemon when one answers, else the system
// service's socket when it is there, else this user's (and the error says to start the daemon).
func (e *env) socketPath() (string, error) {
	if p := e.getenv("FOUREYES_SOCKET"); p != "" {
		return filepath.Abs(p)
	}
	h, err := e.home()
	if err != nil {
		return "", err
	}
	own := filepath.Join(h, socketName)
	if e.getenv("FOUREYES_HOME") != "" {
		return own, nil
	}
	if adminsock.Answers(own) {
		return own, nil
	}
	if serviceThere(systemSocket) {
		return systemSocket, nil
	}
	return own, nil
}

// fail prints err and returns the exit status for it.
func (e *env) fail(err error) int {
	ae := api.AsError(err)
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"error": ae}))
	} else {
		msg := ae.Error()
		if ae.Code == api.CodeInternal && ae.Err != nil {
			msg = ae.Err.Error()
		}
		fmt.Fprintf(e.stderr, "foureyes: %s [%s]\n", msg, ae.Code)
	}
	if ae.Code == api.CodeDaemonUnavailable {
		return exitUnavailable
	}
	return exitRefused
}

// parseN is [parse] for a command that takes exactly n arguments besides its flags: otherwise
// it says want as a usage error.
func (e *env) parseN(fs *flag.FlagSet, args []string, n int, want string) ([]string, int) {
	pos, st := parse(fs, args)
	if st >= 0 {
		return nil, st
	}
	if len(pos) != n {
		return nil, e.usageErr(fs, "%s", want)
	}
	return pos, -1
}

// usageErr says what is wrong with the command line and returns exitUsage; with --json as a
// JSON error (code bad_request) on standard output, as every other error.
func (e *env) usageErr(fs *flag.FlagSet, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"error": api.Errorf(api.CodeBadRequest, "foureyes %s: %s", fs.Name(), msg), "usage": true}))
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "foureyes %s: %s\n", fs.Name(), msg)
	fmt.Fprintf(e.stderr, "Run \"foureyes %s --help\" for usage.\n", fs.Name())
	return exitUsage
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// call runs f against the daemon and prints its result: JSON with --json, else text().
func call[T any](e *env, f func(ctx context.Context, b api.Backend) (T, error), text func(T)) int {
	c, err := e.client()
	if err != nil {
		return e.fail(err)
	}
	res, err := f(context.Background(), c)
	if err != nil {
		return e.fail(err)
	}
	if e.json {
		e.out(writeJSON(e.stdout, res))
	} else if text != nil {
		text(res)
	}
	return exitOK
}

func cmdVersion(e *env, args []string) int {
	fs := e.flagSet("version", "", "Print the version.")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]string{"version": version, "go": runtime.Version()}))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "foureyes %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// subcommand dispatches "foureyes NAME SUB ...".
func subcommand(e *env, name string, args []string, subs map[string]func(*env, []string) int, help string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		w := e.stdout
		if len(args) == 0 {
			w = e.stderr
		}
		keys := make([]string, 0, len(subs))
		for k := range subs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "Usage: foureyes %s %s ...\n\n%s\n", name, strings.Join(keys, "|"), help)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	f, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "foureyes %s: unknown subcommand %q (one of: %s)\n", name, args[0], strings.Join(sortedKeys(subs), ", "))
		return exitUsage
	}
	return f(e, args[1:])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
