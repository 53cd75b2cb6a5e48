package main

import "foureyes/daemon/internal/api"

// serviceModeBuilt refuses service mode on a system where it is not built, before anything is
// made: on Windows the admin channel (a named pipe whose client the kernel names), the check of
// the state folder's access list and the owner of a bridge connection are not written yet, and
// a service without them would either refuse every caller or be open to all.
func serviceModeBuilt(goos string) error {
	if goos == "windows" {
		return api.Errorf(api.CodeUnsupported, "service mode is not built yet on Windows (its admin pipe, the access check of its folder and the owner of a browser connection are missing): run foureyes in user mode, the tray each user starts at sign-in")
	}
	return nil
}
