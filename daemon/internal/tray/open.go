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

// openerArgv is the command line that opens target on goos: the opener and target, nothing
// else. Whatever is on it any user of the computer can read (/proc/PID/cmdline), so target is
// never a secret: the local pages are opened through a handoff file whose URL holds none.
func openerArgv(goos, target string) []string {
	switch goos {
	case "darwin":
		return []string{"open", target}
	case "windows":
		return []string{"explorer.exe", target}
	}
	return []string{"xdg-open", target}
}

// openWithDesktop opens a URL, file or folder with the desktop's default handler.
func openWithDesktop(target string) error {
	argv := openerArgv(runtime.GOOS, target)
	if runtime.GOOS == "windows" {
		// explorer.exe exits with status 1 even on success, so its status is not checked.
		cmd := exec.Command(argv[0], argv[1:]...)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("opening %s with explorer: %w", target, err)
		}
		go func() { _ = cmd.Wait() }() // see above
		return nil
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
