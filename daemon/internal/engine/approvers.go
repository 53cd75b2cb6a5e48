package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
)

func (r *approverRec) public() api.Approver {
	return api.Approver{ID: r.ID, Name: r.Name, OSUser: r.OSUser, Confirmed: r.Confirmed,
		Enrolled: r.Enrolled, LockedUntil: r.Throttle.LockedUntil, Disabled: r.Throttle.Disabled,
		Failures: r.Throttle.Consecutive, Unverified: r.Unverified, RadiusUser: r.RadiusUser}
}

func (r *approverRec) rules() rules.Approver {
	return rules.Approver{ID: r.ID, OSUser: r.OSUser, Confirmed: r.Confirmed, Unverified: r.Unverified,
		LastStep: r.LastStep, Throttle: r.Throttle, Used: r.RadiusUsed}
}

func (v *ownerView) EnrollApprover(ctx context.Context, n api.NewApprover) (api.Enrollment, error) {
	e := v.e
	in, ref := rules.CheckApprover(rules.ApproverInput{ID: n.ID, Name: n.Name, OSUser: n.OSUser})
	if ref != nil {
		return api.Enrollment{}, e.explain(ref)
	}
	if in.OSUser != "" {
		// A typo here would quietly switch off the self-approval rule for this person.
		if err := e.opts.LookupUser(in.OSUser); err != nil {
			return api.Enrollment{}, api.Errorf(api.CodeBadRequest, "there is no OS user %q on this computer: --os-user takes the login name the approver uses here (or leave it out if they have none)", in.OSUser)
		}
		in.OSUser = canonicalOSUser(in.OSUser)
	}
	if n.RadiusUser != "" || e.policyCodes() == policy.ApproverCodesRadius {
		return v.enrollRemote(in, n)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: "foureyes", AccountName: in.ID, SecretSize: 20, // 160 bits, RFC 4226's recommendation
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Period: rules.StepSeconds, Rand: rand.Reader,
	})
	if err != nil {
		return api.Enrollment{}, fmt.Errorf("generating the approver's secret: %w", err)
	}
	sec := e.readAuthority(n.By)
	var out api.Enrollment
	err = e.run(v.c, func(t *tx) error {
		store := e.opts.Store
		old, existed := e.st.Approvers[in.ID]
		kind := rules.TrustEnrol
		if existed {
			kind = rules.TrustReenrol
		}
		// A second approver vouches before anything is written.
		vouched, err := e.authorise(t, kind, in.ID, n.By, sec)
		if err != nil {
			return err
		}
		oldSecret, oldErr := "", error(custody.ErrNotFound)
		if existed {
			oldSecret, oldErr = store.Get(custody.ApproverKey(in.ID))
			if oldErr != nil && !errors.Is(oldErr, custody.ErrNotFound) {
				// Without the old secret a failed re-enrolment could not be undone.
				return e.keyringError("reading the approver's current secret from the OS keyring", oldErr)
			}
		}
		// The undo is registered first: a write that times out may still happen, and the undo,
		// queued behind it, takes it back.
		t.onUndo(func() {
			if oldErr == nil {
				custody.SetLater(store, custody.ApproverKey(in.ID), oldSecret)
			} else {
				custody.DeleteLater(store, custody.ApproverKey(in.ID))
			}
		})
		if err := store.Set(custody.ApproverKey(in.ID), key.Secret()); err != nil {
			return e.keyringError("storing the approver's secret in the OS keyring", err)
		}
		rec := &approverRec{ID: in.ID, Name: in.Name, OSUser: in.OSUser, Enrolled: t.now}
		// Who may approve is the trust root: every change to it is an alarm IT should see.
		event, sev := "approver_enrolled", rules.High
		var n withdrawn
		if existed {
			// A new phone: the old secret is gone for good. Steps only move forward, so keeping
			// the last accepted step is harmless and keeps replays impossible.
			rec.LastStep = old.LastStep
			if rec.OSUser == "" {
				rec.OSUser = old.OSUser // re-enrolling must not quietly undo the self-approval mapping
			}
			event, sev = "approver_reenrolled", rules.High
			// What rests on the old secret no longer counts: a lost phone may be why.
			n = e.withdraw(t, nil, func(s *rules.Session) bool { return slices.Contains(s.ApprovedBy, in.ID) }, in.ID)
		}
		// A new record, not an edit: a code check that read the discarded secret sees that the
		// record changed and reads the secret again. Undone, it is a new record too (a copy of
		// the old one), for the same reason: the secret may have changed twice meanwhile.
		t.onUndo(func() {
			if existed {
				cp := *old
				e.st.Approvers[in.ID] = &cp
			} else {
				delete(e.st.Approvers, in.ID)
			}
		})
		e.st.Approvers[in.ID] = rec
		put(t, e.inTrail, in.ID, true)
		t.persist()
		f := n.note(map[string]any{"approver": in.ID, "name": in.Name, "approver_os_user": rec.OSUser})
		maps.Copy(f, vouched)
		t.record(event, sev, f)
		t.notify(api.Event{Kind: api.EventStatus, Approver: in.ID, Message: "approver enrolled"})
		out = api.Enrollment{Approver: rec.public(), URI: key.URL(), Secret: key.Secret()}
		return nil
	})
	if err != nil {
		return api.Enrollment{}, err // a secret that was not put in force is never shown
	}
	return out, nil
}

func (v *ownerView) ConfirmApprover(ctx context.Context, id, code string) (api.Approver, error) {
	e := v.e
	sec := e.readSecret(id)
	var out api.Approver
	err := e.run(v.c, func(t *tx) error {
		rec, err := e.approver(id)
		if err != nil {
			return err
		}
		if rec.Confirmed {
			out = rec.public()
			return nil
		}
		if err := e.checkCode(t, rec, sec, code, map[string]any{"approver": id, "purpose": "confirm"}); err != nil {
			return err
		}
		set(t, &rec.Confirmed, true)
		t.persist()
		t.record("approver_confirmed", rules.Info, map[string]any{"approver": id})
		t.notify(api.Event{Kind: api.EventStatus, Approver: id, Message: "approver confirmed"})
		out = rec.public()
		return nil
	})
	return out, err
}

func (v *staffView) ListApprovers(ctx context.Context) ([]api.Approver, error) {
	e := v.e
	out := []api.Approver{}
	err := e.run(v.c, func(t *tx) error {
		for _, r := range slices.SortedFunc(maps.Values(e.st.Approvers), func(a, b *approverRec) int { return strings.Compare(a.ID, b.ID) }) {
			out = append(out, r.public())
		}
		return nil
	})
	return out, err
}

func (v *staffView) OfferedApprovers(ctx context.Context, account string) ([]api.Approver, error) {
	e := v.e
	out := []api.Approver{}
	err := e.run(v.c, func(t *tx) error {
		recs := slices.SortedFunc(maps.Values(e.st.Approvers), func(a, b *approverRec) int { return strings.Compare(a.ID, b.ID) })
		as := make([]rules.Approver, len(recs))
		for i, r := range recs {
			as[i] = r.rules()
		}
		// Asked before the account is known (the extension's approval window lists approvers
		// first): whoever may approve any account in custody.
		accounts := []string{account}
		if account == "" {
			accounts = slices.Sorted(maps.Keys(e.st.Accounts))
		}
		for _, id := range rules.Offered(e.cfg, accounts, v.c.OSUser, as) {
			out = append(out, e.st.Approvers[id].public())
		}
		return nil
	})
	return out, err
}

func (v *ownerView) RemoveApprover(ctx context.Context, id string, by api.Authority) error {
	e := v.e
	sec := e.readAuthority(by)
	return e.run(v.c, func(t *tx) error {
		rec, err := e.approver(id)
		if err != nil {
			return err
		}
		// Removing the last approvers would open the bootstrap again: a second approver vouches.
		vouched, err := e.authorise(t, rules.TrustRemove, id, by, sec)
		if err != nil {
			return err
		}
		// Their approvals on requests waiting for a second approver no longer count, and
		// sessions they approved close.
		n := e.withdraw(t, nil, func(s *rules.Session) bool { return slices.Contains(s.ApprovedBy, id) }, id)
		del(t, e.st.Approvers, id)
		del(t, e.inTrail, id)
		t.persist()
		f := n.note(map[string]any{"approver": id, "name": rec.Name})
		maps.Copy(f, vouched)
		t.record("approver_removed", rules.High, f)
		t.notify(api.Event{Kind: api.EventStatus, Approver: id, Message: "approver removed"})
		t.afterCommit(func() error {
			if err := e.opts.Store.Delete(custody.ApproverKey(id)); err != nil && !errors.Is(err, custody.ErrNotFound) {
				return e.keyringError("the approver is removed, but their secret could not be removed from the OS keyring (it is no longer used: remove it by hand with the keyring's own tool, e.g. Seahorse or secret-tool)", err)
			}
			return nil
		})
		return nil
	})
}

func (v *ownerView) UnlockApprover(ctx context.Context, id string) error {
	e := v.e
	return e.run(v.c, func(t *tx) error {
		rec, err := e.approver(id)
		if err != nil {
			return err
		}
		th, d := rec.Throttle.Unlock()
		if !d.Allowed() {
			d.Refusal.Facts.Approver = id
			return e.explain(d.Refusal)
		}
		before := rec.Throttle.Consecutive
		set(t, &rec.Throttle, th)
		t.persist()
		t.decided(d, map[string]any{"approver": id, "consecutive_failures": before})
		return nil
	})
}

// approver finds an enrolled approver. Callers hold mu.
func (e *Engine) approver(id string) (*approverRec, error) {
	rec, ok := e.st.Approvers[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no approver %s (foureyes approver list shows them)", id)
	}
	return rec, nil
}

// secretRead is an approver's secret, read from the keyring before the engine's lock is taken:
// a keyring call can take a while (D-Bus, an unlock prompt) and must not stall every other
// caller, the tray and the bridge included.
type secretRead struct {
	rec    *approverRec // the record the secret was read for; re-enrolment replaces the record
	read   bool         // false: not read (no such approver, or throttled at the time)
	secret string
	err    error
}

// readSecret reads approver id's secret, unless the approver is throttled or disabled: a refused
// attempt should not reach the keyring (and its unlock prompt) at all. Callers do not hold mu.
func (e *Engine) readSecret(id string) secretRead {
	var rec *approverRec
	var throttled bool
	e.locked(func() {
		rec = e.st.Approvers[id]
		throttled = rec != nil && rec.Throttle.Check(e.clock.Now()) != nil
		// The OTP server checks this approver's codes: there is no seed to read.
		throttled = throttled || (rec != nil && e.usesRemote(rec))
	})
	if rec == nil || throttled {
		return secretRead{}
	}
	secret, err := e.opts.Store.Get(custody.ApproverKey(id))
	return secretRead{rec: rec, read: true, secret: secret, err: err}
}

// checkCode runs the code rules for rec inside t: the approver's new record is applied and
// persisted whatever the outcome, and failures are recorded (a replay and a lock-out as
// alarms). A refused code answers through t.refuse, so those changes are committed. Callers
// hold mu.
func (e *Engine) checkCode(t *tx, rec *approverRec, sec secretRead, code string, fields map[string]any) error {
	if e.usesRemote(rec) {
		return e.checkRemoteCode(t, rec, code, fields)
	}
	secret, err := sec.secret, sec.err
	if ref := rec.Throttle.Check(t.now); ref != nil {
		ref.Facts.Approver = rec.ID
		return e.explain(ref)
	}
	if !sec.read || sec.rec != rec {
		// Not read beforehand, or re-enrolled since (both rare): read it now, under the lock.
		secret, err = e.opts.Store.Get(custody.ApproverKey(rec.ID))
	}
	if err != nil {
		return e.keyringError(fmt.Sprintf("reading approver %s's secret", rec.ID), err)
	}
	if e.keyringErr != nil {
		// The secret was read, so the keyring is back: status says so now, not at the next
		// check a minute later.
		e.keyringErr = nil
		t.notify(api.Event{Kind: api.EventStatus, Message: "keyring state changed"})
	}
	na, out, ref, err := rules.CheckCode(e.cfg, rec.rules(), secret, code, t.now)
	if err != nil {
		return fmt.Errorf("computing codes for approver %s: %w", rec.ID, err)
	}
	return e.codeOutcome(t, rec, na, out, ref, fields)
}
