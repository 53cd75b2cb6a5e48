//go:build !headless && (windows || darwin)

package tray

// displayUnreachable is never a problem on Windows and macOS: a logged-in user has a desktop.
func displayUnreachable() string { return "" }

// trayHostMissing returns "": Windows and macOS always have a notification area / menu bar.
func trayHostMissing() string { return "" }

// prepareGTK does nothing: there is no GTK here.
func prepareGTK() {}
