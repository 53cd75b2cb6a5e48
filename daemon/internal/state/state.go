// Package state writes and reads the daemon's small state file (approvers' public data, their
// last accepted TOTP step and failure counters, accounts' metadata). It holds no secret. Writes
// are atomic: a crash leaves either the old file or the new one, never a mix.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// ErrNotDurable marks a Save whose new file is in place (every later Load reads it) but whose
// rename could not be synced, so a power cut might still bring the old file back. The caller
// must not treat the change as undone.
var ErrNotDurable = errors.New("state written, but not yet durable")

// Save writes v as JSON to path atomically: a temporary file in the same directory, fsync,
// rename over the old file, fsync of the directory. A failed Save leaves the old file and no
// temporary one; its error names path and says what to do (free disk space, make the folder
// writable).
func Save(path string, v any) error {
	err := save(path, v)
	if err == nil || errors.Is(err, ErrNotDurable) {
		return err
	}
	return fmt.Errorf("saving %s: %w (%s)", path, err, remedy(err, filepath.Dir(path)))
}

// remedy says what a person can do about a failed write in dir.
func remedy(err error, dir string) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "the disk is full: free disk space where " + dir + " is, then try again"
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return "the folder is read-only: make " + dir + " writable for this user, then try again"
	default:
		return "free disk space or make " + dir + " writable for this user, then try again"
	}
}

func save(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating state directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing state %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing state %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing state %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing state %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing state %s: %w", path, err)
	}
	ok = true
	// The rename is only durable once the directory is synced. Windows cannot sync a directory
	// (its rename is durable by itself), and some file systems answer EINVAL: both are fine.
	if runtime.GOOS != "windows" {
		d, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("opening %s to sync the state's rename: %w: %w", dir, ErrNotDurable, err)
		}
		err = d.Sync()
		_ = d.Close()
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("syncing %s after replacing the state: %w: %w", dir, ErrNotDurable, err)
		}
	}
	return nil
}

// Load reads path into v. It reports (false, nil) when the file does not exist yet, so "no
// state" stays distinct from "unreadable state".
func Load(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading state %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("state file %s is damaged (%v): restore it from a backup (moved aside, every approver and account is lost, and the audit trail still lists them, so no approver can be enrolled without IT)", path, err)
	}
	return true, nil
}

// RemoveTemp removes temporary files a Save interrupted by a crash left next to path (the old
// or the new state is in place either way; the temporary file is never read). Only the one
// process that owns path may call it, before it saves.
func RemoveTemp(path string) error {
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), filepath.Base(path)+".tmp-*"))
	if err != nil {
		return fmt.Errorf("looking for temporary state files: %w", err)
	}
	for _, f := range left {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s, left by a crash while saving the state: %w", f, err)
		}
	}
	return nil
}
