package main

import (
	"os"
	"path/filepath"
)

// Windows service mode (`foureyes service install`, run as LocalSystem): the state in
// %ProgramData%, with an access list of its own (winacl.StateDirSDDL), and the admin pipe
// under a fixed name every client knows.
var defaultServiceState = filepath.Join(programData(), "foureyes-service")

const defaultServiceSocket = `\\.\pipe\foureyes-service`

const stateDirHelp = "state folder: state and audit trail (made with access for SYSTEM and Administrators only, and refused if anyone else has access)"

func programData() string {
	if d := os.Getenv("ProgramData"); d != "" {
		return d
	}
	return `C:\ProgramData`
}
