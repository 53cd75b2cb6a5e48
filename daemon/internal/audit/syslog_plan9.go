//go:build plan9

package audit

import (
	"errors"
	"runtime"
)

// SyslogForwarder is not available on this system.
type SyslogForwarder struct{}

// NewSyslogForwarder fails here: this system has no system log to forward to.
func NewSyslogForwarder(tag string) (*SyslogForwarder, error) {
	return nil, errors.New("forwarding audit events to the system log is not supported on " + runtime.GOOS + " yet")
}

// Forward is never reached: NewSyslogForwarder fails.
func (*SyslogForwarder) Forward(Record) error {
	return errors.New("no system log forwarding on " + runtime.GOOS)
}

// Close does nothing.
func (*SyslogForwarder) Close() error { return nil }
