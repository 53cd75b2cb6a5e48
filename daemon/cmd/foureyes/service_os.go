package main

import "foureyes/daemon/internal/api"

// serviceModeBuilt refuses service mode on a system where it is not built, before anything is
// made: elsewhere than Linux, macOS and Windows nothing says who calls on the admin socket, and
// a service without that would either refuse every caller or be open to all.
func serviceModeBuilt(goos string) error {
	switch goos {
	case "linux", "darwin", "windows":
		return nil
	}
	return api.Errorf(api.CodeUnsupported, "service mode is not built yet on %s (nothing here says which user calls on its socket): run foureyes in user mode, the daemon each user starts at sign-in", goos)
}
