//go:build !headless && linux && cgo

package tray

/*
#cgo pkg-config: x11
#include <stdio.h>
#include <stdlib.h>
#include <X11/Xlib.h>

// x_display_ok reports whether the X display in $DISPLAY accepts us (server up, auth fine).
static int x_display_ok(void) {
	Display *d = XOpenDisplay(NULL);
	if (d == NULL) return 0;
	XCloseDisplay(d);
	return 1;
}

// x_tray_owned reports whether an XEmbed system tray owns _NET_SYSTEM_TRAY_Sn on the default
// screen (the freedesktop System Tray Protocol).
static int x_tray_owned(void) {
	Display *d = XOpenDisplay(NULL);
	if (d == NULL) return 0;
	char name[64];
	snprintf(name, sizeof name, "_NET_SYSTEM_TRAY_S%d", DefaultScreen(d));
	Atom a = XInternAtom(d, name, True);
	int owned = a != None && XGetSelectionOwner(d, a) != None;
	XCloseDisplay(d);
	return owned;
}
*/
import "C"

import (
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/godbus/dbus/v5"
)

// displayUnreachable explains why the display in the environment cannot be used, or returns
// "". GTK would end the process rather than report it.
func displayUnreachable() string {
	if w := os.Getenv("WAYLAND_DISPLAY"); w != "" {
		path := w
		if !filepath.IsAbs(path) {
			path = filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), w)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return ""
		}
		if os.Getenv("DISPLAY") == "" {
			return "the Wayland display " + w + " does not answer"
		}
	}
	if C.x_display_ok() == 0 {
		return "the X display " + os.Getenv("DISPLAY") + " does not answer"
	}
	return ""
}

// prepareGTK turns off GTK's OpenGL support before GTK starts, unless the user set GDK_GL
// themselves. A tray icon and its menu never draw with OpenGL, but GTK's start-up probe can load
// the whole Mesa driver (with LLVM, over 50 MiB resident) into the daemon for its lifetime.
func prepareGTK() {
	if _, set := os.LookupEnv("GDK_GL"); !set && os.Setenv("GDK_GL", "disable") == nil {
		gdkGLSetHere.Store(true)
	}
}

// statusNotifierWatcher is the D-Bus name of the StatusNotifierItem host registry that
// libayatana-appindicator talks to (KDE, GNOME with the AppIndicator extension, most panels).
const statusNotifierWatcher = "org.kde.StatusNotifierWatcher"

// trayHostMissing returns why no tray host would show the icon, or "" when one is there: a
// StatusNotifier watcher on the session bus, or an XEmbed tray on the X display (the fallback
// libayatana-appindicator uses).
func trayHostMissing() string {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" {
		// Connect to the given address only: the session-bus helper would launch a bus of its
		// own when there is none, and leave it running.
		if conn, err := dbus.Connect(addr); err == nil {
			var has bool
			err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, statusNotifierWatcher).Store(&has)
			_ = conn.Close()
			if err == nil && has {
				return ""
			}
		}
	}
	if os.Getenv("DISPLAY") != "" && C.x_tray_owned() != 0 {
		return ""
	}
	return "no system tray host found (no StatusNotifier watcher on the session bus, no XEmbed tray on the display)"
}
