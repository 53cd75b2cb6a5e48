package engine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/platforms"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
)

func (v *ownerView) AddAccount(ctx context.Context, a api.NewAccount) (api.Account, error) {
	e := v.e
	in, id, ref := rules.CheckAccount(rules.AccountInput{Platform: a.Platform, Handle: a.Handle,
		Username: a.Username, Password: a.Password, TOTPSeed: a.TOTPSeed})
	if ref != nil {
		return api.Account{}, e.explain(ref)
	}
	// Only a platform the extension governs: an account on any other could be published to
	// without a session.
	if err := platforms.Governed(in.Platform); err != nil {
		return api.Account{}, err
	}
	var out api.Account
	err := e.run(v.c, func(t *tx) error {
		if _, ok := e.st.Accounts[id]; ok {
			return api.Errorf(api.CodeExists, "account %s is already in custody: use foureyes account passwd to change its password", id)
		}
		store := e.opts.Store
		// The undo is registered first: a write that times out may still happen, and the undo,
		// queued behind it, removes it again.
		t.onUndo(func() { custody.DeleteLater(store, custody.AccountPasswordKey(id)) })
		if err := store.Set(custody.AccountPasswordKey(id), in.Password); err != nil {
			return e.keyringError("storing the password in the OS keyring", err)
		}
		if in.TOTPSeed != "" {
			t.onUndo(func() { custody.DeleteLater(store, custody.AccountTOTPKey(id)) })
			if err := store.Set(custody.AccountTOTPKey(id), in.TOTPSeed); err != nil {
				return e.keyringError("storing the 2FA seed in the OS keyring", err)
			}
		}
		acc := &api.Account{ID: id, Platform: in.Platform, Handle: in.Handle, Username: in.Username,
			Has2FA: in.TOTPSeed != "", Added: t.now, PasswordChanged: t.now}
		put(t, e.st.Accounts, id, acc)
		t.persist()
		t.record("account_added", rules.Info, map[string]any{
			"account": id, "platform": in.Platform, "username": acc.Username, "has_2fa": acc.Has2FA})
		t.notify(api.Event{Kind: api.EventStatus, Message: "account added"})
		out = *acc
		return nil
	})
	return out, err
}

func (v *ownerView) SetAccountPassword(ctx context.Context, id, password string) error {
	e := v.e
	if ref := rules.CheckPassword(password); ref != nil {
		return e.explain(ref)
	}
	return e.run(v.c, func(t *tx) error {
		acc, err := e.account(id)
		if err != nil {
			return err
		}
		store := e.opts.Store
		// Without the old password the change could not be undone: read it first.
		old, err := store.Get(custody.AccountPasswordKey(id))
		if err != nil && !errors.Is(err, custody.ErrNotFound) {
			return e.keyringError("reading the current password from the OS keyring", err)
		}
		if err == nil {
			t.onUndo(func() { custody.SetLater(store, custody.AccountPasswordKey(id), old) })
		} else {
			t.onUndo(func() { custody.DeleteLater(store, custody.AccountPasswordKey(id)) })
		}
		if err := store.Set(custody.AccountPasswordKey(id), password); err != nil {
			return e.keyringError("storing the new password in the OS keyring", err)
		}
		set(t, &acc.PasswordChanged, t.now)
		f := map[string]any{"account": id, "change": "password"}
		if acc.RotationPending {
			// Setting the password by hand settles an unconfirmed rotation: the spare goes.
			set(t, &acc.RotationPending, false)
			f["rotation_settled"] = true
			t.afterCommit(func() error {
				if err := store.Delete(custody.AccountNextPasswordKey(id)); err != nil && !errors.Is(err, custody.ErrNotFound) {
					return e.keyringError("the password is stored, but the spare one of the unconfirmed rotation could not be removed from the OS keyring (it is not used)", err)
				}
				return nil
			})
		}
		t.persist()
		t.record("account_changed", rules.Info, f)
		return nil
	})
}

func (v *staffView) ListAccounts(ctx context.Context) ([]api.Account, error) {
	e := v.e
	var out []api.Account
	err := e.run(v.c, func(t *tx) error {
		for _, a := range slices.SortedFunc(maps.Values(e.st.Accounts), func(a, b *api.Account) int { return strings.Compare(a.ID, b.ID) }) {
			acc := *a
			acc.Custody = e.custodyFor(a.ID)
			out = append(out, acc)
		}
		return nil
	})
	if out == nil {
		out = []api.Account{}
	}
	return out, err
}

func (v *ownerView) RemoveAccount(ctx context.Context, id string) error {
	e := v.e
	return e.run(v.c, func(t *tx) error {
		if _, err := e.account(id); err != nil {
			return err
		}
		// Requests and sessions for it end with it: only accounts in custody can be published to.
		n := e.withdraw(t, func(r *rules.Request) bool { return r.Account == id },
			func(s *rules.Session) bool { return s.Account == id }, "")
		del(t, e.st.Accounts, id)
		t.persist()
		t.record("account_removed", rules.Info, n.note(map[string]any{"account": id}))
		t.notify(api.Event{Kind: api.EventStatus, Message: "account removed"})
		// The secrets go once the removal stands: a removal undone keeps them.
		t.afterCommit(func() error {
			for _, k := range []string{custody.AccountPasswordKey(id), custody.AccountTOTPKey(id)} {
				if err := e.opts.Store.Delete(k); err != nil && !errors.Is(err, custody.ErrNotFound) {
					return e.keyringError("the account is removed, but its secrets could not be removed from the OS keyring (they are no longer used: remove them by hand with the keyring's own tool, e.g. Seahorse or secret-tool)", err)
				}
			}
			return nil
		})
		return nil
	})
}

// account finds an account in custody. Callers hold mu.
func (e *Engine) account(id string) (*api.Account, error) {
	acc, ok := e.st.Accounts[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no account %s in custody (foureyes account list shows them)", id)
	}
	return acc, nil
}

// withdrawn counts what a removal took back.
type withdrawn struct{ sessions, requests, approvals int }

// note adds the counts to an audit line's fields.
func (n withdrawn) note(f map[string]any) map[string]any {
	if n.sessions > 0 {
		f["sessions_revoked"] = n.sessions
	}
	if n.requests > 0 {
		f["requests_revoked"] = n.requests
	}
	if n.approvals > 0 {
		f["approvals_withdrawn"] = n.approvals
	}
	return f
}

// withdraw revokes the pending requests and active sessions that rest on something being
// removed, and (for an approver) takes their approvals off pending requests. Callers hold mu.
func (e *Engine) withdraw(t *tx, req func(*rules.Request) bool, sess func(*rules.Session) bool, approver string) withdrawn {
	var n withdrawn
	for _, r := range e.requests {
		if req != nil && req(r) {
			if nr, ok := rules.RevokeRequest(*r); ok {
				set(t, r, nr)
				n.requests++
				t.notify(api.Event{Kind: api.EventRequest, Request: requestOut(r)})
			}
		}
		if approver != "" {
			if nr, ok := rules.WithdrawApproval(*r, approver); ok {
				set(t, r, nr)
				n.approvals++
				t.notify(api.Event{Kind: api.EventRequest, Request: requestOut(r)})
			}
		}
	}
	for _, s := range e.sessions {
		if sess(s) {
			if ns, ok := rules.Revoke(*s); ok {
				set(t, s, ns)
				n.sessions++
				t.notify(api.Event{Kind: api.EventSession, Session: sessionOut(s)})
			}
		}
	}
	return n
}

// custodyFor is account's custody mode under the policy in force; strict when the policy is
// invalid (fail closed: signed out outside sessions). Callers hold mu.
func (e *Engine) custodyFor(account string) string {
	if e.pol == nil {
		return policy.CustodyStrict
	}
	return e.pol.CustodyFor(account)
}
