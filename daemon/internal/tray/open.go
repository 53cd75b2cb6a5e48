package tray

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// gdkGLSetHere records that the tray turned GTK's OpenGL off for its own process (see
// prepareGTK); programs it starts get the environment without that setting.
var gdkGLSetHere atomic.Bool

// childEnv is the environment for programs the tray starts.
func childEnv() []string {
	env := os.Environ()
	if !gdkGLSetHere.Load() {
		return env
	}
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GDK_GL=") {
			out = append(out, kv)
		}
	}
	return out
}

// openTimeout bounds starting the desktop's opener. xdg-open and open return once the target
// application is launched; explorer.exe returns at once.
const openTimeout = 10 * time.Second

// openWithDesktop opens a URL, file or folder with the desktop's default handler.
func openWithDesktop(target string) error {
	var argv []string
	switch runtime.GOOS {
	case "darwin":
		argv = []string{"open", target}
	case "windows":
		// explorer.exe exits with status 1 even on success, so its status is not checked.
		cmd := exec.Command("explorer.exe", target)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("opening %s with explorer: %w", target, err)
		}
		go func() { _ = cmd.Wait() }() // see above
		return nil
	default:
		argv = []string{"xdg-open", target}
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = childEnv()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("opening %s with %s: %w", target, argv[0], err)
	}
	return nil
}
