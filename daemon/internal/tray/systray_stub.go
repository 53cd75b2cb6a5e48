//go:build headless || !(windows || darwin || (linux && cgo))

package tray

import (
	"context"
	"fmt"

	"foureyes/daemon/internal/api"
)

// Available reports false: this build has no tray (the headless tag, or Linux without cgo).
func Available() (bool, string) {
	return false, "this build has no tray support (built headless or without cgo)"
}

// Run returns [ErrUnavailable]: this build has no tray.
func Run(ctx context.Context, b api.Backend, opts Options) error {
	_, reason := Available()
	return fmt.Errorf("%w: %s", ErrUnavailable, reason)
}
