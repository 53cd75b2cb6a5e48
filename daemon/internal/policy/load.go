package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// EnvVar names the environment variable that points at a policy file.
const EnvVar = "FOUREYES_POLICY"

// SourceEmbedded is the source Load reports when no policy file exists.
const SourceEmbedded = "embedded default"

// Locations are the places Load looks. An empty field is skipped.
type Locations struct {
	// Managed is the system-wide path IT deploys to. It overrides Env and User.
	Managed string
	// Env is the value of FOUREYES_POLICY. When set (and no managed file exists), the file must
	// exist.
	Env string
	// User is the per-user path.
	User string
}

// DefaultLocations returns the locations of this OS and user. A service that must not let the
// user choose the policy clears Env.
func DefaultLocations() Locations {
	l := Locations{Env: os.Getenv(EnvVar), Managed: ManagedPath()}
	if dir, err := os.UserConfigDir(); err == nil {
		l.User = filepath.Join(dir, "foureyes", "policy.json")
	}
	return l
}

// ManagedPath is where IT deploys the policy on this OS.
func ManagedPath() string {
	switch runtime.GOOS {
	case "windows":
		dir := os.Getenv("ProgramData")
		if dir == "" {
			dir = `C:\ProgramData`
		}
		return filepath.Join(dir, "foureyes", "policy.json")
	case "darwin":
		return "/Library/Application Support/foureyes/policy.json"
	default:
		return "/etc/foureyes/policy.json"
	}
}

// Load loads the policy from the default locations. See Locations.Load.
func Load() (p *Policy, source string, err error) {
	return DefaultLocations().Load()
}

// Load returns the first policy found: Managed, then Env, then User, else the embedded default
// (source SourceEmbedded). The managed file IT deploys always wins, so a staff member cannot point
// FOUREYES_POLICY at a laxer policy on a managed laptop. A file that exists but cannot be read or
// is invalid is an error and never falls through to a later location: that would let a broken
// managed policy hand control to the user's. On error, source still names the file at fault.
func (l Locations) Load() (p *Policy, source string, err error) {
	if l.Managed != "" {
		p, err := loadFile(l.Managed)
		if err == nil {
			if merr := p.CheckManaged(); merr != nil {
				return nil, l.Managed, fmt.Errorf("policy %s: %w", l.Managed, merr)
			}
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return p, l.Managed, err
		}
	}
	if l.Env != "" {
		p, err := loadFile(l.Env)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, l.Env, fmt.Errorf("%s=%s: policy file not found: %w", EnvVar, l.Env, err)
		}
		return p, l.Env, err
	}
	if l.User != "" {
		p, err := loadFile(l.User)
		if !errors.Is(err, fs.ErrNotExist) {
			return p, l.User, err
		}
	}
	return Default(), SourceEmbedded, nil
}

// loadFile reads and parses one file. A missing file is reported as fs.ErrNotExist unwrapped by
// any parse error, so callers can tell "no policy" from "invalid policy".
func loadFile(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", path, err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}
