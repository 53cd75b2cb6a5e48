//go:build windows

package audit

import (
	"fmt"
	"sync"

	"golang.org/x/sys/windows/svc/eventlog"
)

// SyslogForwarder sends each record to the system log, which on Windows is the Event Log: one
// entry in the Application log under the source named by the tag (EventSource), high severity
// as a Warning with ID 2, the rest as Information with ID 1 (eventLogEntry). Built and compiled
// for Windows, not run on a Windows computer yet.
type SyslogForwarder struct {
	source string

	mu sync.Mutex
	l  *eventlog.Log // nil until opened
}

// NewSyslogForwarder opens the Event Log for the source tag. When that fails it returns the
// forwarder with the error: the forwarder tries again with every record, and until then every
// record counts as a failed forward (the trail and the status say so).
func NewSyslogForwarder(tag string) (*SyslogForwarder, error) {
	s := &SyslogForwarder{source: tag}
	return s, s.open()
}

// open opens the Event Log unless open. Callers hold mu or own s alone.
func (s *SyslogForwarder) open() error {
	if s.l != nil {
		return nil
	}
	l, err := eventlog.Open(s.source)
	if err != nil {
		return fmt.Errorf("opening the Windows Event Log for the source %q: %w", s.source, err)
	}
	s.l = l
	return nil
}

// Forward writes one entry for rec.
func (s *SyslogForwarder) Forward(rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(); err != nil {
		return fmt.Errorf("sending audit event %d: %w", rec.Seq, err)
	}
	id, warning, msg := eventLogEntry(rec)
	var err error
	if warning {
		err = s.l.Warning(id, msg)
	} else {
		err = s.l.Info(id, msg)
	}
	if err != nil {
		return fmt.Errorf("sending audit event %d to the Windows Event Log: %w", rec.Seq, err)
	}
	return nil
}

// Close closes the handle on the Event Log.
func (s *SyslogForwarder) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.l == nil {
		return nil
	}
	err := s.l.Close()
	s.l = nil
	return err
}
