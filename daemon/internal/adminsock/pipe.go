package adminsock

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// On Windows the admin socket is a named pipe (pipe_windows.go). Its name stands for the
// socket's path, so a daemon and its commands agree on it the way they agree on the path
// (FOUREYES_HOME, FOUREYES_SOCKET), and two daemons of different folders never share a pipe.
// Windows compares paths without regard to case, so neither does the name.
// A path that is already a pipe's name (\\.\pipe\…, as the service's) is that pipe.
func pipeName(path string) string {
	if IsPipeName(path) {
		return path
	}
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(path))))
	return `\\.\pipe\foureyes-` + hex.EncodeToString(sum[:16])
}

// IsPipeName reports whether path names a pipe itself rather than a socket's path.
func IsPipeName(path string) bool {
	return len(path) > len(pipePrefix) && strings.EqualFold(path[:len(pipePrefix)], pipePrefix)
}

const pipePrefix = `\\.\pipe\`

var sidRe = regexp.MustCompile(`^S-1-[0-9]+(-[0-9]+)+$`)

// userPipeSDDL is the pipe's security descriptor in user mode: owned by the daemon's user and
// open to no one else (not even to read it), its list protected from inherited entries. The
// owner is what a command checks before it talks to the pipe: another user cannot make a pipe
// owned by this one.
func userPipeSDDL(sid string) (string, error) {
	if !sidRe.MatchString(sid) {
		return "", fmt.Errorf("%q is not a security identifier (S-1-…)", sid)
	}
	return "O:" + sid + "D:P(A;;GA;;;" + sid + ")", nil
}
