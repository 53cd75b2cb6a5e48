// Package icons holds the tray icons, drawn by ./gen and embedded: a PNG per state and size for
// Linux and macOS, and a multi-size .ico per state for Windows.
package icons

//go:generate go run ./gen

import (
	"embed"
	"fmt"
)

//go:embed *.png *.ico
var files embed.FS

// States are the icon states, in the order the menu documents them.
var States = []string{"ready", "session", "locked", "problem"}

// Sizes are the PNG edges available, in pixels.
var Sizes = []int{16, 22, 24, 32, 48, 64, 128, 256}

// PNG returns the PNG for state at size pixels square.
func PNG(state string, size int) ([]byte, error) {
	b, err := files.ReadFile(fmt.Sprintf("%s-%d.png", state, size))
	if err != nil {
		return nil, fmt.Errorf("tray icon %s at %d px: %w", state, size, err)
	}
	return b, nil
}

// ICO returns the multi-size Windows icon for state.
func ICO(state string) ([]byte, error) {
	b, err := files.ReadFile(state + ".ico")
	if err != nil {
		return nil, fmt.Errorf("tray icon %s.ico: %w", state, err)
	}
	return b, nil
}
