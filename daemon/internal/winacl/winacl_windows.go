//go:build windows

package winacl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Built and compiled in CI, not run there: CI has no Windows machine.

// MakeStateDir makes the state folder with StateDirSDDL when it does not exist yet (its parent,
// %ProgramData%, is there on every Windows), and then checks it: a folder that was there
// already keeps its list, and is refused when others may read it.
func MakeStateDir(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		sd, err := windows.SecurityDescriptorFromString(StateDirSDDL)
		if err != nil {
			return fmt.Errorf("the state folder's security descriptor %s: %w", StateDirSDDL, err)
		}
		p, err := windows.UTF16PtrFromString(path)
		if err != nil {
			return err
		}
		sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
		if err := windows.CreateDirectory(p, sa); err != nil && !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return fmt.Errorf("creating the state folder %s: %w", path, err)
		}
	} else if err != nil {
		return fmt.Errorf("the state folder %s: %w", path, err)
	}
	return CheckDir(path)
}

// CheckDir reads the folder's owner and access list from Windows and applies CheckStateDir.
// A link (symbolic link or junction) is refused: its own owner could point it elsewhere after
// the check.
func CheckDir(path string) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	attrs, err := windows.GetFileAttributes(p)
	if err != nil {
		return fmt.Errorf("the state folder %s: %w", path, err)
	}
	if attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		return fmt.Errorf("the state folder %s is a link (a symbolic link or junction), which whoever made it may point elsewhere: remove it (rmdir, which leaves its target alone) and start the service again", path)
	}
	if attrs&windows.FILE_ATTRIBUTE_DIRECTORY == 0 {
		return fmt.Errorf("the state folder %s is not a folder: remove it and start the service again", path)
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("reading the access list of the state folder %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("reading the owner of the state folder %s: %v", path, err)
	}
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) {
		// No access list at all: open to everyone.
		return CheckStateDir(path, owner.String(), false, nil)
	}
	if err != nil {
		return fmt.Errorf("reading the access list of the state folder %s: %w", path, err)
	}
	if dacl == nil {
		return CheckStateDir(path, owner.String(), false, nil)
	}
	aces := make([]ACE, 0, dacl.AceCount)
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var a *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &a); err != nil {
			return fmt.Errorf("reading entry %d of the access list of the state folder %s: %w", i, path, err)
		}
		// Allow and deny entries have the SID at the same place; other types (object and
		// callback entries) are reported by type only and so count as grants to an unknown
		// account.
		sid := "an entry of type " + fmt.Sprint(a.Header.AceType)
		if a.Header.AceType == AllowType || a.Header.AceType == DenyType {
			sid = (*windows.SID)(unsafe.Pointer(&a.SidStart)).String()
		}
		aces = append(aces, ACE{Type: a.Header.AceType, SID: sid, Mask: uint32(a.Mask)})
	}
	return CheckStateDir(path, owner.String(), true, aces)
}
