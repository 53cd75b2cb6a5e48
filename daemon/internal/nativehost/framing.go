package nativehost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Size limits of native messages. The browser may send far more than we ever need, and
// Chrome refuses host replies over 1 MiB.
const (
	MaxIncoming = 1 << 20 // largest message accepted from the browser
	MaxOutgoing = 1 << 20 // largest message sent to the browser
)

// ErrTooLarge is returned for a message over the size limit. After reading one, the stream is
// out of step and must not be read further.
var ErrTooLarge = errors.New("native message too large")

// ReadMessage reads one native message: a 4-byte length in the machine's byte order, then that
// many bytes of JSON. It returns io.EOF at a clean end of input (the browser closed the port),
// and io.ErrUnexpectedEOF for a message cut short.
func ReadMessage(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("reading native message length: %w", err)
	}
	n := binary.NativeEndian.Uint32(hdr[:])
	if n > MaxIncoming {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, MaxIncoming)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading native message of %d bytes: %w", n, err)
	}
	return buf, nil
}

// WriteMessage writes msg as one native message, length and body in a single write so a reader
// never sees half a frame from us.
func WriteMessage(w io.Writer, msg []byte) error {
	if len(msg) > MaxOutgoing {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg), MaxOutgoing)
	}
	buf := make([]byte, 4+len(msg))
	binary.NativeEndian.PutUint32(buf, uint32(len(msg)))
	copy(buf[4:], msg)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("writing native message: %w", err)
	}
	return nil
}
