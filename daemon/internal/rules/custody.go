package rules

import (
	"slices"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
)

// The posting session is a signed-in browser session: the extension signs the browser in with
// the account's credentials from the keyring, which the daemon hands out once per session, for
// that session's account, to that platform's own pages only.

// CanRelease decides whether s's account credentials may go to the extension for signing in on
// host. hosts are the platform's own hosts (for Mastodon, the account's instance). It is checked
// before any secret is read; a refusal for another account, another host or a second time is an
// alarm: nothing legitimate asks that.
func CanRelease(s Session, account, host string, hosts []string, now time.Time) (Session, Decision) {
	s, _ = ExpireSession(s, now)
	f := Facts{Account: s.Account, Action: s.Action, At: s.Expires, State: s.State, UsedAccount: account, Value: host}
	switch s.State {
	case Active:
	case Expired:
		return s, refused(api.CodeExpired, "session", f)
	case Revoked:
		return s, refused(api.CodeLocked, "session", f)
	default:
		return s, refused(api.CodeAlreadyUsed, "session_spent", f)
	}
	if account != s.Account {
		return s, alarm("credential_release_refused", api.CodeScopeMismatch, "release_account", f)
	}
	if !slices.Contains(hosts, strings.ToLower(host)) {
		return s, alarm("credential_release_refused", api.CodeScopeMismatch, "release_host", f)
	}
	if s.Released {
		return s, alarm("credential_release_refused", api.CodeAlreadyUsed, "released", f)
	}
	s.Released = true
	return s, allowed("credential_release")
}

// SignedOut records the extension's report that it signed the browser out after s: a failure
// is an alarm (the browser may still be signed in to the official account).
func SignedOut(s Session, account string, ok bool) Decision {
	if account != s.Account {
		return refused(api.CodeScopeMismatch, "signout_account", Facts{Account: s.Account, UsedAccount: account})
	}
	if !ok {
		return Decision{Event: "sign_out_failed", Severity: High}
	}
	return allowed("signed_out")
}
