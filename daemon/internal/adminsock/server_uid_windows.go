package adminsock

import (
	"context"
	"errors"
)

// ServerUID is not built on Windows: service mode, the only reason to ask who answers, is not
// built there either, and Windows names users by SID, not by a numeric uid.
func (c *Client) ServerUID(ctx context.Context) (int, error) {
	return -1, errors.New("asking who answers on the admin channel is not built on Windows (service mode is not built there yet)")
}
