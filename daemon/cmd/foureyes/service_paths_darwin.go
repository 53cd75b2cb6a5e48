package main

// macOS service mode (installer/macos/eu.foureyes.service.plist, run as _foureyes). launchd
// makes no folders for a job, and /var/run is emptied at every start of the Mac, where the
// service, not being root, could not make its folder again: so the socket's folder is kept in
// /var/db beside the state, made once by the pkg, owned by _foureyes and open to every user.
const (
	defaultServiceState  = "/var/db/foureyes"
	defaultServiceSocket = "/var/db/foureyes-socket/foureyes.sock"
)

const stateDirHelp = "state folder: state, audit trail, sealed secrets and their key file (must be 0700)"
