//go:build !unix

package main

// trayLock: on Windows only the daemon shows a tray (the tray of service mode is not built
// there yet), so there is nothing to share.
func trayLock(string) (release func(), held bool, err error) { return func() {}, false, nil }
