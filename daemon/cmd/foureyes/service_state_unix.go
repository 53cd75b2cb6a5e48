//go:build !windows

package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"foureyes/daemon/internal/custody"
)

const (
	// secretsDirName and keyFileName are inside the state folder.
	secretsDirName = "secrets"
	keyFileName    = "secrets.key"
)

// checkState creates the state folder 0700, or refuses one that other users may read: the
// trail and the state are the service's alone.
func (m *serviceMode) checkState() error {
	if err := os.MkdirAll(m.state, 0o700); err != nil {
		return fmt.Errorf("creating the state folder %s: %w", m.state, err)
	}
	fi, err := os.Stat(m.state)
	if err != nil {
		return fmt.Errorf("the state folder: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("the state folder %s has mode %04o, so other users of this computer may read the trail and the state: run `chmod 700 %s` (systemd: StateDirectoryMode=0700)", m.state, perm, m.state)
	}
	return nil
}

// openStore opens the sealed secrets in the state folder, keyed by the systemd credential when
// there is one, else by the key file beside them.
func (m *serviceMode) openStore(logger *log.Logger) (custody.Store, error) {
	f, err := custody.OpenFile(custody.FileOptions{
		Dir:            filepath.Join(m.state, secretsDirName),
		KeyFile:        filepath.Join(m.state, keyFileName),
		CredentialsDir: m.credentials,
	})
	if err != nil {
		return nil, err
	}
	logger.Printf("service mode: secrets sealed in %s, key from %s", f.Dir(), f.KeySource())
	return f, nil
}

// startNotes says in the log what service mode does not do yet on this system: nothing.
func (m *serviceMode) startNotes(*log.Logger) {}
