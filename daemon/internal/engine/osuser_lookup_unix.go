//go:build !windows

package engine

import (
	"os/user"
	"strconv"
)

// LookupUID is the OS user of uid.
func LookupUID(uid int) (*user.User, error) { return user.LookupId(strconv.Itoa(uid)) }
