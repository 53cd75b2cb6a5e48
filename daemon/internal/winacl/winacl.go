// Package winacl holds the Windows access lists of service mode: the state folder's (SYSTEM and
// Administrators, nobody else) and the admin pipe's. The SDDL strings and the check of an access
// list are plain Go, tested on every system; reading and setting them on a real folder is in
// winacl_windows.go.
package winacl

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Well-known security identifiers.
const (
	SIDSystem         = "S-1-5-18"     // LocalSystem, the service's account
	SIDAdministrators = "S-1-5-32-544" // BUILTIN\Administrators
)

// StateDirSDDL is the state folder's security descriptor: full control for SYSTEM and
// Administrators, inherited by everything inside (OICI), and protected (P) so that nothing of
// %ProgramData%'s own list (which lets every user read and create) flows in.
const StateDirSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// ClientPipeAccess is what a staff user's program may do with the service's pipe, and what a
// client asks for: read and write data, read its attributes and its owner. Not
// FILE_CREATE_PIPE_INSTANCE (GENERIC_WRITE would grant it), which would let a staff user's
// program make an instance of the service's pipe and take the next client's request.
const ClientPipeAccess = 0x0012008B // FILE_READ_DATA|FILE_WRITE_DATA|FILE_READ_EA|FILE_READ_ATTRIBUTES|READ_CONTROL|SYNCHRONIZE

var sidRe = regexp.MustCompile(`^S-1-[0-9]+(-[0-9]+)+$`)

// ServicePipeSDDL is the service's admin pipe: owned by owner (SYSTEM when the Service Control
// Manager runs it), full control for the owner, SYSTEM and Administrators, connect only for
// authenticated users, and nothing for anyone who comes over the network (the pipe also
// rejects remote clients when it is made).
func ServicePipeSDDL(owner string) (string, error) {
	if !sidRe.MatchString(owner) {
		return "", fmt.Errorf("%q is not a security identifier (S-1-…)", owner)
	}
	return fmt.Sprintf("O:%sD:P(D;;GA;;;NU)(A;;GA;;;%s)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x%08x;;;AU)", owner, owner, ClientPipeAccess), nil
}

// ACE is one entry of an access list, as the check needs it.
type ACE struct {
	Type uint8  // 0 allow, 1 deny; any other type counts as an allow (unknown: fail closed)
	SID  string // S-1-…
	Mask uint32
}

// Entry types of an ACE header.
const (
	AllowType = 0
	DenyType  = 1
)

// trusted may hold the state folder and be granted anything on it.
func trusted(sid string) bool { return sid == SIDSystem || sid == SIDAdministrators }

// CheckStateDir refuses a state folder that anyone besides SYSTEM and Administrators may read
// or change: an owner other than those two (an owner may always rewrite the list), no access
// list at all (open to everyone), or an entry that grants anything to another account. Deny
// entries take nothing away from this check: only grants count.
func CheckStateDir(path, owner string, daclPresent bool, aces []ACE) error {
	fix := fmt.Sprintf("remove the folder (if the service has never run) or reset its list as an administrator: icacls \"%s\" /inheritance:r /grant:r *%s:(OI)(CI)F *%s:(OI)(CI)F, then remove every other entry icacls lists", path, SIDSystem, SIDAdministrators)
	if !trusted(owner) {
		return fmt.Errorf("the state folder %s is owned by %s, not by SYSTEM or Administrators, so that account may change who reads the trail and the state: %s (and icacls \"%s\" /setowner *%s)", path, owner, fix, path, SIDAdministrators)
	}
	if !daclPresent {
		return fmt.Errorf("the state folder %s has no access list, so every user of this computer may read the trail and the state: %s", path, fix)
	}
	var others []string
	for _, a := range aces {
		if a.Type == DenyType || a.Mask == 0 || trusted(a.SID) {
			continue
		}
		others = append(others, a.SID)
	}
	if len(others) > 0 {
		return fmt.Errorf("the state folder %s grants access to %s besides SYSTEM and Administrators, so other users of this computer may read the trail and the state: %s", path, strings.Join(others, ", "), fix)
	}
	return nil
}

// uids numbers the accounts this process meets, as the rest of the daemon keys callers by a
// uid, which Windows has not: the admin pipe and the browser bridge must give one account the
// same number for a bridge token to be bound to its user. SYSTEM is 0, as root is.
var uids = struct {
	sync.Mutex
	m    map[string]int
	next int
}{m: map[string]int{SIDSystem: 0}, next: 1000}

// UID is the number of the account sid for as long as this process runs.
func UID(sid string) int {
	uids.Lock()
	defer uids.Unlock()
	if uid, ok := uids.m[sid]; ok {
		return uid
	}
	uid := uids.next
	uids.next++
	uids.m[sid] = uid
	return uid
}

// SID is the account UID numbered uid, if this process has met it.
func SID(uid int) (string, bool) {
	uids.Lock()
	defer uids.Unlock()
	for sid, u := range uids.m {
		if u == uid {
			return sid, true
		}
	}
	return "", false
}
