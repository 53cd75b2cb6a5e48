package custody

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The service-mode store: one file per secret in a folder only the service's OS user may
// enter, each sealed with AES-256-GCM. The key is a systemd credential when the service runs
// under systemd (LoadCredentialEncrypted=, so the key is kept encrypted with the machine's
// credential secret or TPM and a copy of the state folder alone opens nothing), otherwise a key
// file beside the folder. Permissions are the boundary against the other users of the computer;
// the encryption keeps the secrets closed in backups and disk images of the state folder.

// CredentialName is the name of the key's systemd credential: the file
// $CREDENTIALS_DIRECTORY/secrets.key that LoadCredentialEncrypted=secrets.key:... provides.
const CredentialName = "secrets.key"

// KeySize is the size of the key: 32 raw bytes, AES-256.
const KeySize = 32

// File layout inside the secrets folder.
const (
	fileSuffix  = ".secret"
	checkFile   = "key.check" // sealed canary: says whether a key is the one the secrets were sealed with
	checkPlain  = "foureyes secrets key check v1"
	fileVersion = 1
	// maxSecretFile bounds what Get reads: a secret is a password or a seed, far smaller.
	maxSecretFile = 64 << 10
	// MaxSecret is the largest secret Set accepts.
	MaxSecret = 16 << 10
)

// FileOptions say where a File store keeps its secrets and its key.
type FileOptions struct {
	// Dir is the secrets folder (created 0700 if missing).
	Dir string
	// KeyFile is the key file used when there is no credential (created 0600, with its folder
	// 0700, when neither it nor any secret exists yet).
	KeyFile string
	// CredentialsDir is systemd's $CREDENTIALS_DIRECTORY. When it holds CredentialName, that is
	// the key and KeyFile is not used.
	CredentialsDir string
}

// File is the Store of service mode. Create it with [OpenFile].
type File struct {
	dir     string
	aead    cipher.AEAD
	keyFrom string // where the key came from, for the log: a path, never the key

	mu sync.Mutex
}

var _ Store = (*File)(nil)

// OpenFile opens (creating on first use) the secrets folder. It refuses, naming the path and
// the fix, if the folder, the key or any secret is open to other OS users or owned by another
// user, and if the key does not open the secrets already there (a replaced or lost key: no
// fresh key is made over existing secrets).
func OpenFile(o FileOptions) (*File, error) {
	if o.Dir == "" {
		return nil, errors.New("secrets store: no folder given")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("secrets store %s: %w", o.Dir, err)
	}
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	existing, err := hasSealed(dir)
	if err != nil {
		return nil, err
	}
	key, from, err := loadKey(o, existing)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("secrets store: key from %s: %w", from, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets store: key from %s: %w", from, err)
	}
	f := &File{dir: dir, aead: aead, keyFrom: from}
	if err := f.checkKey(); err != nil {
		return nil, err
	}
	return f, nil
}

// Dir is the secrets folder.
func (f *File) Dir() string { return f.dir }

// KeySource names where the key came from (a credential or key file path).
func (f *File) KeySource() string { return f.keyFrom }

// ensurePrivateDir creates dir 0700 or checks that the one there is private to this user.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("secrets store: creating %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("secrets store: creating %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("secrets store: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("secrets store: %s is not a folder (move it away; the service creates the folder itself)", dir)
	}
	return checkPrivate(dir, fi)
}

// checkPrivate refuses a file or folder that another user owns or that group or others may
// read, write or enter.
func checkPrivate(path string, fi fs.FileInfo) error {
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("secrets store: %s belongs to uid %d, not to the service's user (uid %d): run `chown %d %s`", path, uid, os.Geteuid(), os.Geteuid(), path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		want := "600"
		if fi.IsDir() {
			want = "700"
		}
		return fmt.Errorf("secrets store: %s has mode %04o, so other users of this computer may read it: run `chmod %s %s` (and check nobody copied it)", path, perm, want, path)
	}
	return nil
}

// hasSealed reports whether dir already holds a key check or a secret, and checks each file is
// private.
func hasSealed(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("secrets store: reading %s: %w", dir, err)
	}
	found := false
	for _, e := range ents {
		name := e.Name()
		if name != checkFile && !strings.HasSuffix(name, fileSuffix) {
			continue // a temporary file a crash left; overwritten or ignored
		}
		fi, err := e.Info()
		if err != nil {
			return false, fmt.Errorf("secrets store: %w", err)
		}
		if err := checkPrivate(filepath.Join(dir, name), fi); err != nil {
			return false, err
		}
		found = true
	}
	return found, nil
}

// loadKey reads the key: the credential if systemd passed one, else the key file, created only
// when the store is new.
func loadKey(o FileOptions, existing bool) ([]byte, string, error) {
	if o.CredentialsDir != "" {
		p := filepath.Join(o.CredentialsDir, CredentialName)
		// systemd makes the credential readable by the service's user alone, in a folder of
		// its own; the file itself is checked like any key.
		k, err := readKey(p)
		if err == nil {
			return k, p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, p, err
		}
	}
	if o.KeyFile == "" {
		return nil, "", errors.New("secrets store: no key: neither a systemd credential " + CredentialName + " nor a key file was given")
	}
	p, err := filepath.Abs(o.KeyFile)
	if err != nil {
		return nil, "", fmt.Errorf("secrets store: key file %s: %w", o.KeyFile, err)
	}
	if err := ensurePrivateDir(filepath.Dir(p)); err != nil {
		return nil, p, err
	}
	k, err := readKey(p)
	if err == nil {
		return k, p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, p, err
	}
	if existing {
		return nil, p, fmt.Errorf("secrets store: the key file %s is missing but the secrets in the store are sealed with a key: restore the key file (or the credential) from the backup; a new key would not open them", p)
	}
	k, err = makeKeyFile(p)
	return k, p, err
}

// readKey reads a key from path, checking the file is private and exactly KeySize bytes.
func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secrets store: opening the key %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets store: key %s: %w", path, err)
	}
	if err := checkPrivate(path, fi); err != nil {
		return nil, err
	}
	k, err := io.ReadAll(io.LimitReader(f, KeySize+1))
	if err != nil {
		return nil, fmt.Errorf("secrets store: reading the key %s: %w", path, err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("secrets store: the key %s is %d bytes, want %d random bytes (make one with `head -c %d /dev/urandom`)", path, len(k), KeySize, KeySize)
	}
	return k, nil
}

// makeKeyFile writes a fresh random key to path (0600, never over an existing file).
func makeKeyFile(path string) ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("secrets store: making a key: %w", err)
	}
	if err := writeAtomic(path, k, false); err != nil {
		return nil, fmt.Errorf("secrets store: writing the new key file: %w", err)
	}
	return k, nil
}

// checkKey opens the sealed canary, or writes it in a new store, so a wrong key is refused at
// start and not at the first approval.
func (f *File) checkKey() error {
	p := filepath.Join(f.dir, checkFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		if err := writeAtomic(p, f.seal(checkFile, []byte(checkPlain)), true); err != nil {
			return fmt.Errorf("secrets store: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("secrets store: %w", err)
	}
	plain, err := f.open(checkFile, data)
	if err != nil || string(plain) != checkPlain {
		return fmt.Errorf("secrets store: the key from %s does not open the secrets in %s: it was replaced or belongs to another install; restore the right key (credential or key file) from the backup", f.keyFrom, f.dir)
	}
	return nil
}

// fileName is where key's secret lives: a hash of the key, so key names (approver ids,
// account names) never become paths.
func (f *File) fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(f.dir, hex.EncodeToString(sum[:16])+fileSuffix)
}

// seal encrypts plain for key: version byte, nonce, ciphertext. The key name is the additional
// data, so a sealed file copied over another key's file does not open.
func (f *File) seal(key string, plain []byte) []byte {
	out := make([]byte, 1+f.aead.NonceSize(), 1+f.aead.NonceSize()+len(plain)+f.aead.Overhead())
	out[0] = fileVersion
	if _, err := rand.Read(out[1:]); err != nil {
		panic(fmt.Sprintf("reading random bytes for a nonce: %v", err)) // crypto/rand never fails on supported systems
	}
	return f.aead.Seal(out, out[1:], plain, []byte(key))
}

func (f *File) open(key string, data []byte) ([]byte, error) {
	n := f.aead.NonceSize()
	if len(data) < 1+n+f.aead.Overhead() || data[0] != fileVersion {
		return nil, errors.New("not a sealed secret of this version")
	}
	return f.aead.Open(nil, data[1:1+n], data[1+n:], []byte(key))
}

// Set seals secret under key, replacing the file atomically.
func (f *File) Set(key, secret string) error {
	if err := checkKey("set", key); err != nil {
		return err
	}
	if len(secret) > MaxSecret {
		return fmt.Errorf("secrets store set %q: %w (%d bytes, at most %d)", key, ErrTooLarge, len(secret), MaxSecret)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := writeAtomic(f.fileName(key), f.seal(key, []byte(secret)), true); err != nil {
		return fmt.Errorf("secrets store set %q: %w", key, err)
	}
	return nil
}

// Get opens the secret under key.
func (f *File) Get(key string) (string, error) {
	if err := checkKey("get", key); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.fileName(key)
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("secrets store get %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("secrets store get %q: %w", key, err)
	}
	defer func() { _ = fh.Close() }()
	fi, err := fh.Stat()
	if err != nil {
		return "", fmt.Errorf("secrets store get %q: %w", key, err)
	}
	if err := checkPrivate(p, fi); err != nil {
		return "", fmt.Errorf("secrets store get %q: %w", key, err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxSecretFile))
	if err != nil {
		return "", fmt.Errorf("secrets store get %q: %w", key, err)
	}
	plain, err := f.open(key, data)
	if err != nil {
		return "", fmt.Errorf("secrets store get %q: %s does not open with the store's key (damaged, or copied from another key): set the secret again", key, p)
	}
	return string(plain), nil
}

// Delete removes the secret under key.
func (f *File) Delete(key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err := os.Remove(f.fileName(key))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("secrets store delete %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("secrets store delete %q: %w", key, err)
	}
	if err := syncDir(f.dir); err != nil {
		return fmt.Errorf("secrets store delete %q: %w", key, err)
	}
	return nil
}

// writeAtomic writes data to path through a 0600 temporary file in the same folder: write,
// fsync, rename, fsync of the folder. A crash leaves the old file or the new one. With replace
// false an existing file is never overwritten.
func writeAtomic(path string, data []byte, replace bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing in %s: %w", dir, err)
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	// CreateTemp makes 0600 files already; said again so a changed umask or library cannot
	// widen it.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if replace {
		err = os.Rename(name, path)
	} else {
		// A hard link fails if path exists: two first starts cannot each make a key.
		if err = os.Link(name, path); err == nil {
			_ = os.Remove(name)
		}
	}
	if err != nil {
		return fmt.Errorf("putting %s in place: %w", path, err)
	}
	done = true
	if err := syncDir(dir); err != nil {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
