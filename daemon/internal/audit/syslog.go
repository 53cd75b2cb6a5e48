//go:build !windows && !plan9

package audit

import (
	"fmt"
	"log/syslog"
)

// SyslogForwarder sends each record to the system log (syslog, or journald through its syslog
// socket) under the auth facility: high severity as a warning, the rest as info.
type SyslogForwarder struct {
	w *syslog.Writer
}

// NewSyslogForwarder connects to the local system log with the given tag. Without a system log
// socket it returns an error; the daemon then runs without forwarding and says so once.
func NewSyslogForwarder(tag string) (*SyslogForwarder, error) {
	return dialSyslog("", "", tag)
}

func dialSyslog(network, addr, tag string) (*SyslogForwarder, error) {
	w, err := syslog.Dial(network, addr, syslog.LOG_AUTH|syslog.LOG_INFO, tag)
	if err != nil {
		return nil, fmt.Errorf("connecting to the system log: %w", err)
	}
	return &SyslogForwarder{w: w}, nil
}

// Forward sends one line for rec.
func (s *SyslogForwarder) Forward(rec Record) error {
	msg := forwardMessage(rec)
	var err error
	if rec.Severity == SeverityHigh {
		err = s.w.Warning(msg)
	} else {
		err = s.w.Info(msg)
	}
	if err != nil {
		return fmt.Errorf("sending audit event %d to the system log: %w", rec.Seq, err)
	}
	return nil
}

// Close closes the connection to the system log.
func (s *SyslogForwarder) Close() error { return s.w.Close() }
