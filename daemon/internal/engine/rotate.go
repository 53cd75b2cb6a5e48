package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/platforms"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/textclip"
)

// A rotation changes an account's password on the platform to one the daemon generated, so no
// person ever knows it. The new password waits in the keyring beside the current one until the
// platform confirms the change; a rotation never loses the only working password.

// passwordAlphabet avoids characters some platforms refuse or that look alike.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.!"

// NewPasswordLength gives 24 × log2(61) ≈ 142 bits, within every platform's limits (X and
// Mastodon take 8 to 72 or more characters).
const NewPasswordLength = 24

// newPassword returns a fresh random password with a lower-case and an upper-case letter, a
// digit and a symbol, which every platform's rules accept.
func newPassword() (string, error) {
	for {
		b := make([]byte, NewPasswordLength)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("generating a password: %w", err)
		}
		out := make([]byte, len(b))
		var lower, upper, digit, symbol bool
		for i, c := range b {
			// Rejection sampling keeps every character equally likely.
			for int(c) >= 256/len(passwordAlphabet)*len(passwordAlphabet) {
				var one [1]byte
				if _, err := rand.Read(one[:]); err != nil {
					return "", fmt.Errorf("generating a password: %w", err)
				}
				c = one[0]
			}
			ch := passwordAlphabet[int(c)%len(passwordAlphabet)]
			out[i] = ch
			switch {
			case ch >= 'a' && ch <= 'z':
				lower = true
			case ch >= 'A' && ch <= 'Z':
				upper = true
			case ch >= '0' && ch <= '9':
				digit = true
			default:
				symbol = true
			}
		}
		if lower && upper && digit && symbol {
			return string(out), nil
		}
	}
}

func (v *ownerView) RotateAccount(ctx context.Context, id string) (api.Request, error) {
	e := v.e
	pw, err := newPassword()
	if err != nil {
		return api.Request{}, err
	}
	var out api.Request
	err = e.run(v.c, func(t *tx) error {
		if err := e.policyOK(); err != nil {
			return err
		}
		acc, err := e.account(id)
		if err != nil {
			return err
		}
		if d := rules.AccountUsable(acc.ID, acc.Unverified); !d.Allowed() {
			t.decided(d, map[string]any{"account": acc.ID, "requester": v.c.OSUser, "reason": string(d.Refusal.Code)})
			return t.refuse(d.Refusal)
		}
		if err := rotatable(acc.Platform); err != nil {
			return err
		}
		if acc.RotationPending {
			return api.Errorf(api.CodeExists, "a rotation of %s is under way or unconfirmed: wait for it, or settle it with foureyes account passwd %s --password-stdin", id, id)
		}
		text := fmt.Sprintf("Change the password of %s on %s to a new one foureyes generated (nobody will see it).", id, acc.Platform)
		in := rules.RequestInput{Account: id, Text: text}
		open := rules.CountOpen(maps.Values(e.requests), v.c.OSUser, t.now)
		r, d := rules.NewRotation(e.cfg, freshID(e.requests, "r", 6), v.c.OSUser, in, digest.Sum(text), digest.Canonical(text), open, t.now)
		if !d.Allowed() {
			return e.explain(d.Refusal)
		}
		store := e.opts.Store
		t.onUndo(func() { custody.DeleteLater(store, custody.AccountNextPasswordKey(id)) })
		if err := store.Set(custody.AccountNextPasswordKey(id), pw); err != nil {
			return e.keyringError("storing the new password in the OS keyring", err)
		}
		set(t, &acc.RotationPending, true)
		put(t, e.requests, r.ID, &r)
		t.persist()
		t.decided(d, map[string]any{"request_id": r.ID, "account": r.Account, "action": r.Action, "digest": r.Digest,
			"requester": r.Requester, "text": r.Text, "transport": v.c.Via})
		out = *requestOut(&r)
		t.notify(api.Event{Kind: api.EventRequest, Request: requestOut(&r)})
		return nil
	})
	return out, err
}

// ReleaseRotation hands out the current and the new password of a rotate session (the new one
// generated when the rotation was asked for), or after a posting session of a one_time account
// ended (the new one generated here and kept beside the current one until the outcome comes).
func (v *staffView) ReleaseRotation(ctx context.Context, ask api.CredentialAsk) (api.Rotation, error) {
	e := v.e
	store := e.opts.Store
	var cur, next, username string
	var stored bool // next is the rotate session's, from the keyring; else generated here
	var out api.Rotation
	rule := func(s rules.Session, account, host string, hosts []string, now time.Time) (rules.Session, rules.Decision) {
		if s.Action == api.ActionRotate {
			return rules.CanReleaseRotation(s, account, host, hosts, now)
		}
		ot := rules.OneTime{On: e.custodyFor(s.Account) == policy.CustodyOneTime}
		if acc, ok := e.st.Accounts[s.Account]; ok {
			ot.Pending = acc.RotationPending
		}
		return rules.CanReleaseAfterSession(s, ot, account, host, hosts, now)
	}
	err := e.release(v.c, ask, "rotate", rule, func(acc api.Account) error {
		username = acc.Username
		var err error
		if cur, err = store.Get(custody.AccountPasswordKey(ask.Account)); err != nil {
			return e.lockedKeyringError("reading the account's password from the OS keyring", err)
		}
		if stored = acc.RotationPending; !stored {
			next, err = newPassword()
			return err
		}
		if next, err = store.Get(custody.AccountNextPasswordKey(ask.Account)); err != nil {
			return e.lockedKeyringError("reading the new password from the OS keyring", err)
		}
		return nil
	}, func(t *tx, f map[string]any) error {
		s := e.sessions[ask.SessionID]
		if s == nil {
			return api.Errorf(api.CodeNotFound, "session %s is gone", ask.SessionID)
		}
		if s.Action != api.ActionRotate {
			acc, err := e.account(s.Account)
			if err != nil {
				return err
			}
			if stored || acc.RotationPending {
				return api.Errorf(api.CodeExists, "another rotation of %s began meanwhile: the password stays as it is", s.Account)
			}
			f["reason"] = "after_session"
			key := custody.AccountNextPasswordKey(s.Account)
			t.onUndo(func() { custody.DeleteLater(store, key) })
			if err := store.Set(key, next); err != nil {
				return e.keyringError("storing the new password in the OS keyring", err)
			}
			set(t, &acc.RotationPending, true)
			t.persist()
		} else if !stored {
			return api.Errorf(api.CodeNotFound, "the new password of the rotation of %s is not in the OS keyring: ask for the rotation again (foureyes account rotate %s)", s.Account, s.Account)
		}
		out = api.Rotation{Username: username, Password: cur, NewPassword: next}
		return nil
	})
	if err != nil {
		return api.Rotation{}, err
	}
	return out, nil
}

func (v *staffView) ReportRotated(ctx context.Context, r api.Rotated) error {
	e := v.e
	var next string
	var nextErr error
	if r.OK {
		// Read before the lock; the rules decide under it.
		next, nextErr = e.opts.Store.Get(custody.AccountNextPasswordKey(r.Account))
	}
	return e.run(v.c, func(t *tx) error {
		s, err := e.heldSession(t, r.SessionID)
		if err != nil {
			return err
		}
		ns, d := rules.Rotated(*s, r.Account, r.OK)
		f := map[string]any{"session_id": s.ID, "account": s.Account, "host": textclip.Clip(r.Host, 253), "requester": s.Requester}
		if s.Action != api.ActionRotate {
			f["reason"] = "after_session"
		}
		if r.Error != "" {
			f["error"] = textclip.Clip(r.Error, 1024)
		}
		if !d.Allowed() {
			f["reason"] = d.Refusal.Reason
			t.decided(d, f)
			return t.refuse(d.Refusal)
		}
		acc, err := e.account(s.Account)
		if err != nil {
			return err
		}
		store := e.opts.Store
		set(t, s, ns)
		set(t, &acc.RotationPending, false)
		if r.OK {
			if nextErr != nil {
				return e.keyringError("reading the new password from the OS keyring (the platform has it now: the old one stays stored until this is settled)", nextErr)
			}
			old, err := store.Get(custody.AccountPasswordKey(s.Account))
			if err != nil && !errors.Is(err, custody.ErrNotFound) {
				return e.keyringError("reading the current password from the OS keyring", err)
			}
			t.onUndo(func() { custody.SetLater(store, custody.AccountPasswordKey(s.Account), old) })
			if err := store.Set(custody.AccountPasswordKey(s.Account), next); err != nil {
				return e.keyringError("storing the new password in the OS keyring", err)
			}
			set(t, &acc.PasswordChanged, t.now)
		}
		// The spare goes once the change is recorded: after a success it is the current
		// password, after a failure the platform never took it.
		t.afterCommit(func() error {
			if err := store.Delete(custody.AccountNextPasswordKey(s.Account)); err != nil && !errors.Is(err, custody.ErrNotFound) {
				return e.keyringError("the rotation is recorded, but the spare password could not be removed from the OS keyring (it is not used)", err)
			}
			return nil
		})
		t.persist()
		t.decided(d, f)
		t.notify(api.Event{Kind: api.EventSession, Session: sessionOut(s)})
		return nil
	})
}

// rotatable refuses a rotation on a platform whose change-password form the platform table does
// not describe (no "password" entry): the extension would have no form to fill. Bluesky, for
// one, changes a password only with a code it e-mails to the account's address.
func rotatable(platform string) error {
	p, ok := platforms.Get(platform)
	if ok && p.Rotatable {
		return nil
	}
	name := platform
	if ok {
		name = p.Name
	}
	return api.Errorf(api.CodeBadRequest, "foureyes cannot change passwords on %s: the platform table describes no change-password form for it. Change the password on the platform by hand, then store it with foureyes account passwd ACCOUNT --password-stdin", name)
}

// Rotatable is rotatable for the CLI, which checks before it takes an account into custody
// with --generate.
func Rotatable(platform string) error { return rotatable(platform) }
