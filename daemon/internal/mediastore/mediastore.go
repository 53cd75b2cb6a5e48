// Package mediastore keeps a copy of each file attached to an approved post when the policy says
// keep_media: content-addressed under <state dir>/media/<sha256>, so "what exactly was posted"
// can be answered after the platform deleted the post. A file arrives in chunks from the
// extension; it enters the store only once all its bytes are there and their SHA-256 is the
// one the post's manifest names, by an atomic rename of a synced temporary file. A file is
// never stored partly, never replaced, and never removed by the daemon.
package mediastore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Dir is the store's folder name inside the state directory.
const Dir = "media"

// partPrefix starts the name of a file still being received; Open removes leftovers.
const partPrefix = ".part-"

// MaxParts bounds the files being received at once, so a client cannot fill the disk with
// unfinished uploads (each is bounded by its declared size too): a new file beyond it replaces
// the one that waited longest for its next chunk, which a client abandoned.
const MaxParts = 16

// Errors a caller maps to what it tells the client.
var (
	// ErrHashMismatch: all bytes arrived but their SHA-256 is not the one named.
	ErrHashMismatch = errors.New("the file's bytes do not have the SHA-256 of the approved file")
	// ErrTooLarge: more bytes than the file's declared size or than the cap.
	ErrTooLarge = errors.New("the file is larger than allowed")
	// ErrOffset: a chunk that does not continue the bytes received so far.
	ErrOffset = errors.New("chunk out of order")
	// ErrNotFound: no copy of that file in the store.
	ErrNotFound = errors.New("no copy of that file in the media store")
)

// Store is the media store in one folder. Safe for concurrent use.
type Store struct {
	dir string

	// mu guards the fields that follow.
	mu    sync.Mutex
	parts map[string]*part
	seq   uint64 // counts chunks, to tell which part waited longest
}

// part is a file being received.
type part struct {
	f       *os.File
	h       hash.Hash
	written int64
	size    int64
	last    uint64 // seq of its last chunk
}

// Open returns the store in dir, removing temporary files a crash left behind. The folder (0700)
// is created by the first [Store.Put], so a daemon without keep_media never has one. An error
// (the folder cannot be read) still returns a usable Store: Put then fails and names the
// folder, and no approval that needs a copy goes through.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir, parts: map[string]*part{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading the media store %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), partPrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name())) // an upload a crash interrupted: never a copy
		}
	}
	return s, nil
}

// Path is where the copy of the file with digest sha256 is (or would be) kept.
func (s *Store) Path(sha256 string) string { return filepath.Join(s.dir, sha256) }

func (s *Store) ensureDir() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("creating the media store %s: %w", s.dir, err)
	}
	// MkdirAll keeps an existing folder's mode: the store holds unpublished files, so only the
	// daemon's user may read it.
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fmt.Errorf("restricting the media store %s to its owner: %w", s.dir, err)
	}
	return nil
}

// ValidDigest reports whether d is a SHA-256 in lower-case hex, the only names the store uses.
func ValidDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for _, c := range d {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Has reports whether a copy of the file with digest sha256 is in the store.
func (s *Store) Has(sha256 string) bool {
	if !ValidDigest(sha256) {
		return false
	}
	fi, err := os.Lstat(s.Path(sha256))
	return err == nil && fi.Mode().IsRegular()
}

// Put adds the chunk data at offset to the file with digest sha and declared size, received
// under key (the request it belongs to). It returns done once the whole file is in the store.
// A chunk at offset 0 starts the file again. Any error drops what was received of the file
// under key, so a client starts again from offset 0. A file already in the store is not
// received again: done is true at once.
func (s *Store) Put(key, sha string, size, maxBytes, offset int64, data []byte) (done bool, err error) {
	if !ValidDigest(sha) {
		return false, fmt.Errorf("media sha256 %q is not 64 lower-case hex digits", sha)
	}
	if size < 0 || size > maxBytes {
		return false, fmt.Errorf("%w: %d bytes, the policy keeps copies of files up to %d bytes (keep_media_max_bytes)", ErrTooLarge, size, maxBytes)
	}
	if s.Has(sha) {
		s.drop(key + "/" + sha)
		return true, nil
	}
	id := key + "/" + sha
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[id]
	if offset == 0 && p != nil {
		s.dropLocked(id)
		p = nil
	}
	if p == nil {
		if offset != 0 {
			return false, fmt.Errorf("%w: the file %s starts at offset 0, not %d", ErrOffset, sha, offset)
		}
		if len(s.parts) >= MaxParts {
			s.dropLocked(s.stalestLocked())
		}
		if err := s.ensureDir(); err != nil {
			return false, err
		}
		f, err := os.CreateTemp(s.dir, partPrefix+"*")
		if err != nil {
			return false, fmt.Errorf("writing to the media store %s: %w", s.dir, err)
		}
		p = &part{f: f, h: sha256.New(), size: size}
		s.parts[id] = p
	}
	s.seq++
	p.last = s.seq
	fail := func(err error) (bool, error) {
		s.dropLocked(id)
		return false, err
	}
	if offset != p.written {
		return fail(fmt.Errorf("%w: the file %s has %d bytes so far, the chunk starts at %d", ErrOffset, sha, p.written, offset))
	}
	if p.written+int64(len(data)) > p.size {
		return fail(fmt.Errorf("%w: more than the %d bytes the post's manifest names for %s", ErrTooLarge, p.size, sha))
	}
	if _, err := p.f.Write(data); err != nil {
		return fail(fmt.Errorf("writing to the media store %s: %w", s.dir, err))
	}
	p.h.Write(data)
	p.written += int64(len(data))
	if p.written < p.size {
		return false, nil
	}
	if got := hex.EncodeToString(p.h.Sum(nil)); got != sha {
		return fail(fmt.Errorf("%w: received %d bytes with SHA-256 %s, the manifest names %s", ErrHashMismatch, p.written, got, sha))
	}
	if err := s.commitLocked(id, p, sha); err != nil {
		return fail(err)
	}
	return true, nil
}

// commitLocked makes the received file the store's copy: synced, read-only for its owner,
// renamed into place, the folder synced. Callers hold mu.
func (s *Store) commitLocked(id string, p *part, sha string) error {
	name := p.f.Name()
	if err := p.f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing to the media store %s: %w", s.dir, err)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("writing to the media store %s: %w", s.dir, err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("writing to the media store %s: %w", s.dir, err)
	}
	if err := os.Rename(name, s.Path(sha)); err != nil {
		return fmt.Errorf("writing to the media store %s: %w", s.dir, err)
	}
	delete(s.parts, id)
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("writing to the media store %s: %w", s.dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}

// stalestLocked is the part that waited longest for a chunk. Callers hold mu.
func (s *Store) stalestLocked() string {
	var id string
	var last uint64
	for k, p := range s.parts {
		if id == "" || p.last < last {
			id, last = k, p.last
		}
	}
	return id
}

// Drop forgets every file being received under key (a request that ended).
func (s *Store) Drop(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.parts {
		if strings.HasPrefix(id, key+"/") {
			s.dropLocked(id)
		}
	}
}

func (s *Store) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(id)
}

func (s *Store) dropLocked(id string) {
	p, ok := s.parts[id]
	if !ok {
		return
	}
	delete(s.parts, id)
	if p.f != nil {
		_ = p.f.Close()
		_ = os.Remove(p.f.Name())
	}
}

// Copy writes the stored copy of the file with digest sha to w, checking on the way that its
// bytes still have that SHA-256. w has received the bytes only if Copy returns nil; a caller
// writing a file removes it on error.
func Copy(dir, sha string, w io.Writer) (int64, error) {
	if !ValidDigest(sha) {
		return 0, fmt.Errorf("%q is not a SHA-256 (64 lower-case hex digits)", sha)
	}
	f, err := os.Open(filepath.Join(dir, sha))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s (in %s)", ErrNotFound, sha, dir)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the media store: %w", err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), f)
	if err != nil {
		return n, fmt.Errorf("reading %s from the media store: %w", sha, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return n, fmt.Errorf("%w: the stored copy of %s now has SHA-256 %s: it was changed on disk", ErrHashMismatch, sha, got)
	}
	return n, nil
}
