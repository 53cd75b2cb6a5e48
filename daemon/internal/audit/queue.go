package audit

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// The collector's queue on disk holds the messages not yet confirmed sent, oldest first, so that
// neither a daemon restart nor a collector out of reach loses one. The file is
//
//	FEQ1 <head: 16 hex digits>\n      the header: where the first unsent record starts
//	<len: 8 hex> <crc32c: 8 hex> <message>\n   one record per message, appended
//
// Records are appended and fsynced before Forward returns; the head moves forward (a write of the
// header, not synced: losing it only sends some messages twice) once the records before it were
// sent on a connection that stayed up; when every record is sent the file is cut back to its
// header. A crash while appending leaves a torn last record: openQueue drops it with a note.

const (
	queueMagic   = "FEQ1 "
	queueHdrSize = int64(len(queueMagic) + 16 + 1)
	recHdrSize   = 18 // "%08x %08x "
	// maxQueueRecord bounds one message; a forwarded line is cut well below it.
	maxQueueRecord = 64 << 10
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrQueueFull means the collector's queue on disk reached its bound: the event was not queued.
var ErrQueueFull = errors.New("the collector's queue is full")

// queue is the collector's queue file. Offsets the sender holds are logical (bytes ever appended
// since open), so that cutting the file back does not move them; shift maps them to the file.
type queue struct {
	path string
	max  int64 // bound of the records' bytes

	mu    sync.Mutex
	f     *os.File
	shift int64 // logical offset = file offset + shift
	head  int64 // logical offset of the first unconfirmed record
	end   int64 // logical offset past the last record
	count int   // records in [head, end)
	// full is set when a record did not fit, and cleared once the records take at most three
	// quarters of the bound: one overflow is one stretch of events not queued, not a flapping
	// between small events that fit and large ones that do not.
	full    bool
	counts  []recMark
	scratch []byte
}

// recMark remembers where a record ends, so confirm can count what it removes.
type recMark struct{ end int64 }

// openQueue opens (or creates, mode 0600) the queue at path and checks every record. A torn or
// damaged tail is cut off and described in note; an unreadable head resends from the start.
func openQueue(path string, maxBytes int64) (q *queue, note string, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("creating the directory of the collector's queue: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("opening the collector's queue: %w", err)
	}
	q = &queue{path: path, max: maxBytes, f: f}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("the collector's queue %s is in use by another process: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("making the collector's queue private: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("reading the collector's queue: %w", err)
	}
	note, err = q.load(data)
	if err != nil {
		_ = f.Close()
		return nil, "", err
	}
	return q, note, nil
}

// load checks data (the whole file) and sets the offsets, cutting off what does not parse.
func (q *queue) load(data []byte) (string, error) {
	var notes []string
	head := queueHdrSize
	if int64(len(data)) < queueHdrSize || string(data[:len(queueMagic)]) != queueMagic || data[queueHdrSize-1] != '\n' {
		if len(data) > 0 {
			notes = append(notes, fmt.Sprintf("the queue's header was unreadable (%d bytes in the file): its records were dropped", len(data)))
		}
		data = nil
	} else if h, err := strconv.ParseInt(string(data[len(queueMagic):queueHdrSize-1]), 16, 64); err == nil {
		head = h
	} else {
		notes = append(notes, "the queue's head was unreadable: every queued event is sent again")
	}
	// Walk the records, remembering where each ends.
	pos := queueHdrSize
	var marks []recMark
	headOK := head == queueHdrSize
	for pos < int64(len(data)) {
		n, ok := parseRecord(data[pos:])
		if !ok {
			notes = append(notes, fmt.Sprintf("the queue ended in a torn or damaged record (%d bytes at byte %d, left by a crash while writing): dropped; the audit trail has the event, and audit compare shows it missing from the copy",
				int64(len(data))-pos, pos))
			break
		}
		pos += n
		marks = append(marks, recMark{end: pos})
		if pos == head {
			headOK = true
		}
	}
	if !headOK {
		notes = append(notes, fmt.Sprintf("the queue's head (byte %d) is not at a record: every queued event is sent again", head))
		head = queueHdrSize
	}
	q.end = pos
	q.head = head
	for i, m := range marks {
		if m.end > head {
			q.counts = append(q.counts, marks[i:]...)
			break
		}
	}
	q.count = len(q.counts)
	if head == pos {
		// Everything was sent: start from an empty file.
		q.counts = nil
		if err := q.resetLocked(); err != nil {
			return "", err
		}
	} else {
		if err := q.f.Truncate(pos); err != nil {
			return "", fmt.Errorf("cutting the collector's queue back to its last whole record: %w", err)
		}
		if err := q.writeHeadLocked(); err != nil {
			return "", err
		}
	}
	if err := q.f.Sync(); err != nil {
		return "", fmt.Errorf("syncing the collector's queue: %w", err)
	}
	if len(notes) == 0 {
		return "", nil
	}
	return fmt.Sprintf("collector queue %s: %s", q.path, notes[0]), nil
}

// parseRecord returns the length of the whole record at the start of b, or false when it is
// torn or damaged.
func parseRecord(b []byte) (int64, bool) {
	if len(b) < recHdrSize+1 || b[8] != ' ' || b[17] != ' ' {
		return 0, false
	}
	n, err1 := strconv.ParseUint(string(b[:8]), 16, 32)
	sum, err2 := strconv.ParseUint(string(b[9:17]), 16, 32)
	if err1 != nil || err2 != nil || n > maxQueueRecord || int64(len(b)) < recHdrSize+int64(n)+1 {
		return 0, false
	}
	msg := b[recHdrSize : recHdrSize+n]
	if b[recHdrSize+n] != '\n' || crc32.Checksum(msg, crcTable) != uint32(sum) {
		return 0, false
	}
	return recHdrSize + int64(n) + 1, true
}

// resetLocked empties the file back to its header.
func (q *queue) resetLocked() error {
	if err := q.f.Truncate(queueHdrSize); err != nil {
		return fmt.Errorf("emptying the collector's queue: %w", err)
	}
	q.shift = q.end - queueHdrSize
	q.head = q.end
	q.count = 0
	q.counts = q.counts[:0]
	return q.writeHeadLocked()
}

// writeHeadLocked writes the head into the header.
func (q *queue) writeHeadLocked() error {
	hdr := fmt.Sprintf("%s%016x\n", queueMagic, q.head-q.shift)
	if _, err := q.f.WriteAt([]byte(hdr), 0); err != nil {
		return fmt.Errorf("writing the collector's queue header: %w", err)
	}
	return nil
}

// push appends one message and fsyncs it. Past the bound it first moves the unsent records to
// the front of a new file; if that does not make room, it returns ErrQueueFull.
func (q *queue) push(msg []byte) error {
	if len(msg) > maxQueueRecord {
		return fmt.Errorf("message of %d bytes is over the queue's limit of %d", len(msg), maxQueueRecord)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return fmt.Errorf("the collector's queue %s is closed", q.path)
	}
	size := int64(recHdrSize + len(msg) + 1)
	if q.full && (q.end-q.head)*4 > q.max*3 || q.end-q.shift-queueHdrSize+size > q.max {
		if err := q.compactLocked(); err != nil {
			return err
		}
		if q.full && (q.end-q.head)*4 > q.max*3 || q.end-q.shift-queueHdrSize+size > q.max {
			q.full = true
			return fmt.Errorf("%w (%d events, %d KiB, in %s): the event is not queued", ErrQueueFull, q.count, q.max>>10, q.path)
		}
	}
	q.full = false
	b := q.scratch[:0]
	b = fmt.Appendf(b, "%08x %08x ", len(msg), crc32.Checksum(msg, crcTable))
	b = append(b, msg...)
	b = append(b, '\n')
	q.scratch = b[:0]
	off := q.end - q.shift
	if _, err := q.f.WriteAt(b, off); err != nil {
		_ = q.f.Truncate(off)
		return fmt.Errorf("writing to the collector's queue: %w", err)
	}
	if err := q.f.Sync(); err != nil {
		_ = q.f.Truncate(off)
		return fmt.Errorf("syncing the collector's queue: %w", err)
	}
	q.end += size
	q.count++
	q.counts = append(q.counts, recMark{end: q.end})
	return nil
}

// compactLocked moves the unsent records to the front of the file: the sent ones before the
// head take room until the queue next empties.
func (q *queue) compactLocked() error {
	from := q.head - q.shift
	if from == queueHdrSize {
		return nil
	}
	n := q.end - q.head
	buf := make([]byte, n)
	if _, err := q.f.ReadAt(buf, from); err != nil {
		return fmt.Errorf("reading the collector's queue: %w", err)
	}
	tmp := q.path + ".new"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("compacting the collector's queue: %w", err)
	}
	hdr := fmt.Sprintf("%s%016x\n", queueMagic, queueHdrSize)
	_, err = nf.Write(append([]byte(hdr), buf...))
	if err == nil {
		err = nf.Sync()
	}
	if err == nil {
		err = lockFile(nf)
	}
	if err == nil {
		err = os.Rename(tmp, q.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(q.path))
	}
	if err != nil {
		_ = nf.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("compacting the collector's queue: %w", err)
	}
	_ = q.f.Close()
	q.f = nf
	q.shift = q.head - queueHdrSize
	return nil
}

// read returns the frames (RFC 5425 octet counting: "LEN SP MSG") of the records from logical
// offset from, up to about limit bytes, and the offset after them. It returns nothing when from
// is at the end.
func (q *queue) read(from int64, limit int, dst []byte) ([]byte, int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return dst, from, fmt.Errorf("the collector's queue %s is closed", q.path)
	}
	if from < q.head {
		from = q.head
	}
	n := q.end - from
	if n == 0 {
		return dst, from, nil
	}
	if n > int64(limit) {
		// At least the first record, whatever its size.
		var hdr [recHdrSize]byte
		if _, err := q.f.ReadAt(hdr[:], from-q.shift); err != nil {
			return dst, from, fmt.Errorf("reading the collector's queue: %w", err)
		}
		first, err := strconv.ParseUint(string(hdr[:8]), 16, 32)
		if err != nil || first > maxQueueRecord {
			return dst, from, fmt.Errorf("the collector's queue %s is damaged at byte %d", q.path, from-q.shift)
		}
		n = min(n, max(int64(limit), recHdrSize+int64(first)+1))
	}
	raw := make([]byte, n)
	if _, err := q.f.ReadAt(raw, from-q.shift); err != nil {
		return dst, from, fmt.Errorf("reading the collector's queue: %w", err)
	}
	pos := 0
	for pos < len(raw) {
		size, ok := parseRecord(raw[pos:])
		if !ok {
			if pos == 0 {
				return dst, from, fmt.Errorf("the collector's queue %s is damaged at byte %d", q.path, from-q.shift)
			}
			break // the rest of a record cut by the limit: the next read has it
		}
		msg := raw[pos+recHdrSize : pos+int(size)-1]
		dst = strconv.AppendInt(dst, int64(len(msg)), 10)
		dst = append(dst, ' ')
		dst = append(dst, msg...)
		pos += int(size)
	}
	return dst, from + int64(pos), nil
}

// confirm removes the records before logical offset upTo: they were sent.
func (q *queue) confirm(upTo int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil || upTo <= q.head {
		return nil
	}
	upTo = min(upTo, q.end)
	i := 0
	for i < len(q.counts) && q.counts[i].end <= upTo {
		i++
	}
	q.counts = q.counts[i:] // the array's front is dropped at the next growth
	q.count = len(q.counts)
	q.head = upTo
	if q.head == q.end {
		return q.resetLocked()
	}
	return q.writeHeadLocked()
}

// state returns the head, the end and how many records wait.
func (q *queue) state() (head, end int64, count int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head, q.end, q.count
}

func (q *queue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	err := q.f.Close()
	q.f = nil
	if err != nil {
		return fmt.Errorf("closing the collector's queue: %w", err)
	}
	return nil
}

// queuedMessages returns the messages in a queue file, for tests and tools.
func queuedMessages(data []byte) [][]byte {
	var out [][]byte
	if int64(len(data)) < queueHdrSize {
		return nil
	}
	head, err := strconv.ParseInt(string(data[len(queueMagic):queueHdrSize-1]), 16, 64)
	if err != nil || head > int64(len(data)) {
		return nil
	}
	data = data[head:]
	for len(data) > 0 {
		n, ok := parseRecord(data)
		if !ok {
			break
		}
		out = append(out, bytes.Clone(data[recHdrSize:n-1]))
		data = data[n:]
	}
	return out
}
