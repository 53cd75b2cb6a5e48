package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// trayLock takes this user's tray lock without waiting: a named mutex in this sign-in's
// namespace (Local\), named after the state folder, held by every foureyes tray of one user
// while it shows: the daemon's own (user mode) and `foureyes tray` (service mode). held reports
// that another process has it; release gives it back (Windows also does when the process ends).
func trayLock(home string) (release func(), held bool, err error) {
	name, err := windows.UTF16PtrFromString(trayMutexName(home))
	if err != nil {
		return nil, false, fmt.Errorf("naming the tray lock: %w", err)
	}
	// Held is the mutex's existence, not its ownership: no thread needs to own it.
	h, err := windows.CreateMutex(nil, false, name)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		if h != 0 {
			_ = windows.CloseHandle(h)
		}
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("taking the tray lock %s: %w", trayMutexName(home), err)
	}
	return func() { _ = windows.CloseHandle(h) }, false, nil
}
