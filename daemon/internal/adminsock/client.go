package adminsock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"foureyes/daemon/internal/api"
)

// Client talks to a running daemon over its admin socket. It satisfies api.Backend; the daemon
// decides who the caller is from the socket's peer credentials.
type Client struct {
	Path string
	// Unavailable is what to do when nothing answers on Path; empty says to start the daemon.
	Unavailable string
}

var _ api.Backend = (*Client)(nil)

// Dial returns a client for the socket at path. Connections are made per call.
func Dial(path string) *Client { return &Client{Path: path} }

func (c *Client) conn(ctx context.Context) (net.Conn, error) {
	conn, err := dial(ctx, c.Path)
	if err != nil {
		msg := fmt.Sprintf("the foureyes daemon is not running (no answer on %s): start it with `foureyes daemon`", c.Path)
		if c.Unavailable != "" {
			msg = fmt.Sprintf("no answer on %s: %s", c.Path, c.Unavailable)
		}
		return nil, &api.Error{Code: api.CodeDaemonUnavailable, Err: err, Message: msg}
	}
	return conn, nil
}

func (c *Client) send(ctx context.Context, conn net.Conn, method string, params any) error {
	raw, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("encoding %s parameters: %w", method, err)
	}
	b, _ := json.Marshal(request{V: Version, Method: method, Params: raw})
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	_, err = conn.Write(append(b, '\n'))
	return err
}

// Call runs one method and decodes its result into out (which may be nil).
func (c *Client) Call(ctx context.Context, method string, params, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	conn, err := c.conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	// A daemon that refuses the caller answers and closes before reading, so a failed write
	// may still have an answer waiting.
	sendErr := c.send(ctx, conn, method, params)
	line, err := bufio.NewReaderSize(conn, 64*1024).ReadBytes('\n')
	if len(line) == 0 && sendErr != nil {
		return fmt.Errorf("sending to the daemon: %w", sendErr)
	}
	if err != nil && len(line) == 0 {
		return &api.Error{Code: api.CodeDaemonUnavailable, Err: err, Message: fmt.Sprintf("the daemon closed the connection without answering: %v", err)}
	}
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	if out != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, out); err != nil {
			return fmt.Errorf("decoding the daemon's answer to %s: %w", method, err)
		}
	}
	return nil
}

func (c *Client) Status(ctx context.Context) (s api.Status, err error) {
	err = c.Call(ctx, "status", nil, &s)
	return
}

func (c *Client) AddAccount(ctx context.Context, a api.NewAccount) (out api.Account, err error) {
	err = c.Call(ctx, "account.add", a, &out)
	return
}

func (c *Client) SetAccountPassword(ctx context.Context, id, password string) error {
	return c.Call(ctx, "account.passwd", idParams{ID: id, Password: password}, nil)
}

func (c *Client) SetRadiusSecret(ctx context.Context, secret string) error {
	return c.Call(ctx, "radius.secret", radiusSecretParams{Secret: secret}, nil)
}

func (c *Client) ListAccounts(ctx context.Context) (out []api.Account, err error) {
	err = c.Call(ctx, "account.list", nil, &out)
	return
}

func (c *Client) RemoveAccount(ctx context.Context, id string) error {
	return c.Call(ctx, "account.remove", idParams{ID: id}, nil)
}

func (c *Client) EnrollApprover(ctx context.Context, n api.NewApprover) (out api.Enrollment, err error) {
	err = c.Call(ctx, "approver.enroll", n, &out)
	return
}

func (c *Client) ConfirmApprover(ctx context.Context, id, code string) (out api.Approver, err error) {
	err = c.Call(ctx, "approver.confirm", idParams{ID: id, Code: code}, &out)
	return
}

func (c *Client) ListApprovers(ctx context.Context) (out []api.Approver, err error) {
	err = c.Call(ctx, "approver.list", nil, &out)
	return
}

func (c *Client) RemoveApprover(ctx context.Context, id string, by api.Authority) error {
	return c.Call(ctx, "approver.remove", idParams{ID: id, By: by}, nil)
}

func (c *Client) AcceptApprover(ctx context.Context, id string, by api.Authority) (out api.Approver, err error) {
	err = c.Call(ctx, "approver.accept", idParams{ID: id, By: by}, &out)
	return
}

func (c *Client) AcceptAccount(ctx context.Context, id string, by api.Authority) (out api.Account, err error) {
	err = c.Call(ctx, "account.accept", idParams{ID: id, By: by}, &out)
	return
}

func (c *Client) UnlockApprover(ctx context.Context, id string) error {
	return c.Call(ctx, "approver.unlock", idParams{ID: id}, nil)
}

func (c *Client) CreateRequest(ctx context.Context, r api.NewRequest) (out api.Request, err error) {
	err = c.Call(ctx, "request.create", r, &out)
	return
}

func (c *Client) ListRequests(ctx context.Context) (out []api.Request, err error) {
	err = c.Call(ctx, "request.list", nil, &out)
	return
}

func (c *Client) Approve(ctx context.Context, requestID, approverID, code string) (out api.Approval, err error) {
	err = c.Call(ctx, "request.approve", approveParams{RequestID: requestID, Approver: approverID, Code: code}, &out)
	return
}

func (c *Client) Deny(ctx context.Context, requestID, approverID, code string) (out api.Request, err error) {
	err = c.Call(ctx, "request.deny", approveParams{RequestID: requestID, Approver: approverID, Code: code}, &out)
	return
}

func (c *Client) Cancel(ctx context.Context, requestID string) (out api.Request, err error) {
	err = c.Call(ctx, "request.cancel", idParams{ID: requestID}, &out)
	return
}

func (c *Client) ListSessions(ctx context.Context) (out []api.Session, err error) {
	err = c.Call(ctx, "session.list", nil, &out)
	return
}

func (c *Client) Consume(ctx context.Context, u api.Use) (out api.Session, err error) {
	err = c.Call(ctx, "session.consume", u, &out)
	return
}

func (c *Client) ReportPublished(ctx context.Context, sessionID, digest, manifestDigest string) error {
	return c.Call(ctx, "session.published", digestParams{SessionID: sessionID, Digest: digest, ManifestDigest: manifestDigest}, nil)
}

func (c *Client) ReportBlocked(ctx context.Context, b api.Blocked) error {
	return c.Call(ctx, "blocked", b, nil)
}

func (c *Client) ReportUnrecognised(ctx context.Context, u api.Unrecognised) error {
	return c.Call(ctx, "unrecognised", u, nil)
}

func (c *Client) Lock(ctx context.Context, reason string) (out api.LockResult, err error) {
	err = c.Call(ctx, "lock", map[string]string{"reason": reason}, &out)
	return
}

func (c *Client) ExtensionAllowed(ctx context.Context, browser, id, manifest string) error {
	return c.Call(ctx, "extension.allowed", extParams{Browser: browser, ID: id, Manifest: manifest}, nil)
}

// BridgeHello asks the daemon for a WebSocket token for the extension at origin.
func (c *Client) BridgeHello(ctx context.Context, origin string) (api.BridgeHello, error) {
	var out api.BridgeHello
	err := c.Call(ctx, "bridge.hello", map[string]string{"origin": origin}, &out)
	return out, err
}

// ReloadPolicy asks the daemon to read its policy again.
func (c *Client) ReloadPolicy(ctx context.Context) (api.Status, error) {
	var out api.Status
	err := c.Call(ctx, "policy.reload", nil, &out)
	return out, err
}

// OfferedApprovers lists the approvers worth offering the caller for a request on account.
func (c *Client) OfferedApprovers(ctx context.Context, account string) ([]api.Approver, error) {
	var out []api.Approver
	err := c.Call(ctx, "approver.offered", map[string]string{"account": account}, &out)
	return out, err
}

// Watch streams the daemon's events until ctx ends or the daemon goes away.
func (c *Client) Watch(ctx context.Context) (<-chan api.Event, error) {
	conn, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.send(context.Background(), conn, "watch", nil); err != nil {
		_ = conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64*1024)
	line, err := br.ReadBytes('\n')
	if err != nil {
		_ = conn.Close()
		return nil, &api.Error{Code: api.CodeDaemonUnavailable, Err: err, Message: "the daemon closed the watch"}
	}
	var first response
	if err := json.Unmarshal(line, &first); err != nil || first.Error != nil {
		_ = conn.Close()
		if first.Error != nil {
			return nil, first.Error
		}
		return nil, errors.New("unexpected answer to watch")
	}
	out := make(chan api.Event, 64)
	go func() {
		<-ctx.Done()
		_ = conn.Close()
	}()
	go func() {
		defer close(out)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			var r response
			if json.Unmarshal(line, &r) == nil && r.Event != nil {
				select {
				case out <- *r.Event:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (c *Client) RotateAccount(ctx context.Context, id string) (out api.Request, err error) {
	err = c.Call(ctx, "account.rotate", idParams{ID: id}, &out)
	return
}
