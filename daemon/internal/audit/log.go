package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// file is what a Log needs of its file; tests slide a failing one underneath.
type file interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	path string
	opts Options

	// mu guards the fields that follow.
	mu     sync.Mutex
	f      file // nil once closed
	size   int64
	seq    uint64
	hash   string
	broken error // a failed append that could not be undone: no more appends
	buf    []byte
	fwd    forwardState
}

type forwardState struct {
	last     []error // per forwarder: the error of its latest Forward
	failures uint64
	off      bool // the policy turned forwarding off
}

// TornError is what [Open] returns for a log that ends in a torn line. It matches [ErrTorn].
type TornError struct {
	Path   string
	Line   uint64 // line number of the torn line
	Offset int64  // byte offset where it starts
	Bytes  int64  // its length up to the end of the file
}

func (e *TornError) Error() string {
	return fmt.Sprintf("audit log %s: line %d at byte %d is torn (%d bytes, left by a crash while writing); repair moves it aside",
		e.Path, e.Line, e.Offset, e.Bytes)
}

// Unwrap lets errors.Is(err, ErrTorn) match.
func (e *TornError) Unwrap() error { return ErrTorn }

// Open opens the log at path for appending, creating it (mode 0600, directory 0700) if missing.
// It reads only the end of the file: the last line must parse and match its own hash, and its
// seq and hash continue the chain. [VerifyFile] proves the rest.
//
// A log ending in a torn line gives a *[TornError]; see [Repair]. On systems with flock, a log
// that another process has open is refused, since two writers would fork the chain.
func Open(path string, opts Options) (*Log, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	seq, hash, err := readTail(f, st.Size())
	if err != nil {
		_ = f.Close()
		var te *TornError
		if errors.As(err, &te) {
			te.Path = path
			return nil, te
		}
		return nil, fmt.Errorf("opening audit log %s: %w", path, err)
	}
	l := &Log{path: path, opts: opts, f: f, size: st.Size(), seq: seq, hash: hash}
	if opts.wrap != nil {
		l.f = opts.wrap(f)
	}
	l.fwd.last = make([]error, len(opts.Forwarders))
	return l, nil
}

// openFile opens (or creates) the log file and takes the writer's lock on it.
func openFile(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating audit directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		// The new name must survive a crash as well as the lines.
		if err := syncDir(dir); err != nil {
			_ = f.Close()
			return nil, err
		}
	} else if errors.Is(err, os.ErrExist) {
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("audit log %s is in use by another process: %w", path, err)
	}
	return f, nil
}

// readTail finds the seq and hash the next line continues from. A torn or unparsable last line
// after a good one is a *TornError (without Path); anything worse wraps ErrBroken.
func readTail(f io.ReaderAt, size int64) (uint64, string, error) {
	if size == 0 {
		return 0, zeroHash, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, "", fmt.Errorf("reading last byte: %w", err)
	}
	end := size
	if last[0] == '\n' {
		end = size - 1
	}
	start, line, err := lineBefore(f, end)
	if err != nil {
		return 0, "", err
	}
	if last[0] == '\n' {
		p, reason := parseLine(line)
		if reason == "" {
			return p.seq, string(p.hash), nil
		}
		// A crash mid-write cannot leave a line that ends in its newline, since the newline is
		// the last byte written: a whole last line that does not parse or match was edited.
		return 0, "", fmt.Errorf("last line (at byte %d): %s: %w", start, reason, ErrBroken)
	}
	// The last line is torn. It is only a torn write if the line before it is sound.
	if start == 0 {
		return 0, "", &TornError{Line: 1, Offset: 0, Bytes: size}
	}
	pstart, pline, err := lineBefore(f, start-1)
	if err != nil {
		return 0, "", err
	}
	p, reason := parseLine(pline)
	if reason != "" {
		return 0, "", fmt.Errorf("the last two lines are damaged, which no crash explains (line at byte %d: %s): %w",
			pstart, reason, ErrBroken)
	}
	return 0, "", &TornError{Line: p.seq + 1, Offset: start, Bytes: size - start}
}

// lineBefore returns the line that ends at end (exclusive) and where it starts.
func lineBefore(f io.ReaderAt, end int64) (int64, []byte, error) {
	const chunk = 64 << 10
	var buf []byte
	pos := end
	for pos > 0 {
		n := int64(chunk)
		if pos < n {
			n = pos
		}
		b := make([]byte, n, n+int64(len(buf)))
		if _, err := f.ReadAt(b, pos-n); err != nil {
			return 0, nil, fmt.Errorf("reading audit log: %w", err)
		}
		buf = append(b, buf...)
		pos -= n
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, buf[i+1:], nil
		}
		if len(buf) > maxLine {
			return 0, nil, fmt.Errorf("line before byte %d: %w", end, errLineTooLong)
		}
	}
	return 0, buf, nil
}

// Append writes e as the next line and fsyncs it before returning its record. If the event
// cannot be made durable the error wraps [ErrUnavailable], nothing of the line stays in the
// file, and the chain does not move. Events with secret field keys are refused with
// [ErrSecretField].
func (l *Log) Append(e Event) (Record, error) {
	if !validName(e.Event) {
		return Record{}, fmt.Errorf("audit event name %q: want [a-z][a-z0-9_]*, at most 64 bytes", e.Event)
	}
	sev := e.Severity
	if sev == "" {
		sev = SeverityInfo
	}
	if sev != SeverityInfo && sev != SeverityHigh {
		return Record{}, fmt.Errorf("audit event %s: severity %q is neither info nor high", e.Event, sev)
	}
	fields, decoded, err := encodeFields(e.Fields)
	if err != nil {
		return Record{}, fmt.Errorf("audit event %s: %w", e.Event, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	rec, err := l.appendLocked(e.User, e.Event, sev, fields, decoded)
	if err != nil {
		return Record{}, err
	}
	l.forward(rec)
	return rec, nil
}

// appendLocked writes one line and moves the chain. Callers hold mu.
func (l *Log) appendLocked(user, event, sev string, fields []byte, decoded map[string]any) (Record, error) {
	if l.f == nil {
		return Record{}, fmt.Errorf("audit log %s is closed: %w", l.path, ErrUnavailable)
	}
	if l.broken != nil {
		return Record{}, fmt.Errorf("audit log %s needs reopening after a failed write: %w: %w", l.path, ErrUnavailable, l.broken)
	}
	seq := l.seq + 1
	t := l.opts.now().UTC()
	line, hash, err := appendLine(l.buf[:0], seq, t, user, event, sev, fields, l.hash)
	if err != nil {
		return Record{}, fmt.Errorf("audit event %s: %w", event, err)
	}
	if len(line) > maxLine {
		return Record{}, fmt.Errorf("audit event %s: %d bytes, over the limit of %d", event, len(line), maxLine)
	}
	l.buf = line[:0]
	if _, err := l.f.WriteAt(line, l.size); err != nil {
		return Record{}, l.undo(seq, fmt.Errorf("writing: %w", err))
	}
	if err := l.f.Sync(); err != nil {
		return Record{}, l.undo(seq, fmt.Errorf("fsync: %w", err))
	}
	prev := l.hash
	l.size += int64(len(line))
	l.seq = seq
	l.hash = hash
	return Record{
		Seq: seq, Time: t, User: user, Event: event, Severity: sev, Fields: decoded,
		Prev: prev, Hash: hash, Raw: bytes.Clone(line[:len(line)-1]),
	}, nil
}

// undo cuts the file back to its last good size after a failed append, so that no partial line
// stays. If even that fails, the log refuses further appends: a line written after garbage
// would not verify.
func (l *Log) undo(seq uint64, cause error) error {
	err := l.f.Truncate(l.size)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		l.broken = fmt.Errorf("cutting back to %d bytes: %w", l.size, err)
		return fmt.Errorf("appending audit event %d to %s: %w: %w (and %w)", seq, l.path, ErrUnavailable, cause, l.broken)
	}
	return fmt.Errorf("appending audit event %d to %s: %w: %w", seq, l.path, ErrUnavailable, cause)
}

// forward hands rec to every forwarder. When forwarding starts failing, or works again, the
// trail itself says so in a line of its own (forwarding_failed is an alarm: from then on the
// copy outside the laptop is missing lines). Callers hold mu.
func (l *Log) forward(rec Record) {
	wasFailing := errors.Join(l.fwd.last...) != nil
	for i, f := range l.opts.Forwarders {
		if _, own := f.(ungatedForwarder); l.fwd.off && !own {
			continue
		}
		err := f.Forward(rec)
		if err != nil {
			l.fwd.failures++
		}
		l.fwd.last[i] = err
	}
	failing := errors.Join(l.fwd.last...)
	switch {
	case failing != nil && !wasFailing:
		l.note("forwarding_failed", SeverityHigh, map[string]any{"error": failing.Error(), "seq": rec.Seq})
	case failing == nil && wasFailing:
		l.note("forwarding_restored", SeverityInfo, map[string]any{"seq": rec.Seq, "failures": l.fwd.failures})
	}
}

// note appends the log's own line about forwarding, and forwards it (which cannot note again:
// only a change of state notes). Callers hold mu.
func (l *Log) note(event, sev string, f map[string]any) {
	fields, decoded, err := encodeFields(f)
	if err != nil {
		return
	}
	rec, err := l.appendLocked("foureyes", event, sev, fields, decoded)
	if err != nil {
		return // the next append reports the log's own trouble
	}
	l.forward(rec)
}

// SetForwarding turns forwarding to the system log on or off (the policy's audit.syslog). While
// it is off, no forward to it fails. The collector follows its own key in the policy.
func (l *Log) SetForwarding(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fwd.off = !on
	if !on {
		clear(l.fwd.last)
	}
}

// ForwardErr reports whether forwarding is failing: nil when the latest record reached every
// forwarder, else an error naming how many forwards failed since Open and the latest failures.
func (l *Log) ForwardErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := errors.Join(l.fwd.last...); err != nil {
		return fmt.Errorf("forwarding audit events (%d failures since open): %w", l.fwd.failures, err)
	}
	// Forwarders that queue (the collector) accept every record and say apart that the queue
	// is not draining.
	var errs []error
	for _, f := range l.opts.Forwarders {
		if p, ok := f.(interface{ Problem() error }); ok {
			errs = append(errs, p.Problem())
		}
	}
	return errors.Join(errs...)
}

// ungatedForwarder is a forwarder the policy's audit.syslog does not turn off: the collector
// has its own key in the policy.
type ungatedForwarder interface{ ungated() }

// Record appends an event like [Log.Append] and returns only its error: it is the audit trail as
// the engine writes it (engine.Auditor), so a *Log serves the engine without an adapter.
func (l *Log) Record(user, event, severity string, fields map[string]any) error {
	_, err := l.Append(Event{User: user, Event: event, Severity: severity, Fields: fields})
	return err
}

// Head returns the seq and hash of the last line (0 and 64 zeros for an empty log).
func (l *Log) Head() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.hash
}

// Path returns the file the log writes.
func (l *Log) Path() string { return l.path }

// Close closes the file. Appends after Close fail with [ErrUnavailable]. Forwarders stay open:
// they belong to the caller.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("closing audit log: %w", err)
	}
	return nil
}

// syncDir makes a change to dir's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory to sync: %w", err)
	}
	defer func() { _ = d.Close() }()
	// Windows cannot fsync a directory; NTFS journals the entry itself.
	if err := d.Sync(); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
