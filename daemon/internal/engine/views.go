package engine

import (
	"context"
	"slices"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/rules"
)

// staffView is the staff half of the engine for one caller: what the bridge holds. It has no
// admin methods, so it cannot be asserted to [api.Backend].
type staffView struct {
	e *Engine
	c api.Caller
}

// ownerView is everything, for the laptop's own user (admin socket, tray).
type ownerView struct{ staffView }

var (
	_ api.Staff   = (*staffView)(nil)
	_ api.Backend = (*ownerView)(nil)
)

func (v *staffView) Status(ctx context.Context) (api.Status, error) {
	e := v.e
	e.checkKeyringIfStale()
	var s api.Status
	err := e.run(v.c, func(t *tx) error {
		seq, head := e.opts.Audit.Head()
		s = api.Status{
			Version: e.opts.Version, PID: pid, Started: e.started, Home: e.opts.Home,
			AuditLog: e.opts.Audit.Path(), AuditHead: head, AuditSeq: seq,
			PolicySource: e.opts.PolicySource,
			Accounts:     len(e.st.Accounts), Approvers: len(e.st.Approvers),
			BridgeAddr: e.opts.BridgeAddr,
		}
		if e.polErr != nil {
			s.PolicyError = e.polErr.Error()
		}
		if e.keyringErr != nil {
			s.KeyringError = e.keyringErr.Error()
		}
		if e.auditErr != nil {
			s.AuditError = e.auditErr.Error()
		}
		if e.bridgeErr != nil {
			s.BridgeError = e.bridgeErr.Error()
		}
		if fw, ok := e.opts.Audit.(Forwarder); ok {
			if err := fw.ForwardErr(); err != nil {
				s.ForwardError = err.Error()
			}
		}
		for _, r := range e.requests {
			if r.State == rules.Pending {
				s.PendingRequests++
			}
		}
		for _, ss := range e.sessions {
			if ss.State == rules.Active {
				s.OpenSessions++
			}
		}
		return nil
	})
	if e.opts.Extensions != nil {
		s.Extensions = e.opts.Extensions()
	}
	return s, err
}

func (v *staffView) Watch(ctx context.Context) (<-chan api.Event, error) {
	ch := v.e.watch()
	out := make(chan api.Event, 64)
	go func() {
		defer close(out)
		defer v.e.unwatch(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// requestOut is the wire form of a request (a copy: the caller may keep it).
func requestOut(r *rules.Request) *api.Request {
	return &api.Request{ID: r.ID, Account: r.Account, Action: r.Action, Text: r.Text, Digest: r.Digest,
		ManifestDigest: r.ManifestDigest, Media: slices.Clone(r.Media), Target: cloneTarget(r.Target),
		Requester: r.Requester, Created: r.Created, Expires: r.Expires, State: r.State,
		ApprovalsNeeded: r.ApprovalsNeeded, ApprovedBy: slices.Clone(r.ApprovedBy), SessionID: r.SessionID}
}

// sessionOut is the wire form of a session (a copy).
func sessionOut(s *rules.Session) *api.Session {
	return &api.Session{ID: s.ID, RequestID: s.RequestID, Account: s.Account, Action: s.Action,
		Digest: s.Digest, ManifestDigest: s.ManifestDigest, Media: slices.Clone(s.Media), Target: cloneTarget(s.Target),
		Requester: s.Requester, ApprovedBy: slices.Clone(s.ApprovedBy),
		Issued: s.Issued, Expires: s.Expires, State: s.State, Published: s.Published}
}
