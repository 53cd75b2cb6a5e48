package engine

import (
	"fmt"
	"os/user"

	"foureyes/daemon/internal/winacl"
)

// LookupUID is the Windows account numbered uid by winacl.UID (the admin pipe's and the
// bridge's callers): Windows has no uid of its own.
func LookupUID(uid int) (*user.User, error) {
	sid, ok := winacl.SID(uid)
	if !ok {
		return nil, fmt.Errorf("no account known as uid %d", uid)
	}
	return user.LookupId(sid)
}
