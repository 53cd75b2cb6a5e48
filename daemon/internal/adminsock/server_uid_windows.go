package adminsock

import (
	"context"
	"fmt"

	"golang.org/x/sys/windows"

	"foureyes/daemon/internal/winacl"
)

// ServedByService reports whether the pipe is the system service's: Windows names the pipe's
// owner, SYSTEM for the service (foureyes service under the Service Control Manager) and this
// user for their own daemon; any other owner is refused when connecting. It sends nothing; the
// server sees a connection that closes without a request.
func (c *Client) ServedByService(ctx context.Context) (bool, error) {
	conn, err := c.conn(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close() }()
	pc, ok := conn.(*pipeConn)
	if !ok {
		return false, fmt.Errorf("%s is not a named pipe", c.Path)
	}
	sd, err := windows.GetSecurityInfo(windows.Handle(pc.Fd()), windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return false, fmt.Errorf("asking Windows who owns %s: %w", c.Path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return false, fmt.Errorf("asking Windows who owns %s: %v", c.Path, err)
	}
	return owner.String() == winacl.SIDSystem, nil
}
