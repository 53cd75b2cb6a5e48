//go:build !darwin

package main

// Linux service mode (installer/linux/foureyes-system.service): systemd makes both folders
// (StateDirectory, RuntimeDirectory).
const (
	defaultServiceState  = "/var/lib/foureyes"
	defaultServiceSocket = "/run/foureyes/foureyes.sock"
)
