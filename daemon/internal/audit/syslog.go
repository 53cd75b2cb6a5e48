//go:build !windows && !plan9

package audit

import (
	"fmt"
	"log/syslog"
	"sync"
)

// SyslogForwarder sends each record to the system log (syslog, or journald through its syslog
// socket) under the auth facility: high severity as a warning, the rest as info.
type SyslogForwarder struct {
	network, addr, tag string

	mu sync.Mutex
	w  *syslog.Writer // nil until connected
}

// NewSyslogForwarder connects to the local system log with the given tag. Without a system log
// socket it returns the forwarder with the error: the forwarder tries again with every record,
// so forwarding starts as soon as the system log does, and until then every record counts as a
// failed forward (the trail and the status say so).
func NewSyslogForwarder(tag string) (*SyslogForwarder, error) {
	return dialSyslog("", "", tag)
}

func dialSyslog(network, addr, tag string) (*SyslogForwarder, error) {
	s := &SyslogForwarder{network: network, addr: addr, tag: tag}
	return s, s.connect()
}

// connect dials the system log unless connected. Callers hold mu or own s alone.
func (s *SyslogForwarder) connect() error {
	if s.w != nil {
		return nil
	}
	w, err := syslog.Dial(s.network, s.addr, syslog.LOG_AUTH|syslog.LOG_INFO, s.tag)
	if err != nil {
		return fmt.Errorf("connecting to the system log: %w", err)
	}
	s.w = w
	return nil
}

// Forward sends one line for rec.
func (s *SyslogForwarder) Forward(rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connect(); err != nil {
		return fmt.Errorf("sending audit event %d: %w", rec.Seq, err)
	}
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
func (s *SyslogForwarder) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return nil
	}
	return s.w.Close()
}
