package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Repaired reports what [Repair] did.
type Repaired struct {
	// TornFile holds the torn bytes, next to the log; empty when there was nothing to repair.
	TornFile string
	Line     uint64 // line number the torn bytes had
	Offset   int64  // where they started in the log
	Bytes    int64
	SHA256   string // hex SHA-256 of the moved bytes
	// Record is the audit_repaired event appended to the log.
	Record Record
}

// Repair fixes a log that [Open] refused with [ErrTorn]: it moves the torn tail into
// path + ".torn-<UTC time>" (fsynced, mode 0600), cuts the log back to its last whole line, and
// appends a high-severity audit_repaired event by user that records the line, offset, byte
// count, side file and SHA-256 of what was moved. A log without a torn tail is left alone and
// the zero Repaired is returned. Repair must run while no process has the log open.
//
// Should Repair itself be interrupted after the cut, the side file still holds the bytes; only
// the audit_repaired line would be missing.
func Repair(path, user string, opts Options) (Repaired, error) {
	torn, err := cutTorn(path, opts)
	if err != nil || torn.TornFile == "" {
		return torn, err
	}
	l, err := Open(path, opts)
	if err != nil {
		return torn, fmt.Errorf("reopening after the repair: %w", err)
	}
	defer func() { _ = l.Close() }()
	torn.Record, err = l.Append(Event{
		User:     user,
		Event:    "audit_repaired",
		Severity: SeverityHigh,
		Fields: map[string]any{
			"line":        torn.Line,
			"offset":      torn.Offset,
			"bytes":       torn.Bytes,
			"torn_file":   filepath.Base(torn.TornFile),
			"torn_sha256": torn.SHA256,
		},
	})
	if err != nil {
		return torn, fmt.Errorf("recording the repair: %w", err)
	}
	return torn, l.Close()
}

// cutTorn moves the torn tail of the log into a side file.
func cutTorn(path string, opts Options) (Repaired, error) {
	if _, err := os.Stat(path); err != nil {
		return Repaired{}, fmt.Errorf("repairing audit log: %w", err)
	}
	f, err := openFile(path)
	if err != nil {
		return Repaired{}, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return Repaired{}, fmt.Errorf("reading audit log: %w", err)
	}
	_, _, err = readTail(f, st.Size())
	var te *TornError
	if !errors.As(err, &te) {
		if err != nil {
			return Repaired{}, fmt.Errorf("audit log %s cannot be repaired: %w", path, err)
		}
		return Repaired{}, nil
	}
	tail := make([]byte, te.Bytes)
	if _, err := f.ReadAt(tail, te.Offset); err != nil {
		return Repaired{}, fmt.Errorf("reading the torn tail: %w", err)
	}
	side := path + ".torn-" + opts.now().UTC().Format("20060102T150405.000000000Z")
	if err := writeNew(side, tail); err != nil {
		return Repaired{}, err
	}
	if err := f.Truncate(te.Offset); err != nil {
		return Repaired{}, fmt.Errorf("cutting the torn tail: %w", err)
	}
	if err := f.Sync(); err != nil {
		return Repaired{}, fmt.Errorf("cutting the torn tail: %w", err)
	}
	if err := f.Close(); err != nil {
		return Repaired{}, fmt.Errorf("closing audit log: %w", err)
	}
	sum := sha256.Sum256(tail)
	return Repaired{TornFile: side, Line: te.Line, Offset: te.Offset, Bytes: te.Bytes, SHA256: hex.EncodeToString(sum[:])}, nil
}

// writeNew writes data to a file that must not exist yet and makes it durable.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}
