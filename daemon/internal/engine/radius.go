package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/radius"
	"foureyes/daemon/internal/rules"
)

// Approver codes checked by the organisation's OTP server (policy approver_codes "radius").
//
// The engine's lock is never held while the network is asked. An operation runs under the lock
// as usual; when it reaches a code that only the server can judge (and the daemon's own rules
// pass it), checkRemoteCode asks for the server's verdict with errAskRemote and run undoes the
// attempt, releases the lock, asks the server, and runs the operation again from the start with
// the verdict at hand. Everything is decided afresh under the lock the second time, so what
// changed meanwhile counts (a code accepted by a concurrent call is then a replay).

// errAskRemote ends an attempt that needs the OTP server's verdict (see tx.ask).
var errAskRemote = errors.New("the OTP server's verdict is needed")

// remoteKey names one question to the OTP server.
type remoteKey struct{ approver, user, code string }

// remoteAsk is a question to the OTP server with what asking needs, taken under the lock.
type remoteAsk struct {
	key remoteKey
	cfg policy.Radius
}

// remoteAnswer is the OTP server's verdict, or why there is none.
type remoteAnswer struct {
	accepted bool
	err      error
}

// maxRemoteRounds bounds how often one operation goes to the network: once normally; again only
// if the approver was re-enrolled under another user name meanwhile.
const maxRemoteRounds = 3

// usesRemote reports whether rec's codes are the OTP server's to check. Callers hold mu.
func (e *Engine) usesRemote(rec *approverRec) bool {
	return rec.RadiusUser != "" || (e.pol != nil && e.pol.ApproverCodes == policy.ApproverCodesRadius)
}

// checkRemoteCode is checkCode for an approver whose codes the OTP server checks. Callers hold
// mu, inside t.
func (e *Engine) checkRemoteCode(t *tx, rec *approverRec, code string, fields map[string]any) error {
	if err := e.policyOK(); err != nil {
		return err
	}
	switch {
	case e.pol.ApproverCodes != policy.ApproverCodesRadius:
		return api.Errorf(api.CodeCodeCheckUnavailable, `approver %s's codes are checked by the OTP server (enrolled with --radius-user %s), but the policy's approver_codes is %q: set approver_codes "radius", or re-enrol the approver without --radius-user`, rec.ID, rec.RadiusUser, e.pol.ApproverCodes)
	case rec.RadiusUser == "":
		return api.Errorf(api.CodeCodeCheckUnavailable, `the policy has the OTP server check approver codes (approver_codes "radius"), but approver %s was enrolled with a seed on this computer: re-enrol them with --radius-user NAME`, rec.ID)
	}
	key := remoteKey{rec.ID, rec.RadiusUser, code}
	ans, asked := t.remote[key]
	v := rules.NotAsked
	if asked && ans.err == nil {
		v = rules.Rejected
		if ans.accepted {
			v = rules.Accepted
		}
	}
	na, out, ref, ask := rules.CheckRemoteCode(e.cfg, rec.rules(), code, v, t.now)
	if ask {
		if !asked {
			t.ask = &remoteAsk{key: key, cfg: *e.pol.Radius}
			return errAskRemote
		}
		return e.remoteFailed(t, rec, ans.err, fields)
	}
	set(t, &rec.RadiusUsed, na.Used)
	return e.codeOutcome(t, rec, na, out, ref, fields)
}

// remoteFailed answers a code the OTP server gave no verdict on: no session, an audit line
// saying why, and nothing counted against the approver (it is not their failure). Callers hold
// mu, inside t.
func (e *Engine) remoteFailed(t *tx, rec *approverRec, err error, fields map[string]any) error {
	reason, msg := "unavailable", ""
	switch {
	case errors.Is(err, custody.ErrNotFound):
		reason, msg = "no_secret", "the shared secret with the OTP server is not in the OS keyring: IT sets it with foureyes radius secret"
	case errors.Is(err, custody.ErrNoKeyring) || errors.Is(err, custody.ErrLocked):
		return e.keyringError("reading the shared secret with the OTP server", err)
	case errors.Is(err, radius.ErrSecretMismatch):
		reason, msg = "secret_mismatch", "the OTP server's answer does not verify with the shared secret in the OS keyring: the shared secret differs from the server's (set it again with foureyes radius secret), or the answer was forged"
	case errors.Is(err, radius.ErrChallenge):
		reason, msg = "challenge", "the OTP server asked for a second step (Access-Challenge, challenge-response), which foureyes does not support: configure the server to check the code alone for foureyes"
	case errors.Is(err, radius.ErrUnavailable):
		msg = "the OTP server cannot check the code now, so nothing was approved"
	default:
		reason, msg = "request", "asking the OTP server failed"
	}
	f := maps.Clone(fields)
	f["reason"], f["radius_user"], f["error"] = reason, rec.RadiusUser, err.Error()
	t.record("code_check_unavailable", rules.High, f)
	t.keep = true // the line stands; nothing else changed
	return &api.Error{Code: api.CodeCodeCheckUnavailable, Err: err, Message: fmt.Sprintf("%s: %v", msg, err)}
}

// askRemote asks the OTP server about a.key, with the shared secret from the keyring. Callers
// do not hold mu: this waits for the network.
func (e *Engine) askRemote(a *remoteAsk) remoteAnswer {
	secret, err := e.opts.Store.Get(custody.RadiusSecretKey)
	if err != nil {
		return remoteAnswer{err: err}
	}
	c := radius.Config{Servers: a.cfg.Servers, Secret: []byte(secret), NASIdentifier: a.cfg.NASIdentifier,
		Timeout: a.cfg.Timeout(), Retries: a.cfg.Retries}
	// Every try of every server, and a second to spare: the client's own time-outs end it first.
	limit := time.Duration(len(c.Servers)*(c.Retries+1))*c.Timeout + time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	ok, err := radius.Authenticate(ctx, c, a.key.user, a.key.code)
	return remoteAnswer{accepted: ok, err: err}
}

func (v *ownerView) SetRadiusSecret(ctx context.Context, secret string) error {
	e := v.e
	secret = strings.TrimRight(secret, "\r\n")
	if secret == "" {
		return api.Errorf(api.CodeBadRequest, "the shared secret is empty: pipe it in on standard input")
	}
	if len(secret) > 128 {
		return api.Errorf(api.CodeBadRequest, "the shared secret is %d bytes: RADIUS servers take at most 128", len(secret))
	}
	return e.run(v.c, func(t *tx) error {
		old, oldErr := e.opts.Store.Get(custody.RadiusSecretKey)
		if oldErr != nil && !errors.Is(oldErr, custody.ErrNotFound) {
			return e.keyringError("reading the current shared secret with the OTP server", oldErr)
		}
		t.onUndo(func() {
			if oldErr == nil {
				custody.SetLater(e.opts.Store, custody.RadiusSecretKey, old)
			} else {
				custody.DeleteLater(e.opts.Store, custody.RadiusSecretKey)
			}
		})
		if err := e.opts.Store.Set(custody.RadiusSecretKey, secret); err != nil {
			return e.keyringError("storing the shared secret with the OTP server", err)
		}
		// Who can approve rests on this secret: a change is an alarm IT should see.
		t.record("radius_secret_set", rules.High, map[string]any{"replaced": oldErr == nil})
		return nil
	})
}

// codeOutcome applies a code check's new record and outcome to rec inside t: persisted whatever
// the outcome, failures recorded (a replay and a lock-out as alarms), a refusal answered
// through t.refuse so those changes are committed. Callers hold mu.
func (e *Engine) codeOutcome(t *tx, rec *approverRec, na rules.Approver, out rules.CodeOutcome, ref *rules.Refusal, fields map[string]any) error {
	set(t, &rec.LastStep, na.LastStep)
	set(t, &rec.Throttle, na.Throttle)
	t.persist()
	for _, d := range out.Decisions() {
		f := maps.Clone(fields)
		if d.Event == "approver_throttled" {
			f["locked_until"] = na.Throttle.LockedUntil
			f["disabled"] = na.Throttle.Disabled
			t.notify(api.Event{Kind: api.EventThrottled, Approver: rec.ID,
				Message: fmt.Sprintf("approver %s is locked out after too many wrong codes", rec.ID)})
		} else {
			f["consecutive_failures"] = na.Throttle.Consecutive
		}
		t.decided(d, f)
	}
	if ref != nil {
		return t.refuse(ref)
	}
	return nil
}

// policyCodes is the policy's approver_codes ("" while the policy is invalid).
func (e *Engine) policyCodes() string {
	var out string
	e.locked(func() {
		if e.pol != nil {
			out = e.pol.ApproverCodes
		}
	})
	return out
}

// enrollRemote enrols an approver whose codes the OTP server checks: no seed is created, the
// record carries their user name there, and they confirm with a first code the server accepts.
func (v *ownerView) enrollRemote(in rules.ApproverInput, n api.NewApprover) (api.Enrollment, error) {
	e := v.e
	user := strings.TrimSpace(n.RadiusUser)
	switch {
	case user == "":
		return api.Enrollment{}, api.Errorf(api.CodeBadRequest, `the policy has the OTP server check approver codes (approver_codes "radius"): give the approver's user name there with --radius-user NAME`)
	case len(user) > 253 || strings.ContainsFunc(user, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return api.Enrollment{}, api.Errorf(api.CodeBadRequest, "--radius-user %q is not a RADIUS user name (1 to 253 bytes, no control characters)", user)
	}
	sec := e.readAuthority(n.By)
	var out api.Enrollment
	err := e.run(v.c, func(t *tx) error {
		if e.pol == nil || e.pol.ApproverCodes != policy.ApproverCodesRadius {
			return api.Errorf(api.CodeBadRequest, `--radius-user needs a policy whose approver_codes is "radius" (with its radius section): this policy has the daemon check codes with a seed on this computer`)
		}
		old, existed := e.st.Approvers[in.ID]
		kind := rules.TrustEnrol
		if existed {
			kind = rules.TrustReenrol
		}
		vouched, err := e.authorise(t, kind, in.ID, n.By, sec)
		if err != nil {
			return err
		}
		rec := &approverRec{ID: in.ID, Name: in.Name, OSUser: in.OSUser, Enrolled: t.now, RadiusUser: user}
		event := "approver_enrolled"
		var wd withdrawn
		if existed {
			rec.LastStep = old.LastStep
			if rec.OSUser == "" {
				rec.OSUser = old.OSUser
			}
			event = "approver_reenrolled"
			wd = e.withdraw(t, nil, func(s *rules.Session) bool { return slices.Contains(s.ApprovedBy, in.ID) }, in.ID)
			// A seed from an earlier enrolment is no longer used.
			t.afterCommit(func() error {
				if err := e.opts.Store.Delete(custody.ApproverKey(in.ID)); err != nil && !errors.Is(err, custody.ErrNotFound) {
					return e.keyringError("the approver is re-enrolled, but their old seed could not be removed from the OS keyring (it is no longer used)", err)
				}
				return nil
			})
		}
		put(t, e.st.Approvers, in.ID, rec)
		put(t, e.inTrail, in.ID, true)
		t.persist()
		f := wd.note(map[string]any{"approver": in.ID, "name": in.Name, "approver_os_user": rec.OSUser, "radius_user": user})
		maps.Copy(f, vouched)
		t.record(event, rules.High, f)
		t.notify(api.Event{Kind: api.EventStatus, Approver: in.ID, Message: "approver enrolled"})
		out = api.Enrollment{Approver: rec.public()}
		return nil
	})
	if err != nil {
		return api.Enrollment{}, err
	}
	return out, nil
}
