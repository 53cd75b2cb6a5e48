//go:build !windows

package adminsock

import (
	"context"
	"fmt"
	"net"
	"os"
)

// ServedByService reports whether the socket is the system service's: the process answering
// runs as another OS user than this one (see ServerUID).
func (c *Client) ServedByService(ctx context.Context) (bool, error) {
	uid, err := c.ServerUID(ctx)
	if err != nil {
		return false, err
	}
	return uid != os.Getuid(), nil
}

// ServerUID reports the OS user id of the process that answers on the socket, as the kernel
// reports it (SO_PEERCRED on Linux): a client tells the user's own daemon (its own uid) from the
// system service (another uid) without trusting anything the server says. It sends nothing;
// the server sees a connection that closes without a request.
func (c *Client) ServerUID(ctx context.Context) (int, error) {
	conn, err := c.conn(ctx)
	if err != nil {
		return -1, err
	}
	defer func() { _ = conn.Close() }()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return -1, fmt.Errorf("%s is not a Unix socket", c.Path)
	}
	uid, err := peerUID(uc)
	if err != nil {
		return -1, fmt.Errorf("asking the kernel who answers on %s: %w", c.Path, err)
	}
	return uid, nil
}
