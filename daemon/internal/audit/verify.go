package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// VerifyError says where the log stops being provable and why.
type VerifyError struct {
	Line   uint64 // 1-based line number
	Offset int64  // byte offset where the line starts
	Reason string
	torn   bool
}

func (e *VerifyError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Is makes every VerifyError match [ErrBroken], and a torn last line also [ErrTorn].
func (e *VerifyError) Is(target error) bool {
	return target == ErrBroken || (e.torn && target == ErrTorn)
}

// Result describes a log that verified.
type Result struct {
	Lines uint64
	Bytes int64
	// Head is the hash of the last line (64 zeros for an empty log): publishing it elsewhere
	// pins everything before it.
	Head        string
	First, Last time.Time // times of the first and the last line; zero for an empty log
}

// Verify reads a whole log from r and proves its chain: every line has the audit shape, its
// hash matches its bytes, seq counts up from 1, and prev is the hash of the line before. The
// first failure comes back as a *[VerifyError].
func Verify(r io.Reader) (Result, error) {
	var c chain
	lr := newLineReader(r)
	for {
		line, nl, off, err := lr.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errLineTooLong) {
			return c.result(), &VerifyError{Line: c.lines + 1, Offset: off, Reason: errLineTooLong.Error()}
		}
		if err != nil {
			return c.result(), fmt.Errorf("reading audit log: %w", err)
		}
		if _, verr := c.step(line, nl, off); verr != nil {
			return c.result(), verr
		}
	}
	return c.result(), nil
}

// VerifyFile runs [Verify] on the file at path.
func VerifyFile(path string) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("opening audit log: %w", err)
	}
	defer func() { _ = f.Close() }()
	res, err := Verify(f)
	if err != nil {
		return res, fmt.Errorf("verifying %s: %w", path, err)
	}
	return res, nil
}

// chain is the state of a verification in progress.
type chain struct {
	lines       uint64
	bytes       int64
	head        [hashLen]byte
	first, last time.Time
}

// step checks the next line (without its newline; nl tells whether it had one).
func (c *chain) step(line []byte, nl bool, off int64) (parsed, *VerifyError) {
	n := c.lines + 1
	fail := func(reason string) (parsed, *VerifyError) {
		return parsed{}, &VerifyError{Line: n, Offset: off, Reason: reason}
	}
	if !nl {
		return parsed{}, &VerifyError{Line: n, Offset: off, Reason: "torn (no newline at end of file)", torn: true}
	}
	p, reason := parseLine(line)
	if reason != "" {
		return fail(reason)
	}
	if c.lines == 0 {
		if string(p.prev) != zeroHash {
			return fail("prev of the first line is not 64 zeros (the log does not start here)")
		}
	} else if !bytes.Equal(p.prev, c.head[:]) {
		return fail(fmt.Sprintf("prev does not match line %d's hash (line removed or reordered)", c.lines))
	}
	if p.seq != n {
		return fail(fmt.Sprintf("seq is %d, want %d (line removed, duplicated or reordered)", p.seq, n))
	}
	if c.lines == 0 {
		c.first = p.time
	}
	c.last = p.time
	c.lines = n
	c.bytes = off + int64(len(line)) + 1
	copy(c.head[:], p.hash)
	return p, nil
}

func (c *chain) result() Result {
	r := Result{Lines: c.lines, Bytes: c.bytes, First: c.first, Last: c.last, Head: zeroHash}
	if c.lines > 0 {
		r.Head = string(c.head[:])
	}
	return r
}

// lineReader hands out lines from a big buffer without copying them, except for the rare line
// longer than the buffer.
type lineReader struct {
	r    *bufio.Reader
	long []byte
	off  int64
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line without its newline, whether it had one, and its offset. The line
// is valid until the next call. At the end it returns io.EOF.
func (lr *lineReader) next() (line []byte, nl bool, off int64, err error) {
	off = lr.off
	b, err := lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) && len(lr.long) <= maxLine {
			b, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, b...)
		}
		b = lr.long
		if len(b) > maxLine+1 {
			return nil, false, off, fmt.Errorf("at byte %d: %w", off, errLineTooLong)
		}
	}
	lr.off += int64(len(b))
	switch {
	case err == nil:
		return b[:len(b)-1], true, off, nil
	case err == io.EOF && len(b) > 0:
		return b, false, off, nil
	default:
		return nil, false, off, err
	}
}
