package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/bridge"
	"foureyes/daemon/internal/nativehost"
	"foureyes/daemon/internal/policy"
)

// isNativeHostInvocation reports whether the browser started us as a native-messaging host:
// browsers pass their own arguments (chrome-extension://ID/, or a manifest path and an add-on
// id), never ours.
func isNativeHostInvocation(args []string) bool { return nativehost.Detect(args) }

func cmdNativeHost(e *env, args []string) int {
	if len(args) > 0 && args[0] == "nativehost" {
		args = args[1:]
	}
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(e.stderr, "foureyes nativehost: the native-messaging host. The browser starts it for the foureyes\n"+
			"extension (see `foureyes extension allow`); it is not meant to be run by hand.")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, err := e.client()
	if err != nil {
		fmt.Fprintln(e.stderr, "foureyes nativehost:", err)
		return exitRefused
	}
	opts := nativehost.Options{}
	if p, _, err := policy.Load(); err == nil {
		opts.FirefoxIDs = p.FirefoxExtensionIDs
		opts.ChromeIDs = p.ExtensionIDs
	}
	// Only stderr may carry text: stdout is the browser's message stream.
	if err := nativehost.RunOptions(context.Background(), e.stdin, e.stdout, args, c, opts); err != nil {
		fmt.Fprintln(e.stderr, "foureyes nativehost:", err)
		return exitRefused
	}
	return exitOK
}

func cmdExtension(e *env, args []string) int {
	return subcommand(e, "extension", args, map[string]func(*env, []string) int{
		"allow":    cmdExtensionAllow,
		"manifest": cmdExtensionManifest,
	}, "The browser extension reaches the daemon through the native-messaging host, which the browser\nstarts only for extension IDs its host manifest allows.")
}

func cmdExtensionAllow(e *env, args []string) int {
	fs := e.flagSet("extension allow", "[--dev] [CHROME_ID...] [--firefox ADDON_ID] [--dir USER_DATA_DIR]",
		"Write the user-level native-messaging host manifests (Chromium, Chrome, Edge, Firefox) that let\n"+
			"the given extension IDs start `foureyes nativehost`. --dev allows the extension in this\n"+
			"repository (loaded unpacked). The daemon still accepts only the Chrome IDs its policy pins\n"+
			"(extension_ids). Recorded in the audit trail when the daemon runs.")
	var dev bool
	var firefox, dir string
	fs.BoolVar(&dev, "dev", false, "allow the extension in this repository ("+policy.DefaultExtensionID+", "+policy.DefaultFirefoxExtensionID+")")
	fs.StringVar(&firefox, "firefox", "", "a Firefox add-on ID to allow")
	fs.StringVar(&dir, "dir", "", "a Chromium profile folder (what the browser was started with as --user-data-dir): write only the Chromium manifest, into its NativeMessagingHosts folder")
	pos, st := parse(fs, args)
	if st >= 0 {
		return st
	}
	chrome := pos
	var ff []string
	if dev {
		chrome = append(chrome, policy.DefaultExtensionID)
		ff = append(ff, policy.DefaultFirefoxExtensionID)
	}
	if firefox != "" {
		ff = append(ff, firefox)
	}
	if len(chrome) == 0 && len(ff) == 0 {
		return e.usageErr(fs, "name the extension IDs to allow, or --dev")
	}
	for _, id := range chrome {
		if !bridge.IsChromeID(id) {
			return e.usageErr(fs, "%q is not a Chrome extension ID (32 letters a to p, shown on chrome://extensions)", id)
		}
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return e.fail(fmt.Errorf("finding the foureyes binary's path: %w", err))
	}
	opts := nativehost.InstallOptions{Binary: self, ChromeIDs: chrome, FirefoxIDs: ff, Force: true}
	if dir != "" {
		opts.Targets = []nativehost.Target{nativehost.UserDataDirTarget(dir)}
		opts.FirefoxIDs = nil
	}
	files, err := nativehost.InstallManifest(opts)
	if err != nil {
		return e.fail(fmt.Errorf("writing the native-messaging host manifests: %w", err))
	}
	recorded := true
	if c, cerr := e.client(); cerr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ids := strings.Join(append(append([]string{}, chrome...), ff...), ",")
		if err := c.ExtensionAllowed(ctx, "chromium,firefox", ids, strings.Join(files, ",")); err != nil {
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code != api.CodeDaemonUnavailable {
				return e.fail(err)
			}
			recorded = false
		}
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"manifests": files, "chrome_ids": chrome, "firefox_ids": ff, "audited": recorded}))
		return exitOK
	}
	for _, f := range files {
		fmt.Fprintf(e.stdout, "wrote %s\n", f)
	}
	if !recorded {
		fmt.Fprintln(e.stdout, "(the daemon is not running, so this is not in the audit trail yet; the daemon records the allowed extensions when it starts)")
	}
	return exitOK
}

// cmdExtensionManifest prints one native-messaging host manifest, so installers ship the same
// file `extension allow` writes instead of a copy of its format.
func cmdExtensionManifest(e *env, args []string) int {
	fs := e.flagSet("extension manifest", "--browser chromium|firefox [--binary PATH] [ID...]",
		"Print the native-messaging host manifest for one browser family, for packages and installers\n"+
			"that put it in the system-wide locations (Chromium browsers: allowed extension IDs; Firefox:\n"+
			"allowed add-on IDs). Without IDs it allows the extension in this repository\n"+
			"("+policy.DefaultExtensionID+", "+policy.DefaultFirefoxExtensionID+"). Writes nothing.")
	var browser, binary string
	fs.StringVar(&browser, "browser", "", "chromium (also Chrome and Edge) or firefox")
	fs.StringVar(&binary, "binary", "/usr/bin/foureyes", "the absolute path of the foureyes binary the browser starts")
	ids, st := parse(fs, args)
	if st >= 0 {
		return st
	}
	var b nativehost.Browser
	switch browser {
	case "chromium", "chrome", "edge":
		b = nativehost.Chromium
		if len(ids) == 0 {
			ids = []string{policy.DefaultExtensionID}
		}
	case "firefox":
		b = nativehost.Firefox
		if len(ids) == 0 {
			ids = []string{policy.DefaultFirefoxExtensionID}
		}
	case "":
		return e.usageErr(fs, "--browser is missing: chromium or firefox")
	default:
		return e.usageErr(fs, "--browser %q: want chromium (also for Chrome and Edge) or firefox", browser)
	}
	m, err := nativehost.ManifestFor(b, binary, ids)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return e.fail(fmt.Errorf("encoding the host manifest: %w", err))
	}
	if _, err := fmt.Fprintf(e.stdout, "%s\n", data); err != nil {
		return e.fail(fmt.Errorf("printing the host manifest: %w", err))
	}
	return exitOK
}

// allowedExtensions lists the extension origins the user-level host manifests allow, for the
// daemon_started audit event, so an allow made while the daemon was down is still recorded.
func allowedExtensions() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range nativehost.UserTargets(goosName(), home) {
		data, err := os.ReadFile(filepath.Join(t.Dir, nativehost.ManifestFile))
		if err != nil {
			continue
		}
		out = append(out, t.Dir+": "+strings.TrimSpace(manifestIDs(data)))
	}
	return out
}

func goosName() string { return runtime.GOOS }

// manifestIDs summarises the IDs a host manifest allows.
func manifestIDs(data []byte) string {
	var m nativehost.Manifest
	if json.Unmarshal(data, &m) != nil {
		return "unreadable manifest"
	}
	return strings.Join(append(m.AllowedOrigins, m.AllowedExtensions...), " ")
}
