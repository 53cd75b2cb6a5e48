package main

import (
	"log"
	"path/filepath"
	"strings"

	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/winacl"
)

// checkState makes the state folder with an access list of SYSTEM and Administrators only, or
// refuses one that anyone else may read or change: the trail and the state are the service's
// alone.
func (m *serviceMode) checkState() error {
	return winacl.MakeStateDir(m.state)
}

// openStore keeps the secrets in the Credential Manager of the account the service runs as
// (LocalSystem under the Service Control Manager), which no staff member can read. A state
// folder other than the default gets entries of its own, as FOUREYES_HOME does in user mode.
func (m *serviceMode) openStore(logger *log.Logger) (custody.Store, error) {
	name := keyringService(m.state, !strings.EqualFold(m.state, defaultServiceState))
	logger.Printf("service mode: secrets in the Windows Credential Manager of the service's account (entries %q)", name)
	return custody.NewQueue(custody.NewKeyring(name), 0), nil
}

// startNotes says in the log where the audit events go and what shows the staff's trays.
func (m *serviceMode) startNotes(logger *log.Logger) {
	logger.Printf("service mode on Windows: with audit.syslog on, the audit events go to the Event Log (Application, source %q); each user's tray is foureyesw.exe tray --if-service (this log is %s)", audit.EventSource, filepath.Join(m.state, serviceLogName))
}
