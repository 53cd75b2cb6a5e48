//go:build unix

package localui

import (
	"fmt"
	"os"
	"syscall"
)

// ownedBySelf refuses a file that is not owned by this process's user.
func ownedBySelf(fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot tell who owns it")
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("owned by uid %d, not by this user (uid %d)", st.Uid, os.Getuid())
	}
	return nil
}
