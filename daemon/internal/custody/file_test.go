package custody

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newFileStore opens a store in a fresh folder: secrets in DIR/secrets, key in DIR/secrets.key.
func newFileStore(t *testing.T) (*File, FileOptions) {
	t.Helper()
	root := privateDir(t)
	o := FileOptions{Dir: filepath.Join(root, "secrets"), KeyFile: filepath.Join(root, "secrets.key")}
	f, err := OpenFile(o)
	if err != nil {
		t.Fatal(err)
	}
	return f, o
}

// privateDir is a fresh 0700 folder: the state folder the key file lives in.
func privateDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestFileStoreRoundTripAcrossRestart(t *testing.T) {
	f, o := newFileStore(t)
	if err := Probe(f); err != nil {
		t.Fatalf("probe: %v", err)
	}
	const seed = "JBSWY3DPEHPK3PXP-seed-of-anna"
	if err := f.Set(ApproverKey("anna"), "old"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set(ApproverKey("anna"), seed); err != nil {
		t.Fatal(err)
	}
	if err := f.Set(AccountPasswordKey("x:press"), "hunter2-password"); err != nil {
		t.Fatal(err)
	}
	// A second process (the service after a restart) opens them with the same key.
	g, err := OpenFile(o)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	if got, err := g.Get(ApproverKey("anna")); err != nil || got != seed {
		t.Fatalf("after reopening: %q %v", got, err)
	}
	if err := g.Delete(ApproverKey("anna")); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get(ApproverKey("anna")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted secret: %v, want not found", err)
	}
	if err := g.Delete(ApproverKey("anna")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v, want not found", err)
	}
	if err := g.Set("", "x"); err == nil {
		t.Fatal("an empty key was accepted")
	}
	if err := g.Set("big", strings.Repeat("x", MaxSecret+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized secret: %v", err)
	}
	// Modes: the folder 0700, every file 0600, no temporary file left.
	if m := mode(t, o.Dir); m != 0o700 {
		t.Errorf("secrets folder mode %04o", m)
	}
	if m := mode(t, o.KeyFile); m != 0o600 {
		t.Errorf("key file mode %04o", m)
	}
	ents, _ := os.ReadDir(o.Dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
		if m := mode(t, filepath.Join(o.Dir, e.Name())); m != 0o600 {
			t.Errorf("%s mode %04o", e.Name(), m)
		}
	}
}

// Neither the secret nor the key names appear on disk in the clear.
func TestFileStoreSealsOnDisk(t *testing.T) {
	f, o := newFileStore(t)
	const secret = "plain-secret-that-must-not-be-on-disk"
	if err := f.Set(AccountPasswordKey("x:press"), secret); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(o.Dir)
	if len(ents) != 2 { // key.check and the secret
		t.Fatalf("files: %v", ents)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(o.Dir, e.Name()))
		if bytes.Contains(b, []byte(secret)) || strings.Contains(e.Name(), "press") {
			t.Fatalf("%s holds the secret or the account name in the clear", e.Name())
		}
	}
}

func TestFileStoreRefusesWhatOthersCanRead(t *testing.T) {
	f, o := newFileStore(t)
	if err := f.Set(ApproverKey("anna"), "seed-value-1234"); err != nil {
		t.Fatal(err)
	}
	check := func(what, path string, m os.FileMode, want string) {
		t.Helper()
		if err := os.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFile(o)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s mode %04o: %v, want an error naming %s and %q", what, m, err, path, want)
		}
		if err != nil && strings.Contains(err.Error(), "seed-value-1234") {
			t.Errorf("the error holds the secret: %v", err)
		}
	}
	check("secrets folder", o.Dir, 0o755, "chmod 700 "+o.Dir)
	_ = os.Chmod(o.Dir, 0o700)
	check("key file", o.KeyFile, 0o640, "chmod 600 "+o.KeyFile)
	_ = os.Chmod(o.KeyFile, 0o600)
	check("key folder", filepath.Dir(o.KeyFile), 0o711, "chmod 700 "+filepath.Dir(o.KeyFile))
	_ = os.Chmod(filepath.Dir(o.KeyFile), 0o700)
	secret := f.fileName(ApproverKey("anna"))
	check("secret file", secret, 0o604, "chmod 600 "+secret)
	// Get checks the file too, not only the start.
	if _, err := f.Get(ApproverKey("anna")); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Get of a world-readable secret: %v", err)
	}
	_ = os.Chmod(secret, 0o600)
	if _, err := OpenFile(o); err != nil {
		t.Fatalf("after fixing the modes: %v", err)
	}
}

func TestFileStoreKeyMustMatch(t *testing.T) {
	f, o := newFileStore(t)
	if err := f.Set(ApproverKey("anna"), "seed"); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(o.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	// A lost key file is not replaced by a fresh one over existing secrets.
	if err := os.Remove(o.KeyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(o); err == nil || !strings.Contains(err.Error(), "restore the key file") {
		t.Fatalf("missing key with secrets: %v", err)
	}
	if _, err := os.Stat(o.KeyFile); err == nil {
		t.Fatal("a fresh key file was made over existing secrets")
	}
	// Another key is refused at start.
	other := bytes.Repeat([]byte{7}, KeySize)
	if err := os.WriteFile(o.KeyFile, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(o); err == nil || !strings.Contains(err.Error(), "does not open the secrets") {
		t.Fatalf("wrong key: %v", err)
	}
	// A key of the wrong size is named as such.
	if err := os.WriteFile(o.KeyFile, good[:16], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(o); err == nil || !strings.Contains(err.Error(), "16 bytes, want 32") {
		t.Fatalf("short key: %v", err)
	}
	if err := os.WriteFile(o.KeyFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(o); err != nil {
		t.Fatalf("the right key again: %v", err)
	}
}

// A sealed file copied over another key's file does not open as that key.
func TestFileStoreSwappedFileDoesNotOpen(t *testing.T) {
	f, _ := newFileStore(t)
	if err := f.Set(ApproverKey("mallory"), "mallorys-own-seed"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set(ApproverKey("anna"), "annas-seed"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.fileName(ApproverKey("mallory")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.fileName(ApproverKey("anna")), b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := f.Get(ApproverKey("anna"))
	if err == nil || strings.Contains(err.Error(), "mallorys-own-seed") {
		t.Fatalf("swapped file: %q %v", got, err)
	}
}

// Under systemd the key is the credential in $CREDENTIALS_DIRECTORY; no key file is made.
func TestFileStoreKeyFromCredentialsDirectory(t *testing.T) {
	root := privateDir(t)
	creds := filepath.Join(root, "credentials")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{0x42}, KeySize)
	if err := os.WriteFile(filepath.Join(creds, CredentialName), key, 0o400); err != nil {
		t.Fatal(err)
	}
	o := FileOptions{Dir: filepath.Join(root, "secrets"), KeyFile: filepath.Join(root, "secrets.key"), CredentialsDir: creds}
	f, err := OpenFile(o)
	if err != nil {
		t.Fatal(err)
	}
	if f.KeySource() != filepath.Join(creds, CredentialName) {
		t.Fatalf("key from %s", f.KeySource())
	}
	if err := f.Set(ApproverKey("anna"), "seed"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.KeyFile); err == nil {
		t.Fatal("a key file was made although the credential was there")
	}
	// The same secrets without the credential: no key file, secrets present: refused.
	o.CredentialsDir = filepath.Join(root, "empty")
	if _, err := OpenFile(o); err == nil || !strings.Contains(err.Error(), "restore the key file") {
		t.Fatalf("credential gone: %v", err)
	}
	// A credential others may read is refused.
	if err := os.Chmod(filepath.Join(creds, CredentialName), 0o444); err != nil {
		t.Fatal(err)
	}
	o.CredentialsDir = creds
	if _, err := OpenFile(o); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable credential: %v", err)
	}
}

// BenchmarkFileStoreSetGet is one sealed write (temp file, fsync, rename, fsync of the folder)
// and one read back: what enrolling an approver or checking a code costs in service mode.
func BenchmarkFileStoreSetGet(b *testing.B) {
	root := b.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		b.Fatal(err)
	}
	f, err := OpenFile(FileOptions{Dir: filepath.Join(root, "secrets"), KeyFile: filepath.Join(root, "secrets.key")})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := f.Set(ApproverKey("anna"), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Get(ApproverKey("anna")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFileStoreGet(b *testing.B) {
	root := b.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		b.Fatal(err)
	}
	f, err := OpenFile(FileOptions{Dir: filepath.Join(root, "secrets"), KeyFile: filepath.Join(root, "secrets.key")})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Set(ApproverKey("anna"), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.Get(ApproverKey("anna")); err != nil {
			b.Fatal(err)
		}
	}
}
