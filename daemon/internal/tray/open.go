package tray

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"time"
)

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
		return exec.Command("explorer.exe", target).Start()
	default:
		argv = []string{"xdg-open", target}
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if err := exec.CommandContext(ctx, argv[0], argv[1:]...).Run(); err != nil {
		return fmt.Errorf("opening %s with %s: %w", target, argv[0], err)
	}
	return nil
}
