package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/platforms"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/textclip"
)

var _ api.SignIn = (*staffView)(nil)

// signInHosts are the hosts where account's platform signs in: the platform table's hosts,
// and for Mastodon the instance named in the account id (@user@instance).
func signInHosts(acc *api.Account) []string {
	var hosts []string
	if p, ok := platforms.Get(acc.Platform); ok {
		hosts = append(hosts, p.Hosts...)
	}
	if acc.Platform == "mastodon" {
		if i := strings.LastIndexByte(acc.Handle, '@'); i > 0 && i < len(acc.Handle)-1 {
			hosts = append(hosts, strings.ToLower(acc.Handle[i+1:]))
		}
	}
	return hosts
}

// releaseRule decides whether a session's secrets may go out for account on host.
type releaseRule func(s rules.Session, account, host string, hosts []string, now time.Time) (rules.Session, rules.Decision)

// release hands out a session's secrets in two passes. The rule decides first, before any secret
// is read (a refused ask reaches no keyring); read then reads the secrets outside the lock (a
// keyring call can take a while); then the rule decides again under the lock and give records the
// release, so a session spent meanwhile releases nothing, and secrets whose release was not
// recorded are never handed out. Refusals are recorded in either pass (the alarms). what says
// what the secrets are for, in errors.
func (e *Engine) release(c api.Caller, ask api.CredentialAsk, what string, rule releaseRule,
	read func(acc api.Account) error, give func(t *tx, f map[string]any) error) error {
	pass := func(t *tx) (*rules.Session, *api.Account, rules.Session, rules.Decision, map[string]any, error) {
		s, err := e.heldSession(t, ask.SessionID)
		if err != nil {
			return nil, nil, rules.Session{}, rules.Decision{}, nil, err
		}
		acc, ok := e.st.Accounts[s.Account]
		if !ok {
			return nil, nil, rules.Session{}, rules.Decision{}, nil, api.Errorf(api.CodeNotFound, "account %s left custody: there is nothing to %s", s.Account, what)
		}
		ns, d := rule(*s, ask.Account, ask.Host, signInHosts(acc), t.now)
		f := map[string]any{"session_id": ask.SessionID, "account": s.Account, "asked_account": ask.Account,
			"host": textclip.Clip(ask.Host, 253), "requester": s.Requester}
		if !d.Allowed() {
			f["reason"] = d.Refusal.Reason
			t.decided(d, f)
			return nil, nil, rules.Session{}, rules.Decision{}, nil, t.refuse(d.Refusal)
		}
		return s, acc, ns, d, f, nil
	}
	var acc api.Account
	if err := e.run(c, func(t *tx) error {
		_, a, _, _, _, err := pass(t)
		if err == nil {
			acc = *a
		}
		return err
	}); err != nil {
		return err
	}
	if err := read(acc); err != nil {
		return err
	}
	return e.run(c, func(t *tx) error {
		s, _, ns, d, f, err := pass(t)
		if err != nil {
			return err
		}
		if err := give(t, f); err != nil {
			return err
		}
		set(t, s, ns)
		t.decided(d, f)
		return nil
	})
}

func (v *staffView) ReleaseCredentials(ctx context.Context, ask api.CredentialAsk) (api.Credentials, error) {
	e := v.e
	store := e.opts.Store
	var password, seed, username string
	var out api.Credentials
	err := e.release(v.c, ask, "sign in with", rules.CanRelease, func(acc api.Account) error {
		username = acc.Username
		var err error
		if password, err = store.Get(custody.AccountPasswordKey(ask.Account)); err != nil {
			return e.lockedKeyringError("reading the account's password from the OS keyring", err)
		}
		if acc.Has2FA {
			if seed, err = store.Get(custody.AccountTOTPKey(ask.Account)); err != nil {
				return e.lockedKeyringError("reading the account's two-factor seed from the OS keyring", err)
			}
		}
		return nil
	}, func(t *tx, f map[string]any) error {
		code := ""
		if seed != "" {
			var err error
			if code, err = platformCode(seed, t.now); err != nil {
				return err
			}
		}
		f["has_code"] = code != ""
		out = api.Credentials{Username: username, Password: password, Code: code}
		return nil
	})
	if err != nil {
		return api.Credentials{}, err // credentials not recorded as released are never handed out
	}
	return out, nil
}

// lockedKeyringError words a keyring failure outside the lock.
func (e *Engine) lockedKeyringError(what string, err error) error {
	if errors.Is(err, custody.ErrNotFound) {
		return api.Errorf(api.CodeNotFound, "%s: it is not there (foureyes account passwd sets it)", what)
	}
	var out error
	e.locked(func() { out = e.keyringError(what, err) })
	return out
}

// platformCode is the platform's own two-factor code at now, from the seed kept in the keyring
// (RFC 6238, 6 digits, 30 s: what X, Mastodon and the other platforms' authenticator set-ups use).
func platformCode(seed string, now time.Time) (string, error) {
	seed = strings.ToUpper(strings.Join(strings.Fields(seed), ""))
	code, err := totp.GenerateCodeCustom(seed, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", api.Errorf(api.CodeInternal, "computing the platform's two-factor code: the stored seed is not base32 (set it again with foureyes account add)")
	}
	return code, nil
}

func (v *staffView) ReportSignedOut(ctx context.Context, r api.SignOut) error {
	e := v.e
	return e.run(v.c, func(t *tx) error {
		s, err := e.heldSession(t, r.SessionID)
		if err != nil {
			return err
		}
		d := rules.SignedOut(*s, r.Account, r.OK)
		if !d.Allowed() {
			return e.explain(d.Refusal)
		}
		f := map[string]any{"session_id": s.ID, "account": s.Account, "host": textclip.Clip(r.Host, 253), "requester": s.Requester}
		if r.Error != "" {
			f["error"] = textclip.Clip(r.Error, 1024)
		}
		t.decided(d, f)
		// Custody one_time: the password should have changed before this sign-out; if it did
		// not, the trail says so.
		if sk, why := rules.RotationSkipped(*s, e.custodyFor(s.Account) == policy.CustodyOneTime); sk.Event != "" {
			t.decided(sk, map[string]any{"session_id": s.ID, "account": s.Account, "requester": s.Requester, "reason": why})
		}
		return nil
	})
}

func (v *staffView) AllowPrivatePost(ctx context.Context, p api.PrivatePost) error {
	e := v.e
	return e.run(v.c, func(t *tx) error {
		mode := policy.PrivateBlock // an invalid policy allows nothing
		if e.pol != nil {
			mode = e.pol.PrivateAccounts
		}
		gated := false
		for id, acc := range e.st.Accounts {
			if strings.EqualFold(acc.Platform, p.Platform) && e.custodyFor(id) == policy.CustodyGated {
				gated = true
			}
		}
		d := rules.PrivatePost(e.cfg, mode, textclip.Clip(p.Platform, 64), textclip.Clip(p.Handle, 256), gated, t.now)
		t.decided(d, map[string]any{"platform": textclip.Clip(p.Platform, 64), "host": textclip.Clip(p.Host, 253),
			"handle": textclip.Clip(p.Handle, 256), "requester": v.c.OSUser, "private_accounts": mode})
		if !d.Allowed() {
			return t.refuse(d.Refusal)
		}
		return nil
	})
}
