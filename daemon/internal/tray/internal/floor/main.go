//go:build (linux && cgo) || windows || darwin

// Command floor is the smallest tray program getlantern/systray allows: one icon, one menu item
// (Quit), nothing else. The idle benchmark (daemon/scripts/bench-idle.sh) measures it beside the
// daemon as the floor any Go tray app on this toolkit pays, so the daemon's own cost can be told
// from the toolkit's. It is a development tool: nothing in it is ever shipped.
//
// Like the daemon (tray.prepareGTK) it turns GTK's OpenGL probe off unless GDK_GL is set, so
// both load the same libraries and the comparison is of Go code, not of the Mesa driver.
package main

import (
	"log"
	"os"

	"github.com/getlantern/systray"

	"foureyes/daemon/internal/tray/icons"
)

func main() {
	if _, set := os.LookupEnv("GDK_GL"); !set {
		_ = os.Setenv("GDK_GL", "disable")
	}
	icon, err := icons.PNG("ready", 64)
	if err != nil {
		log.Fatalf("floor: %v", err)
	}
	systray.Run(func() {
		systray.SetIcon(icon)
		systray.SetTooltip("floor")
		quit := systray.AddMenuItem("Quit", "")
		go func() {
			<-quit.ClickedCh
			systray.Quit()
		}()
	}, func() {})
}
