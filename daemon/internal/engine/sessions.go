package engine

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/textclip"
)

func (v *staffView) ListSessions(ctx context.Context) ([]api.Session, error) {
	e := v.e
	out := []api.Session{}
	err := e.run(v.c, func(t *tx) error {
		for _, s := range slices.SortedFunc(maps.Values(e.sessions), func(a, b *rules.Session) int {
			return cmp.Or(a.Issued.Compare(b.Issued), strings.Compare(a.ID, b.ID))
		}) {
			out = append(out, *sessionOut(s))
		}
		return nil
	})
	return out, err
}

// session finds a session the daemon still holds. Callers hold mu.
func (e *Engine) session(id string) (*rules.Session, error) {
	s, ok := e.sessions[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no posting session %s (sessions end when the daemon restarts)", id)
	}
	return s, nil
}

// heldSession finds session id for t's caller: only the OS user who asked for the post may use
// its session ([rules.UseSession]); anyone else is refused and the attempt is an alarm. Callers
// hold mu.
func (e *Engine) heldSession(t *tx, id string) (*rules.Session, error) {
	s, err := e.session(id)
	if err != nil {
		return nil, err
	}
	if d := rules.UseSession(*s, t.c.OSUser); !d.Allowed() {
		t.decided(d, map[string]any{"session_id": s.ID, "account": s.Account, "requester": s.Requester, "transport": t.c.Via})
		return nil, t.refuse(d.Refusal)
	}
	return s, nil
}

func (v *staffView) Consume(ctx context.Context, u api.Use) (api.Session, error) {
	e := v.e
	var out api.Session
	err := e.run(v.c, func(t *tx) error {
		s, err := e.heldSession(t, u.SessionID)
		if err != nil {
			return err
		}
		ns, d := rules.Consume(*s, rules.Use{Account: u.Account, Action: u.Action, Digest: u.Digest, ManifestDigest: u.ManifestDigest}, t.now)
		f := map[string]any{"session_id": s.ID, "account": s.Account, "digest": u.Digest, "manifest_digest": u.ManifestDigest}
		if !d.Allowed() {
			f["reason"] = d.Refusal.Reason
			switch d.Refusal.Code {
			case api.CodeDigestMismatch:
				f["approved_digest"], f["approved_manifest_digest"] = s.Digest, s.ManifestDigest
			case api.CodeScopeMismatch:
				f["action"] = s.Action
				f["used_account"] = textclip.Line(u.Account, 256)
				f["used_action"] = textclip.Line(u.Action, 32)
			}
			t.decided(d, f)
			return t.refuse(d.Refusal)
		}
		set(t, s, ns)
		t.decided(d, f)
		out = *sessionOut(s)
		t.notify(api.Event{Kind: api.EventSession, Session: sessionOut(s)})
		return nil
	})
	return out, err
}

func (v *staffView) ReportPublished(ctx context.Context, sessionID, dg, mdg string) error {
	e := v.e
	return e.run(v.c, func(t *tx) error {
		s, err := e.heldSession(t, sessionID)
		if err != nil {
			return err
		}
		ns, d := rules.Published(*s, dg, mdg)
		if d.Event == "" {
			d.Refusal.Facts.Request = s.ID
			return e.explain(d.Refusal)
		}
		set(t, s, ns)
		fields := map[string]any{"session_id": s.ID, "account": s.Account, "action": s.Action,
			"digest": dg, "approved_digest": s.Digest, "approved_by": strings.Join(s.ApprovedBy, ","),
			"manifest_digest": mdg, "approved_manifest_digest": s.ManifestDigest,
			"transport": v.c.Via}
		if r, ok := e.requests[s.RequestID]; ok {
			fields["text"] = r.Text
		}
		if d.Event == "publish_repeated" {
			fields["repeated"] = true
		}
		t.decided(d, fields)
		t.notify(api.Event{Kind: api.EventPublished, Session: sessionOut(s), Message: d.Event})
		if !d.Allowed() {
			return t.refuse(d.Refusal)
		}
		return nil
	})
}

func (v *staffView) ReportBlocked(ctx context.Context, b api.Blocked) error {
	e := v.e
	if b.Host == "" || b.Reason == "" {
		return api.Errorf(api.CodeBadRequest, "a blocked report needs host and reason")
	}
	return e.run(v.c, func(t *tx) error {
		t.record("blocked", rules.Info, map[string]any{"account": b.Account, "host": textclip.Line(b.Host, 200),
			"reason": textclip.Line(b.Reason, 200), "digest": b.Digest, "transport": v.c.Via})
		t.notify(api.Event{Kind: api.EventBlocked, Message: fmt.Sprintf("%s: %s", textclip.Line(b.Host, 200), textclip.Line(b.Reason, 200))})
		return nil
	})
}

func (v *staffView) Lock(ctx context.Context, reason string) (api.LockResult, error) {
	e := v.e
	var res api.LockResult
	err := e.run(v.c, func(t *tx) error {
		// Failing closed means locking anyway: the revocation stands even without its line.
		t.sticky = true
		for _, s := range e.sessions {
			if ns, ok := rules.Revoke(*s); ok {
				set(t, s, ns)
				res.Sessions++
			}
		}
		for _, r := range e.requests {
			if nr, ok := rules.RevokeRequest(*r); ok {
				set(t, r, nr)
				res.Requests++
			}
		}
		t.record("lock", rules.High, map[string]any{"reason": textclip.Line(reason, 200),
			"sessions_revoked": res.Sessions, "requests_revoked": res.Requests})
		t.notify(api.Event{Kind: api.EventLock, Message: fmt.Sprintf("locked: %d sessions and %d requests revoked", res.Sessions, res.Requests)})
		return nil
	})
	return res, err
}

func (v *ownerView) ExtensionAllowed(ctx context.Context, browser, id, manifest string) error {
	return v.e.run(v.c, func(t *tx) error {
		t.record("extension_allowed", rules.High, map[string]any{"browser": browser, "extension_id": id, "manifest": manifest})
		return nil
	})
}

func (v *ownerView) BridgeHello(ctx context.Context, origin string) (api.BridgeHello, error) {
	e := v.e
	e.active()
	var hello func(origin string) (api.BridgeHello, error)
	var down error
	e.locked(func() {
		hello, down = e.hello, e.bridgeErr
		if f := e.helloFor; f != nil {
			hello = func(origin string) (api.BridgeHello, error) { return f(origin, v.c) }
		}
	})
	// The daemon runs: say what really stops the browser, not that the daemon is missing.
	if down != nil {
		return api.BridgeHello{}, &api.Error{Code: api.CodeBridgeDown, Err: down,
			Message: fmt.Sprintf("the foureyes daemon runs, but the browser cannot reach it: %v; foureyes keeps trying", down)}
	}
	if hello == nil {
		return api.BridgeHello{}, api.Errorf(api.CodeBridgeDown, "the foureyes daemon is starting its browser bridge: try again in a moment")
	}
	return hello(origin)
}
