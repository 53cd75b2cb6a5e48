//go:build !unix

package main

// trayLock: on Windows only the daemon shows a tray (service mode there is not built yet), so
// there is nothing to share.
func trayLock(string) (release func(), held bool, err error) { return func() {}, false, nil }
