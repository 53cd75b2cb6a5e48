package nativehost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"foureyes/daemon/internal/bridge"
)

// Manifest is a native-messaging host manifest. Chromium browsers read allowed_origins,
// Firefox reads allowed_extensions.
type Manifest struct {
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Path              string   `json:"path"`
	Type              string   `json:"type"`
	AllowedOrigins    []string `json:"allowed_origins,omitempty"`
	AllowedExtensions []string `json:"allowed_extensions,omitempty"`
}

// ManifestFile is the file name every browser looks for.
const ManifestFile = HostName + ".json"

// Target is one directory a browser reads host manifests from.
type Target struct {
	Browser Browser // which manifest format
	Name    string  // e.g. "google-chrome", "chromium", "microsoft-edge", "firefox", "custom"
	Dir     string
}

// UserTargets returns the per-user manifest directories of the browsers foureyes supports on
// goos, under home. Windows has none: there the manifest path is registered in the registry
// (see [WindowsRegistryKeys]).
func UserTargets(goos, home string) []Target {
	switch goos {
	case "linux":
		return []Target{
			{Chromium, "google-chrome", filepath.Join(home, ".config", "google-chrome", "NativeMessagingHosts")},
			{Chromium, "chromium", filepath.Join(home, ".config", "chromium", "NativeMessagingHosts")},
			{Chromium, "microsoft-edge", filepath.Join(home, ".config", "microsoft-edge", "NativeMessagingHosts")},
			{Firefox, "firefox", filepath.Join(home, ".mozilla", "native-messaging-hosts")},
		}
	case "darwin":
		as := filepath.Join(home, "Library", "Application Support")
		return []Target{
			{Chromium, "google-chrome", filepath.Join(as, "Google", "Chrome", "NativeMessagingHosts")},
			{Chromium, "chromium", filepath.Join(as, "Chromium", "NativeMessagingHosts")},
			{Chromium, "microsoft-edge", filepath.Join(as, "Microsoft Edge", "NativeMessagingHosts")},
			{Firefox, "firefox", filepath.Join(as, "Mozilla", "NativeMessagingHosts")},
		}
	}
	return nil
}

// SystemTargets returns the machine-wide manifest directories on goos, for installers.
func SystemTargets(goos string) []Target {
	switch goos {
	case "linux":
		return []Target{
			{Chromium, "google-chrome", "/etc/opt/chrome/native-messaging-hosts"},
			{Chromium, "chromium", "/etc/chromium/native-messaging-hosts"},
			{Chromium, "microsoft-edge", "/etc/opt/edge/native-messaging-hosts"},
			{Firefox, "firefox", "/usr/lib/mozilla/native-messaging-hosts"},
			{Firefox, "firefox-lib64", "/usr/lib64/mozilla/native-messaging-hosts"},
		}
	case "darwin":
		return []Target{
			{Chromium, "google-chrome", "/Library/Google/Chrome/NativeMessagingHosts"},
			{Chromium, "chromium", "/Library/Application Support/Chromium/NativeMessagingHosts"},
			{Chromium, "microsoft-edge", "/Library/Microsoft/Edge/NativeMessagingHosts"},
			{Firefox, "firefox", "/Library/Application Support/Mozilla/NativeMessagingHosts"},
		}
	}
	return nil
}

// WindowsRegistryKeys are the keys, under HKEY_CURRENT_USER (per user) or
// HKEY_LOCAL_MACHINE (machine-wide), whose default value is the full path of the manifest file.
var WindowsRegistryKeys = map[string]string{
	"google-chrome":  `Software\Google\Chrome\NativeMessagingHosts\` + HostName,
	"chromium":       `Software\Chromium\NativeMessagingHosts\` + HostName,
	"microsoft-edge": `Software\Microsoft\Edge\NativeMessagingHosts\` + HostName,
	"firefox":        `Software\Mozilla\NativeMessagingHosts\` + HostName,
}

// UserDataDirTarget is the manifest directory of a Chromium started with
// --user-data-dir=dir: Chromium then reads <dir>/NativeMessagingHosts instead of the user-level
// one.
func UserDataDirTarget(dir string) Target {
	return Target{Browser: Chromium, Name: "custom", Dir: filepath.Join(dir, "NativeMessagingHosts")}
}

// InstallOptions says what to install where.
type InstallOptions struct {
	// Binary is the absolute path the browser starts: the foureyes binary (which recognises
	// host mode with [Detect]) or a wrapper script.
	Binary string
	// ChromeIDs are the Chrome/Edge extension IDs to allow.
	ChromeIDs []string
	// FirefoxIDs are the Firefox add-on IDs to allow.
	FirefoxIDs []string
	// Targets are the directories to write to. Empty means [UserTargets] for this OS under
	// Home, each only if the browser's own folder exists (or Force is set), and only for the
	// browser families that have IDs.
	Targets []Target
	// Home is the user's home directory. Empty means os.UserHomeDir.
	Home string
	// Force writes the default targets even for browsers that have no folder yet.
	Force bool
}

// ManifestFor returns the manifest for browser family b, allowing ids, starting binary.
func ManifestFor(b Browser, binary string, ids []string) (Manifest, error) {
	if !filepath.IsAbs(binary) {
		return Manifest{}, fmt.Errorf("host binary path %q is not absolute", binary)
	}
	if len(ids) == 0 {
		return Manifest{}, fmt.Errorf("no %s extension IDs to allow", b)
	}
	m := Manifest{
		Name:        HostName,
		Description: "foureyes: lets the browser extension reach the foureyes daemon",
		Path:        binary,
		Type:        "stdio",
	}
	switch b {
	case Chromium:
		for _, id := range ids {
			if !bridge.IsChromeID(id) {
				return Manifest{}, fmt.Errorf("%q is not a Chrome extension ID (32 letters a-p)", id)
			}
			m.AllowedOrigins = append(m.AllowedOrigins, "chrome-extension://"+id+"/")
		}
	case Firefox:
		for _, id := range ids {
			if !IsFirefoxID(id) {
				return Manifest{}, fmt.Errorf("%q is not a Firefox add-on ID", id)
			}
			m.AllowedExtensions = append(m.AllowedExtensions, id)
		}
	default:
		return Manifest{}, fmt.Errorf("unknown browser family %q", b)
	}
	return m, nil
}

// InstallManifest writes the host manifest into every target and returns the files written.
// Each file is replaced atomically and left readable by all (0644): browsers read it as the
// user, and it holds no secret.
func InstallManifest(opts InstallOptions) ([]string, error) {
	targets := opts.Targets
	if len(targets) == 0 {
		home := opts.Home
		if home == "" {
			var err error
			if home, err = os.UserHomeDir(); err != nil {
				return nil, fmt.Errorf("finding home directory: %w", err)
			}
		}
		all := UserTargets(runtime.GOOS, home)
		if all == nil {
			return nil, fmt.Errorf("no per-user manifest directories on %s: use the installer", runtime.GOOS)
		}
		for _, t := range all {
			if len(idsFor(t.Browser, opts)) == 0 {
				continue
			}
			if !opts.Force {
				if _, err := os.Stat(filepath.Dir(t.Dir)); err != nil {
					continue // that browser has never run for this user
				}
			}
			targets = append(targets, t)
		}
		if len(targets) == 0 {
			return nil, errors.New("no browser profile found for the given extension IDs: start the browser once, or name a directory")
		}
	}

	var written []string
	for _, t := range targets {
		m, err := ManifestFor(t.Browser, opts.Binary, idsFor(t.Browser, opts))
		if err != nil {
			return written, fmt.Errorf("host manifest for %s: %w", t.Name, err)
		}
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return written, fmt.Errorf("encoding host manifest: %w", err)
		}
		path := filepath.Join(t.Dir, ManifestFile)
		if err := writeFile(path, append(b, '\n')); err != nil {
			return written, fmt.Errorf("host manifest for %s: %w", t.Name, err)
		}
		written = append(written, path)
	}
	return written, nil
}

func idsFor(b Browser, opts InstallOptions) []string {
	if b == Firefox {
		return opts.FirefoxIDs
	}
	return opts.ChromeIDs
}

// writeFile replaces path with data, mode 0644, via a temporary file and a rename so a browser
// never reads half a manifest.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".foureyes-manifest-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // fails harmlessly after the rename
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// RemoveManifest deletes the host manifest from every target; a missing file is not an error.
// It returns the files removed.
func RemoveManifest(targets []Target) ([]string, error) {
	var removed []string
	for _, t := range targets {
		path := filepath.Join(t.Dir, ManifestFile)
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("removing host manifest: %w", err)
		}
		removed = append(removed, path)
	}
	return removed, nil
}
