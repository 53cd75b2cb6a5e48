package bridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"foureyes/daemon/internal/api"
)

// Nonce bounds: the connection nonce is unpadded base64url of 16 to 64 random bytes.
const (
	minNonceBytes = 16
	maxNonceBytes = 64
)

// conn is one upgraded WebSocket connection.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	origin string
	peer   int // the OS user holding the connection (Config.PeerUID), -1 when not asked

	nonce   string    // from hello; signs this connection's grants
	helloID int64     // id of the hello message
	backend api.Staff // set after hello

	wmu sync.Mutex // serialises writes: gorilla allows one writer at a time
}

// errTooLarge reports a message over MaxMessageSize.
var errTooLarge = errors.New("message too large")

// serveConn runs one connection until it closes: the hello first, then one message at a time,
// each answered in order.
func (s *Server) serveConn(ctx context.Context, ws *websocket.Conn, origin string, peer int) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &conn{s: s, ws: ws, origin: origin, peer: peer}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = ws.Close()
	}()

	ws.SetReadLimit(hardReadLimit)
	if !c.hello(ctx) {
		return
	}

	s.mu.Lock()
	s.authed++
	if isMozOrigin(origin) {
		s.mozConns[origin]++
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.authed--
		if isMozOrigin(origin) {
			if s.mozConns[origin]--; s.mozConns[origin] <= 0 {
				delete(s.mozConns, origin)
			}
		}
		s.mu.Unlock()
	}()
	// Answered only now, so that an extension which has its reply is already counted.
	c.send(helloReply{V: Version, ID: c.helloID, Type: TypeHello, Version: s.cfg.Version, Policy: c.policy()})

	// Any frame, including a pong, proves the extension is still there.
	alive := func() { _ = ws.SetReadDeadline(time.Now().Add(s.timing.read)) }
	alive()
	ws.SetPongHandler(func(string) error { alive(); return nil })

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs before wg.Wait: stops the pinger and the watcher
	wg.Add(2)
	go func() { defer wg.Done(); c.pinger(ctx) }()
	go func() { defer wg.Done(); c.watch(ctx) }()

	for {
		data, err := c.read()
		if errors.Is(err, errTooLarge) {
			c.fail(nil, api.Errorf(api.CodeTooLarge, "message over %d bytes", MaxMessageSize), websocket.CloseMessageTooBig)
			return
		}
		if err != nil {
			return // closed, timed out, or gorilla refused a frame over the hard limit
		}
		alive()
		m, err := Decode(data)
		if err != nil {
			c.replyError(m, err)
			continue
		}
		c.send(c.handle(ctx, m))
	}
}

// hello waits for the first message, which must be a hello carrying a live token issued to
// this connection's origin. Anything else ends the connection with forbidden, before any
// backend call. It reports whether the connection may go on.
func (c *conn) hello(ctx context.Context) bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.timing.hello))
	data, err := c.read()
	if errors.Is(err, errTooLarge) {
		c.fail(nil, api.Errorf(api.CodeTooLarge, "message over %d bytes", MaxMessageSize), websocket.CloseMessageTooBig)
		return false
	}
	if err != nil {
		c.s.cfg.Logf("bridge: no hello from %s: %v", c.origin, err)
		c.fail(nil, api.Errorf(api.CodeForbidden, "no hello within %s", c.s.timing.hello), websocket.ClosePolicyViolation)
		return false
	}
	m, err := Decode(data)
	if err != nil {
		c.fail(&m.ID, api.Errorf(api.CodeForbidden, "the first message must be a valid hello: %s", api.AsError(err).Message), websocket.ClosePolicyViolation)
		return false
	}
	if m.Type != TypeHello {
		c.fail(&m.ID, api.Errorf(api.CodeForbidden, "the first message must be hello"), websocket.ClosePolicyViolation)
		return false
	}
	if err := checkNonce(m.Nonce); err != nil {
		c.fail(&m.ID, api.Errorf(api.CodeForbidden, "hello: field nonce: %v", err), websocket.ClosePolicyViolation)
		return false
	}
	// One message for every way a token can be wrong: a prober learns nothing.
	invalid := api.Errorf(api.CodeForbidden, "the token is not valid: ask the native host for a new one")
	t, live := c.s.redeem(m.Token, c.origin)
	if !live {
		c.s.cfg.Logf("bridge: refused hello from %s: token not live for this origin", c.origin)
		c.fail(&m.ID, invalid, websocket.ClosePolicyViolation)
		return false
	}
	caller := c.s.cfg.Owner
	if c.s.cfg.PeerUID != nil {
		// Shared bridge: the token counts only in the hands of the OS user it was issued to.
		if t.caller == nil || t.caller.UID != c.peer {
			r := Refusal{PeerUID: c.peer, TokenUID: -1, Origin: c.origin, Reason: "token issued to another OS user"}
			if t.caller != nil {
				r.TokenUID = t.caller.UID
			}
			c.s.cfg.Logf("bridge: refused hello from %s: token issued to uid %d presented by uid %d", c.origin, r.TokenUID, r.PeerUID)
			if c.s.cfg.OnRefused != nil {
				c.s.cfg.OnRefused(r)
			}
			c.fail(&m.ID, invalid, websocket.ClosePolicyViolation)
			return false
		}
		caller = *t.caller
	}
	c.nonce = m.Nonce
	c.helloID = m.ID
	c.backend = c.s.cfg.Backend(caller)
	return true
}

func (c *conn) policy() ClientPolicy {
	p := c.s.cfg.Policy()
	p.Platforms = nonNil(p.Platforms)
	p.MastodonInstances = nonNil(p.MastodonInstances)
	if p.PrivateAccounts == "" {
		p.PrivateAccounts = "block"
	}
	return p
}

// checkNonce checks the connection nonce: unpadded base64url of 16 to 64 bytes, so it is fresh
// enough to bind grants to this connection and safe to put on one line of the signed string.
func checkNonce(nonce string) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil {
		return errors.New("must be unpadded base64url")
	}
	if len(b) < minNonceBytes || len(b) > maxNonceBytes {
		return fmt.Errorf("must encode %d to %d bytes, not %d", minNonceBytes, maxNonceBytes, len(b))
	}
	return nil
}

// read returns the next text message, or errTooLarge without reading past MaxMessageSize+1.
func (c *conn) read() ([]byte, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxMessageSize {
		return nil, errTooLarge
	}
	if typ != websocket.TextMessage {
		// A binary frame is not JSON text; Decode will say so.
		return []byte{}, nil
	}
	return data, nil
}

// send writes one message. A failed write closes the connection, which ends the read loop.
func (c *conn) send(v any) {
	b := encode(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.timing.write))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		_ = c.ws.Close()
	}
}

func (c *conn) replyError(m Message, err error) {
	c.send(errorMessage(&m.ID, err))
}

func errorMessage(id *int64, err error) errorReply {
	if id != nil && *id < 0 {
		id = nil // the message had no readable id
	}
	return errorReply{V: Version, ID: id, Type: TypeError, Error: toWireError(err)}
}

// fail sends an error, then closes the connection with code.
func (c *conn) fail(id *int64, err error, code int) {
	c.send(errorMessage(id, err))
	msg := websocket.FormatCloseMessage(code, string(api.CodeOf(err)))
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.s.timing.write))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

// pinger pings every PingInterval; a missed pong shows as the read deadline passing.
func (c *conn) pinger(ctx context.Context) {
	t := time.NewTicker(c.s.timing.ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.timing.write)); err != nil {
				_ = c.ws.Close()
				return
			}
		}
	}
}

// watch forwards the backend's state changes that matter to the extension: requests and
// sessions changing state, and "Lock now".
func (c *conn) watch(ctx context.Context) {
	events, err := c.backend.Watch(ctx)
	if err != nil {
		c.s.cfg.Logf("bridge: watching events for %s: %v", c.origin, err)
		return
	}
	for {
		var ev api.Event
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			ev = e
		}
		switch ev.Kind {
		case api.EventRequest, api.EventSession, api.EventLock:
		default:
			continue
		}
		c.send(eventReply{V: Version, Type: TypeEvent, Event: wireEvent{
			Kind: ev.Kind, Time: ev.Time, Request: ev.Request, Session: ev.Session, Message: ev.Message,
		}})
	}
}

// handle answers one message after the hello. It returns the reply to send.
func (c *conn) handle(ctx context.Context, m Message) any {
	ctx, cancel := context.WithTimeout(ctx, backendTimeout)
	defer cancel()
	b := c.backend
	fail := func(err error) any {
		if api.CodeOf(err) == api.CodeInternal {
			c.s.cfg.Logf("bridge: %s from %s: %v", m.Type, c.origin, err)
		}
		return errorMessage(&m.ID, err)
	}

	switch m.Type {
	case TypeHello:
		return fail(api.Errorf(api.CodeBadRequest, "hello was already said on this connection"))
	case TypePing:
		return simpleReply{V: Version, ID: m.ID, Type: TypePong}
	case TypeStatus:
		st, err := b.Status(ctx)
		if err != nil {
			return fail(err)
		}
		// The bridge knows these better than the engine.
		st.Extensions = c.s.Connected()
		st.BridgeAddr = c.s.Addr()
		return statusReply{V: Version, ID: m.ID, Type: TypeStatus, Status: st}
	case TypeApprovers:
		// Which approvers to offer is the rules' decision, not the bridge's.
		list, err := b.OfferedApprovers(ctx, m.Account)
		if err != nil {
			return fail(err)
		}
		out := []ApproverInfo{}
		for _, a := range list {
			out = append(out, ApproverInfo{ID: a.ID, Name: a.Name})
		}
		return approversReply{V: Version, ID: m.ID, Type: TypeApprovers, Approvers: out}
	case TypeAccounts:
		list, err := b.ListAccounts(ctx)
		if err != nil {
			return fail(err)
		}
		out := make([]AccountInfo, 0, len(list))
		for _, a := range list {
			custody := a.Custody
			if custody == "" {
				custody = "strict" // fail closed: signed in only inside a session
			}
			out = append(out, AccountInfo{ID: a.ID, Platform: a.Platform, Handle: a.Handle, Custody: custody})
		}
		return accountsReply{V: Version, ID: m.ID, Type: TypeAccounts, Accounts: out}
	case TypeRequest:
		r, err := b.CreateRequest(ctx, api.NewRequest{Account: m.Account, Action: m.Action, Text: m.Text, Digest: m.Digest,
			Media: m.Media, Target: m.Target, ManifestDigest: m.ManifestDigest})
		if err != nil {
			return fail(err)
		}
		return requestReply{V: Version, ID: m.ID, Type: TypeRequest, Request: r}
	case TypeApprove:
		a, err := b.Approve(ctx, m.RequestID, m.Approver, m.Code)
		if err != nil {
			return fail(err)
		}
		reply := approvalReply{V: Version, ID: m.ID, Type: TypeApproval, Request: a.Request, Session: a.Session}
		if a.Session != nil {
			g, err := signGrant(c.s.signer, *a.Session, c.nonce)
			if err != nil {
				return fail(err)
			}
			reply.Grant = &g
		}
		return reply
	case TypeDeny:
		r, err := b.Deny(ctx, m.RequestID, m.Approver, m.Code)
		if err != nil {
			return fail(err)
		}
		return requestReply{V: Version, ID: m.ID, Type: TypeRequest, Request: r}
	case TypeCancel:
		r, err := b.Cancel(ctx, m.RequestID)
		if err != nil {
			return fail(err)
		}
		return requestReply{V: Version, ID: m.ID, Type: TypeRequest, Request: r}
	case TypeOpen:
		sess, err := b.Consume(ctx, api.Use{SessionID: m.SessionID, Account: m.Account, Action: m.Action, Digest: m.Digest, ManifestDigest: m.ManifestDigest})
		if err != nil {
			return fail(err)
		}
		g, err := signGrant(c.s.signer, sess, c.nonce)
		if err != nil {
			return fail(err)
		}
		return grantReply{V: Version, ID: m.ID, Type: TypeGrant, Grant: g}
	case TypePublished:
		if err := b.ReportPublished(ctx, m.SessionID, m.Digest, m.ManifestDigest); err != nil {
			return fail(err)
		}
		return simpleReply{V: Version, ID: m.ID, Type: TypeOK}
	case TypeMedia:
		mk, ok := b.(api.MediaKeeper)
		if !ok {
			return fail(api.Errorf(api.CodeUnsupported, "this daemon keeps no copies of attached files"))
		}
		ch, err := m.MediaChunk()
		if err != nil {
			return fail(err)
		}
		done, err := mk.KeepMedia(ctx, ch)
		if err != nil {
			return fail(err)
		}
		return mediaReply{V: Version, ID: m.ID, Type: TypeOK, Done: done}
	case TypeBlocked:
		err := b.ReportBlocked(ctx, api.Blocked{Account: m.Account, Host: m.Host, Reason: m.Reason, Digest: m.Digest})
		if err != nil {
			return fail(err)
		}
		return simpleReply{V: Version, ID: m.ID, Type: TypeOK}
	case TypeCredentials, TypeSignedOut, TypePrivatePost, TypeRotation, TypeRotated:
		si, ok := b.(api.SignIn)
		if !ok {
			return fail(api.Errorf(api.CodeNotPermitted, "this connection cannot sign in"))
		}
		r, err := signInReply(ctx, si, m)
		if err != nil {
			return fail(err)
		}
		return r
	case TypeUnrecognised:
		err := b.ReportUnrecognised(ctx, api.Unrecognised{Platform: m.Platform, Host: m.Host, Method: m.Method, Path: m.Path, Tab: m.Tab})
		if err != nil {
			return fail(err)
		}
		return simpleReply{V: Version, ID: m.ID, Type: TypeOK}
	}
	// Decode admits only the types above.
	return fail(fmt.Errorf("bridge: no handler for message type %q", m.Type))
}

// signInReply answers the custody messages (PROTOCOL.md §2.5), which only the bridge's value of
// the engine serves (api.SignIn).
func signInReply(ctx context.Context, si api.SignIn, m Message) (any, error) {
	ask := api.CredentialAsk{SessionID: m.SessionID, Account: m.Account, Host: m.Host}
	ok := simpleReply{V: Version, ID: m.ID, Type: TypeOK}
	switch m.Type {
	case TypeCredentials:
		cr, err := si.ReleaseCredentials(ctx, ask)
		return credentialsReply{V: Version, ID: m.ID, Type: TypeCredentials, Username: cr.Username, Password: cr.Password, Code: cr.Code}, err
	case TypeRotation:
		ro, err := si.ReleaseRotation(ctx, ask)
		return rotationReply{V: Version, ID: m.ID, Type: TypeRotation, Username: ro.Username, Password: ro.Password, NewPassword: ro.NewPassword}, err
	case TypeSignedOut:
		return ok, si.ReportSignedOut(ctx, api.SignOut{SessionID: m.SessionID, Account: m.Account, Host: m.Host, OK: m.Result == "ok", Error: m.Error})
	case TypeRotated:
		return ok, si.ReportRotated(ctx, api.Rotated{SessionID: m.SessionID, Account: m.Account, Host: m.Host, OK: m.Result == "ok", Error: m.Error})
	case TypePrivatePost:
		return ok, si.AllowPrivatePost(ctx, api.PrivatePost{Platform: m.Platform, Host: m.Host, Handle: m.Handle})
	}
	return nil, fmt.Errorf("bridge: no sign-in handler for message type %q", m.Type)
}
