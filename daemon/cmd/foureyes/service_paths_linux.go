//go:build !darwin && !windows

package main

// Linux service mode (installer/linux/foureyes-system.service): systemd makes both folders
// (StateDirectory, RuntimeDirectory).
const (
	defaultServiceState  = "/var/lib/foureyes"
	defaultServiceSocket = "/run/foureyes/foureyes.sock"
)

const stateDirHelp = "state folder: state, audit trail, sealed secrets and their key file (must be 0700)"
