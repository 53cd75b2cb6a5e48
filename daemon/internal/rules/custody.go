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

// CanReleaseRotation decides whether the current and the new password of s's account may go to
// the extension for the platform's change-password form: a rotate session, its account, the
// platform's own host, once. Refusals for another account, host or a second time are alarms.
func CanReleaseRotation(s Session, account, host string, hosts []string, now time.Time) (Session, Decision) {
	if s.Action != api.ActionRotate {
		return s, refused(api.CodeScopeMismatch, "not_rotation", Facts{Account: s.Account, Action: s.Action, UsedAction: api.ActionRotate})
	}
	was := s.Released
	s.Released = s.RotationReleased
	ns, d := CanRelease(s, account, host, hosts, now)
	ns.Released, ns.RotationReleased = was, ns.Released
	if d.Event == "credential_release" {
		d.Event = "rotation_release"
	}
	return ns, d
}

// Rotated records the outcome of a rotation: once, for a rotate session whose passwords went
// out, or a posting session whose one_time change did (CanReleaseAfterSession). A failure is an
// alarm (the old password stays); success spends a rotate session.
func Rotated(s Session, account string, ok bool) (Session, Decision) {
	f := Facts{Account: s.Account, UsedAccount: account, Action: s.Action, State: s.State}
	switch {
	case s.Action != api.ActionRotate && !s.RotationReleased:
		return s, refused(api.CodeScopeMismatch, "not_rotation", f)
	case account != s.Account:
		return s, alarm("rotation_failed", api.CodeScopeMismatch, "release_account", f)
	case !s.RotationReleased:
		return s, refused(api.CodeBadRequest, "rotation_not_released", f)
	case s.RotationReported:
		return s, alarm("rotation_failed", api.CodeAlreadyUsed, "reported_twice", f)
	}
	s.RotationReported = true
	if s.State == Active {
		s.State = Consumed
	}
	if !ok {
		return s, Decision{Event: "rotation_failed", Severity: High}
	}
	return s, allowed("password_rotated")
}

// Private-account policies (policy.PrivateBlock and the others).
const (
	privateBlock             = "block"
	privateAllow             = "allow"
	privateAllowOutsideHours = "allow_outside_hours"
)

// PrivatePost decides whether a post from a private account (not one in custody) may go out
// on a governed platform without approval, by the policy's private_accounts mode. Outside
// posting hours means Within says no; without posting hours there is no "outside", so
// allow_outside_hours allows nothing. Every decision is recorded; a block is not an alarm (it is
// the rule doing its job).
//
// gated says an official account on that platform stays signed in (gated custody): then the
// browser may well be signed in to it, and the page's word for which account is signed in is
// not enough to let a post through without approval, so every post there needs one.
func PrivatePost(c Config, mode, platform, handle string, gated bool, now time.Time) Decision {
	f := Facts{Account: platform + ":" + handle, Value: mode}
	if gated && mode != privateBlock {
		return Decision{Event: "private_post_blocked", Severity: Info, Refusal: refuse(api.CodePrivateAccount, "gated_platform", f)}
	}
	switch mode {
	case privateAllow:
		return allowed("private_post_allowed")
	case privateAllowOutsideHours:
		if c.Within != nil && !c.Within(now) {
			return allowed("private_post_allowed")
		}
		return Decision{Event: "private_post_blocked", Severity: Info, Refusal: refuse(api.CodePrivateAccount, "inside_hours", f)}
	}
	return Decision{Event: "private_post_blocked", Severity: Info, Refusal: refuse(api.CodePrivateAccount, "blocked", f)}
}

// AfterSessionGrace is how long after a posting session's time runs out its one_time rotation
// may still be released: the extension changes the password as soon as the session ends, so a
// later ask is not the browser that was signed in.
const AfterSessionGrace = 5 * time.Minute

// OneTime is what custody one_time needs to know about a session's account beyond the session.
type OneTime struct {
	// On: the account's custody is one_time under the policy in force.
	On bool
	// Pending: another rotation of the account waits (foureyes account rotate) with its own new
	// password in the keyring.
	Pending bool
}

// CanReleaseAfterSession decides whether the current and a new password of s's account may go
// to the extension to change the password after the posting session s ended (custody
// one_time): s signed the browser in (its credentials went out), it has ended, within
// AfterSessionGrace of its time, its account and the platform's own host, once. Refusals for
// another account, another host or a second time are alarms, as for a rotate session.
func CanReleaseAfterSession(s Session, ot OneTime, account, host string, hosts []string, now time.Time) (Session, Decision) {
	s, _ = ExpireSession(s, now)
	f := Facts{Account: s.Account, Action: s.Action, At: s.Expires, State: s.State, UsedAccount: account, Value: host}
	switch {
	case s.Action == api.ActionRotate:
		return CanReleaseRotation(s, account, host, hosts, now)
	case !ot.On:
		return s, refused(api.CodeScopeMismatch, "not_one_time", f)
	case account != s.Account:
		return s, alarm("credential_release_refused", api.CodeScopeMismatch, "release_account", f)
	case !slices.Contains(hosts, strings.ToLower(host)):
		return s, alarm("credential_release_refused", api.CodeScopeMismatch, "release_host", f)
	case s.RotationReleased:
		return s, alarm("credential_release_refused", api.CodeAlreadyUsed, "released", f)
	case s.State == Active:
		return s, refused(api.CodeBadRequest, "session_open", f)
	case !s.Released:
		return s, refused(api.CodeBadRequest, "not_signed_in", f)
	case now.After(s.Expires.Add(AfterSessionGrace)):
		return s, refused(api.CodeExpired, "rotation_late", f)
	case ot.Pending:
		return s, refused(api.CodeExists, "rotation_pending", f)
	}
	s.RotationReleased = true
	return s, allowed("rotation_release")
}

// RotationSkipped says, when the extension reports the sign-out after a posting session s of
// a one_time account, whether the password change that should have come first did not: the
// trail must say so (high severity). reason is why: "not_signed_in" (foureyes never signed
// the browser in for s, so it had no password to change), "not_released" (the change was not
// asked for or refused), "not_reported" (no outcome came back). A rotate session, or one whose
// outcome came back (changed or failed), gives no event.
func RotationSkipped(s Session, oneTime bool) (Decision, string) {
	if !oneTime || s.Action == api.ActionRotate || s.RotationReported {
		return Decision{}, ""
	}
	reason := "not_reported"
	switch {
	case !s.Released:
		reason = "not_signed_in"
	case !s.RotationReleased:
		reason = "not_released"
	}
	return Decision{Event: "rotation_skipped", Severity: High}, reason
}
