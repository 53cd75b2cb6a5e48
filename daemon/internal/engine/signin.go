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

func (v *staffView) ReleaseCredentials(ctx context.Context, ask api.CredentialAsk) (api.Credentials, error) {
	e := v.e
	// The rules decide first, without a secret; the secrets are read outside the lock; then the
	// release is decided again and recorded, so a session spent meanwhile releases nothing.
	check := func(t *tx) (*rules.Session, *api.Account, rules.Decision, error) {
		s, err := e.session(ask.SessionID)
		if err != nil {
			return nil, nil, rules.Decision{}, err
		}
		acc, ok := e.st.Accounts[s.Account]
		if !ok {
			return nil, nil, rules.Decision{}, api.Errorf(api.CodeNotFound, "account %s left custody: there is nothing to sign in with", s.Account)
		}
		// Decided on a copy: only the second pass marks the session released.
		_, d := rules.CanRelease(*s, ask.Account, ask.Host, signInHosts(acc), t.now)
		return s, acc, d, nil
	}
	fields := func(s *rules.Session) map[string]any {
		return map[string]any{"session_id": ask.SessionID, "account": s.Account, "asked_account": ask.Account,
			"host": textclip.Clip(ask.Host, 253), "requester": s.Requester}
	}
	var username string
	var has2FA bool
	err := e.run(v.c, func(t *tx) error {
		s, acc, d, err := check(t)
		if err != nil {
			return err
		}
		if !d.Allowed() {
			f := fields(s)
			f["reason"] = d.Refusal.Reason
			t.decided(d, f)
			return t.refuse(d.Refusal)
		}
		username, has2FA = acc.Username, acc.Has2FA
		return nil
	})
	if err != nil {
		return api.Credentials{}, err
	}
	store := e.opts.Store
	password, err := store.Get(custody.AccountPasswordKey(ask.Account))
	if err != nil {
		return api.Credentials{}, e.lockedKeyringError("reading the account's password from the OS keyring", err)
	}
	var seed string
	if has2FA {
		if seed, err = store.Get(custody.AccountTOTPKey(ask.Account)); err != nil {
			return api.Credentials{}, e.lockedKeyringError("reading the account's two-factor seed from the OS keyring", err)
		}
	}
	var out api.Credentials
	err = e.run(v.c, func(t *tx) error {
		s, _, d, err := check(t)
		if err != nil {
			return err
		}
		if !d.Allowed() {
			f := fields(s)
			f["reason"] = d.Refusal.Reason
			t.decided(d, f)
			return t.refuse(d.Refusal)
		}
		code := ""
		if seed != "" {
			if code, err = platformCode(seed, t.now); err != nil {
				return err
			}
		}
		set(t, &s.Released, true)
		f := fields(s)
		f["has_code"] = code != ""
		t.decided(d, f)
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
		s, err := e.session(r.SessionID)
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
