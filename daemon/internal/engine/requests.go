package engine

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/rules"
)

func (v *staffView) CreateRequest(ctx context.Context, n api.NewRequest) (api.Request, error) {
	e := v.e
	var out api.Request
	err := e.run(v.c, func(t *tx) error {
		if err := e.policyOK(); err != nil {
			return err
		}
		// Only an account in custody can be published to under foureyes, so a session is never
		// issued for an account nobody can check.
		acc, ok := e.st.Accounts[n.Account]
		if !ok && n.Account != "" {
			return api.Errorf(api.CodeNotFound, "no account %s in custody: foureyes account list shows the accounts that can be requested", n.Account)
		}
		if ok {
			if d := rules.AccountUsable(acc.ID, acc.Unverified); !d.Allowed() {
				t.decided(d, map[string]any{"account": acc.ID, "requester": v.c.OSUser, "reason": string(d.Refusal.Code)})
				return t.refuse(d.Refusal)
			}
		}
		if err := e.checkMediaTooLarge(n.Media); err != nil {
			return err
		}
		open := rules.CountOpen(maps.Values(e.requests), v.c.OSUser, t.now)
		in := rules.RequestInput{Account: n.Account, Action: n.Action, Text: n.Text, Digest: n.Digest,
			Media: n.Media, Target: n.Target, ManifestDigest: n.ManifestDigest}
		r, d := rules.NewRequest(e.cfg, freshID(e.requests, "r", 6), v.c.OSUser, in, digest.Sum(n.Text), digest.Canonical(n.Text), open, t.now)
		if !d.Allowed() {
			return e.explain(d.Refusal)
		}
		put(t, e.requests, r.ID, &r)
		f := map[string]any{
			"request_id": r.ID, "account": r.Account, "action": r.Action, "digest": r.Digest,
			"requester": r.Requester, "text": r.Text, "transport": v.c.Via}
		addManifest(f, r.ManifestDigest, r.Media, r.Target)
		t.decided(d, f)
		out = *requestOut(&r)
		out.MediaToKeep = e.mediaToKeep(&r)
		t.notify(api.Event{Kind: api.EventRequest, Request: requestOut(&r)})
		return nil
	})
	return out, err
}

func (v *staffView) ListRequests(ctx context.Context) ([]api.Request, error) {
	e := v.e
	out := []api.Request{}
	err := e.run(v.c, func(t *tx) error {
		for _, r := range slices.SortedFunc(maps.Values(e.requests), func(a, b *rules.Request) int {
			return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
		}) {
			out = append(out, *requestOut(r))
		}
		return nil
	})
	return out, err
}

// request finds a request the daemon still holds. Callers hold mu.
func (e *Engine) request(id string) (*rules.Request, error) {
	r, ok := e.requests[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no request %s (it may have been decided more than a day ago, or the daemon restarted)", id)
	}
	return r, nil
}

// decision finds the request and the approver a decision is about. Callers hold mu.
func (e *Engine) decision(requestID, approverID string) (*rules.Request, *approverRec, error) {
	r, err := e.request(requestID)
	if err != nil {
		return nil, nil, err
	}
	rec, err := e.approver(approverID)
	if err != nil {
		return nil, nil, err
	}
	return r, rec, nil
}

func (v *staffView) Approve(ctx context.Context, requestID, approverID, code string) (api.Approval, error) {
	e := v.e
	sec := e.readSecret(approverID)
	var out api.Approval
	err := e.run(v.c, func(t *tx) error {
		if err := e.policyOK(); err != nil {
			return err
		}
		r, rec, err := e.decision(requestID, approverID)
		if err != nil {
			return err
		}
		if _, ok := e.st.Accounts[r.Account]; !ok {
			return api.Errorf(api.CodeNotFound, "account %s left custody after request %s was made: nothing can be approved for it", r.Account, r.ID)
		}
		fields := map[string]any{"request_id": r.ID, "account": r.Account, "approver": rec.ID, "requester": r.Requester}
		needed, d := rules.CanApprove(e.cfg, *r, rec.rules(), t.now)
		if !d.Allowed() {
			f := maps.Clone(fields)
			f["reason"] = string(d.Refusal.Code)
			t.decided(d, f)
			return t.refuse(d.Refusal)
		}
		// Before the code: a refusal here spends nothing, and the request can be approved once the
		// browser has handed over the files.
		if err := e.checkMediaKept(r); err != nil {
			return err
		}
		if err := e.checkCode(t, rec, sec, code, fields); err != nil {
			return err
		}
		nr, done := rules.RecordApproval(*r, rec.ID, needed)
		set(t, r, nr)
		f := maps.Clone(fields)
		f["action"], f["digest"], f["text"] = r.Action, r.Digest, r.Text
		f["approver_name"], f["approvals"], f["approvals_needed"] = rec.Name, len(r.ApprovedBy), needed
		addManifest(f, r.ManifestDigest, r.Media, r.Target)
		e.addMediaKept(f, r)
		t.decided(d, f)
		if done {
			s, sd := rules.NewSession(e.cfg, freshID(e.sessions, "s", 16), *r, t.now)
			put(t, e.sessions, s.ID, &s)
			set(t, &r.SessionID, s.ID)
			sf := map[string]any{
				"session_id": s.ID, "request_id": r.ID, "account": s.Account, "action": s.Action,
				"digest": s.Digest, "manifest_digest": s.ManifestDigest,
				"approved_by": strings.Join(s.ApprovedBy, ","), "expires": s.Expires,
				"requester": s.Requester}
			e.addMediaKept(sf, r)
			t.decided(sd, sf)
			out.Session = sessionOut(&s)
		}
		out.Request = *requestOut(r)
		t.notify(api.Event{Kind: api.EventRequest, Request: requestOut(r)})
		if out.Session != nil {
			t.notify(api.Event{Kind: api.EventSession, Session: out.Session})
		}
		return nil
	})
	if err != nil {
		return api.Approval{}, err
	}
	return out, nil
}

func (v *staffView) Deny(ctx context.Context, requestID, approverID, code string) (api.Request, error) {
	e := v.e
	sec := e.readSecret(approverID)
	var out api.Request
	err := e.run(v.c, func(t *tx) error {
		r, rec, err := e.decision(requestID, approverID)
		if err != nil {
			return err
		}
		d := rules.CanDeny(e.cfg, *r, rec.rules(), t.now)
		if !d.Allowed() {
			return e.explain(d.Refusal)
		}
		// A denial is final, so it needs the approver's code too: staff cannot deny in their name.
		if err := e.checkCode(t, rec, sec, code, map[string]any{"request_id": r.ID, "approver": rec.ID, "purpose": "deny"}); err != nil {
			return err
		}
		set(t, r, rules.Deny(*r))
		t.decided(d, map[string]any{"request_id": r.ID, "account": r.Account, "approver": rec.ID})
		out = *requestOut(r)
		t.notify(api.Event{Kind: api.EventRequest, Request: requestOut(r)})
		return nil
	})
	return out, err
}

func (v *staffView) Cancel(ctx context.Context, requestID string) (api.Request, error) {
	e := v.e
	var out api.Request
	err := e.run(v.c, func(t *tx) error {
		r, err := e.request(requestID)
		if err != nil {
			return err
		}
		nr, d := rules.Cancel(*r, v.c.OSUser, t.now)
		if !d.Allowed() {
			return e.explain(d.Refusal)
		}
		set(t, r, nr)
		t.decided(d, map[string]any{"request_id": r.ID, "account": r.Account})
		out = *requestOut(r)
		t.notify(api.Event{Kind: api.EventRequest, Request: requestOut(r)})
		return nil
	})
	return out, err
}
