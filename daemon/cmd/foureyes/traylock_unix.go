//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// trayLockName is the lock every foureyes tray of one OS user holds while it shows: the
// daemon's own (user mode) and `foureyes tray` (service mode). Should both be started at login,
// the second sees the lock held and shows no icon.
const trayLockName = "tray.lock"

// trayLock takes this user's tray lock without waiting. held reports that another process has
// it; release gives it back (the kernel also does when the process ends).
func trayLock(home string) (release func(), held bool, err error) {
	dir := handoffDir(home)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating %s for the tray lock: %w", dir, err)
	}
	path := filepath.Join(dir, trayLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("opening the tray lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("taking the tray lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, false, nil
}
