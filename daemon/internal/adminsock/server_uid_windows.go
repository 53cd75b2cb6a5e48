package adminsock

import (
	"context"
	"errors"
)

// ServerUID is not built on Windows: its one use is the tray's question whether the channel is
// the service's, and the tray of service mode is not built yet on Windows (Windows names users
// by SID, not by a numeric uid).
func (c *Client) ServerUID(ctx context.Context) (int, error) {
	return -1, errors.New("the tray of the foureyes service is not built yet on Windows: use the foureyes command against the service (foureyes status)")
}
