package engine

import (
	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/rules"
)

// SetBridgeHelloFor is [Engine.SetBridgeHello] for service mode: the bridge learns which OS
// user asked for the token (the admin socket's peer), binds the token to that user, and later
// accepts it only from a connection that user's process holds.
func (e *Engine) SetBridgeHelloFor(f func(origin string, c api.Caller) (api.BridgeHello, error)) {
	e.locked(func() { e.helloFor = f })
}

// BridgeRefused records that the bridge refused a connection whose token was issued to another
// OS user than the one holding the connection (tokenUID, peerUID; -1: the kernel could not
// say): an alarm, since someone on this computer presented a token that was not theirs.
func (e *Engine) BridgeRefused(peerUID, tokenUID int, origin, reason string) error {
	f := map[string]any{"peer_uid": peerUID, "token_uid": tokenUID, "origin": origin, "reason": reason}
	for k, uid := range map[string]int{"peer_user": peerUID, "token_user": tokenUID} {
		if u, err := LookupUID(uid); uid >= 0 && err == nil {
			f[k] = u.Username
		}
	}
	return e.run(e.self, func(t *tx) error {
		t.record("bridge_refused", rules.High, f)
		return nil
	})
}

// CommandRefused records that the service refused an IT-only command (account add, passwd,
// remove, the RADIUS secret, unlocking an approver) to a local user who is not IT: an alarm,
// since a staff member tried to change what the service holds. osUser is the caller as the
// channel named it (Windows); when empty it is looked up by uid.
func (e *Engine) CommandRefused(uid int, osUser, method string) error {
	f := map[string]any{"uid": uid, "method": method}
	if osUser != "" {
		f["os_user"] = osUser
	} else if u, err := LookupUID(uid); err == nil {
		f["os_user"] = u.Username
	}
	return e.run(e.self, func(t *tx) error {
		t.record("command_refused", rules.High, f)
		return nil
	})
}
