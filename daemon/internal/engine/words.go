package engine

import (
	"fmt"
	"math"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/rules"
)

// explain words a rule's refusal for the people who read it (the CLI prints it, the tray shows
// it; the extension words codes itself). Times are shown in the policy's time zone, never the
// process's. Callers hold mu (e.loc).
func (e *Engine) explain(ref *rules.Refusal) *api.Error {
	f := ref.Facts
	at := func(t time.Time, layout string) string {
		loc := e.loc
		if loc == nil {
			loc = time.UTC
		}
		return t.In(loc).Format(layout + " MST")
	}
	var msg string
	switch ref.Code {
	case api.CodeBadRequest:
		msg = badRequest(ref.Reason, f)
		if ref.Reason == "author_mark" && e.pol != nil && e.pol.AuthorMark != nil && e.pol.AuthorMark.Hint != "" {
			msg = "the text lacks the required author mark: " + e.pol.AuthorMark.Hint
		}
	case api.CodeBadCode:
		if ref.Reason == "malformed" {
			msg = "the code must be the 6 digits shown in the approver's authenticator app"
		} else {
			msg = fmt.Sprintf("wrong code for approver %s: check the app shows the account %q and the phone's clock is right", f.Approver, f.Approver)
		}
	case api.CodeReplayed:
		msg = "this code was already used (each code counts once, the one that confirmed the enrolment too): wait for the next code in the authenticator app"
		if wait := int(math.Ceil(f.At.Sub(e.clock.Now()).Seconds())); !f.At.IsZero() && wait > 0 && wait <= rules.StepSeconds {
			msg = fmt.Sprintf("this code was already used (each code counts once, the one that confirmed the enrolment too): the app shows a new code in %d seconds, use that one", wait)
		}
	case api.CodeThrottled:
		if ref.Reason == "disabled" {
			msg = "this approver is disabled after too many wrong codes in a row: an administrator must re-enrol them with a new secret (foureyes approver enroll ID --name NAME)"
		} else {
			until := f.At
			return &api.Error{Code: ref.Code, Until: &until, Err: ref,
				Message: "too many wrong codes for this approver: try again after " + at(f.At, "15:04:05")}
		}
	case api.CodeNotConfirmed:
		msg = fmt.Sprintf("approver %s has not confirmed enrolment yet: run foureyes approver confirm %s CODE", f.Approver, f.Approver)
	case api.CodeSelfApproval:
		msg = fmt.Sprintf("approver %s is the requester (%s): someone else must approve", f.Approver, f.Requester)
		if ref.Reason == "trust" {
			msg = fmt.Sprintf("approver %s is you (OS user %s): another approver must vouch for changes to who may approve", f.Approver, f.Requester)
		}
	case api.CodePrivateAccount:
		if ref.Reason == "gated_platform" {
			msg = fmt.Sprintf("the browser says it is signed in to the private account %s, but an official account on this platform stays signed in (gated custody), so every post here needs approval", f.Account)
		} else if ref.Reason == "inside_hours" {
			msg = fmt.Sprintf("the browser is signed in to the private account %s: the policy lets private posts through only outside posting hours", f.Account)
		} else {
			msg = fmt.Sprintf("the browser is signed in to the private account %s: the policy holds back posts from private accounts on this platform (sign in to it elsewhere, or sign out here)", f.Account)
		}
	case api.CodeSecondApprover:
		msg = secondApprover(ref.Reason, f)
	case api.CodeUnverified:
		if ref.Reason == "account" {
			msg = fmt.Sprintf("account %s is in the state file but the audit trail never saw it added: no request is taken for it until IT checks it and accepts it (foureyes account accept %s --by APPROVER, then that approver's code at the prompt)", f.Account, f.Account)
		} else {
			msg = fmt.Sprintf("approver %s is in the state file but the audit trail never saw them enrolled and confirmed: they approve nothing until IT checks and accepts them (foureyes approver accept %s --by APPROVER, then that approver's code at the prompt)", f.Approver, f.Approver)
		}
	case api.CodeAlreadyApproved:
		msg = fmt.Sprintf("approver %s has already approved this request: a second, different approver is needed", f.Approver)
	case api.CodeNotAuthorised:
		msg = fmt.Sprintf("approver %s is not authorised for %s by the policy", f.Approver, f.Account)
	case api.CodeOutsideHours:
		msg = "posting is not allowed outside the posting hours set by the policy"
		if !f.At.IsZero() {
			msg += "; they begin again at " + at(f.At, "Mon 15:04")
		}
	case api.CodeExpired:
		if ref.Reason == "rotation_late" {
			msg = fmt.Sprintf("the posting session on %s ended too long ago (its time ran out at %s) for the password change custody one_time makes after it: the password stays as it is", f.Account, at(f.At, "15:04:05"))
		} else if ref.Reason == "session" {
			msg = "the posting session expired at " + at(f.At, "15:04:05") + ": ask for approval again"
		} else {
			msg = fmt.Sprintf("request %s expired at %s: ask for approval again", f.Request, at(f.At, "15:04"))
		}
	case api.CodeExists:
		if ref.Reason == "rotation_pending" {
			msg = fmt.Sprintf("a rotation of %s is under way or unconfirmed: the password stays as it is after this posting session (settle it with foureyes account passwd %s --password-stdin)", f.Account, f.Account)
		}
	case api.CodeDenied:
		msg = fmt.Sprintf("request %s was denied by an approver", f.Request)
	case api.CodeLocked:
		if ref.Reason == "session" {
			msg = "the posting session was revoked (Lock now, or its approver or account was removed): ask for approval again"
		} else {
			msg = fmt.Sprintf("request %s was revoked (Lock now, or its approver or account was removed)", f.Request)
		}
	case api.CodeAlreadyUsed:
		switch ref.Reason {
		case "session_spent":
			msg = "the posting session was already used: each approval allows one post"
		case "reported_twice":
			msg = "what went out under this session was already reported (one session, one publish): this second report is recorded as an alarm"
		case "released":
			msg = "the account's credentials were already handed out for this posting session (once per session): this second ask is recorded as an alarm; ask for a new approval to sign in again"
		default:
			msg = fmt.Sprintf("request %s is already %s", f.Request, f.State)
		}
	case api.CodeScopeMismatch:
		switch ref.Reason {
		case "release_host":
			msg = fmt.Sprintf("the credentials of %s go only to that platform's own sign-in page, not to %s: recorded as an alarm", f.Account, orNone(f.Value))
		case "not_rotation":
			msg = fmt.Sprintf("the posting session is a %s on %s, not a password change: a rotation needs its own approval (foureyes account rotate %s)", f.Action, f.Account, f.Account)
		case "not_one_time":
			msg = fmt.Sprintf("the custody of %s is not one_time: its password changes only with an approved rotation (foureyes account rotate %s)", f.Account, f.Account)
		case "release_account", "signout_account":
			msg = fmt.Sprintf("the posting session is for %s, not %s: recorded as an alarm", f.Account, orNone(f.UsedAccount))
		}
		if msg != "" {
			break
		}
		msg = fmt.Sprintf("the posting session was approved for a %s on %s, not a %s on %s: ask for approval of this one",
			f.Action, f.Account, orNone(f.UsedAction), orNone(f.UsedAccount))
	case api.CodeDigestMismatch:
		switch ref.Reason {
		case "canonical_form":
			msg = "the text's digest does not match the digest sent with it: the two sides canonicalised the text differently"
		case "published_other":
			msg = "what was published is not the approved text: this is recorded as an alarm"
		case "manifest":
			msg = "the post's manifest digest does not match the one sent with it: the two sides described the attachments or the answered post differently"
		case "manifest_mismatch":
			msg = "the attachments or the post being answered are not the approved ones: this post needs a new approval"
		case "published_other_manifest":
			msg = "what was published is not the approved post (other attachments, or under another post): this is recorded as an alarm"
		default:
			msg = "the text is not the approved text: it was changed after approval, so it needs a new approval"
		}
	case api.CodeTooManyRequests:
		msg = fmt.Sprintf("%s already has %d open requests: cancel one or wait for it to be decided", f.Requester, f.Open)
	case api.CodeNotPermitted:
		switch ref.Reason {
		case "cancel_other":
			msg = fmt.Sprintf("only %s, who asked, can cancel request %s", f.Requester, f.Request)
		case "session_other":
			msg = fmt.Sprintf("posting session %s is %s's: only the person who asked for the post can use it (this is recorded as an alarm)", f.Request, f.Requester)
		case "disabled":
			msg = "this approver is disabled after too many wrong codes in a row and cannot be unlocked: re-enrol them with a new secret (foureyes approver enroll ID --name NAME)"
		}
	}
	if msg == "" {
		msg = ref.Error()
	}
	return &api.Error{Code: ref.Code, Message: msg, Err: ref}
}

func badRequest(reason string, f rules.Facts) string {
	switch reason {
	case "platform_syntax":
		return fmt.Sprintf("platform %q is not a platform name such as x, mastodon, facebook", f.Value)
	case "handle_syntax":
		return fmt.Sprintf("handle %q must be the account's handle (no spaces or colons), e.g. @ministry", f.Value)
	case "username_missing":
		return "the login user name is missing"
	case "password_missing":
		return "the password is missing"
	case "seed_syntax":
		return "the platform's 2FA seed is not valid base32 (as shown under \"can't scan the code?\")"
	case "approver_id_syntax":
		return fmt.Sprintf("approver id %q must be lower-case letters, digits, dot, dash or underscore (e.g. anna.schmidt)", f.Value)
	case "session_open":
		return fmt.Sprintf("the posting session on %s is still open: custody one_time changes the password once it has ended", f.Account)
	case "not_signed_in":
		return fmt.Sprintf("foureyes did not sign the browser in to %s for this posting session: there is no password of it to change", f.Account)
	case "rotation_not_released":
		return "no passwords went out for this rotation: there is nothing to report"
	case "approver_name_missing":
		return "the approver's name is missing (--name)"
	case "approver_name_syntax":
		return fmt.Sprintf("the approver's name must be at most %d characters of text, without control characters", rules.MaxApproverName)
	case "unknown_action":
		return fmt.Sprintf("unknown action %q: use one of %s", f.Value, strings.Join(api.Actions, ", "))
	case "account_missing":
		return "the request names no account"
	case "blank":
		return "the text is empty: there is nothing to approve (for a repost, give the address of the post being reposted)"
	case "not_utf8":
		return "the text is not valid UTF-8: save it as UTF-8 and try again (nothing was changed, so the approver sees exactly what you sent)"
	case "too_long":
		return fmt.Sprintf("the text has %d characters, more than the %d that %s takes: shorten it", f.Open, f.Limit, f.Account)
	case "author_mark":
		return "the text lacks the required author mark (see the policy's author_mark)"
	case "manifest":
		return "the post's attachments or the post it answers cannot be checked (" + f.Value + "): nothing was asked"
	case "not_consumed":
		return fmt.Sprintf("the session was not opened for a publish (it is %s)", f.State)
	}
	return "bad request: " + reason
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// secondApprover words a refused change to who may approve.
func secondApprover(reason string, f rules.Facts) string {
	what := map[string]string{"enrol": "enrolling", "reenrol": "re-enrolling", "remove": "removing", "adopt": "accepting"}[f.Action]
	if what == "" {
		what = "changing"
	}
	switch reason {
	case "missing":
		return fmt.Sprintf("%s an approver needs the current code of another confirmed approver: add --by APPROVER and give their code at the prompt (only the very first approver is enrolled without one)", what)
	case "unknown":
		return fmt.Sprintf("there is no approver %s to vouch for this (foureyes approver list shows them)", f.Approver)
	case "same":
		return fmt.Sprintf("approver %s cannot vouch for a change to themselves: another confirmed approver must give their code", f.Approver)
	case "not_confirmed":
		return fmt.Sprintf("approver %s cannot vouch: only a confirmed approver that the audit trail knows can", f.Approver)
	case "none_confirmed":
		return fmt.Sprintf("%s an approver needs the current code of a confirmed approver, and none is confirmed yet: confirm the first approver's enrolment first (foureyes approver confirm ID, then the code at the prompt)", what)
	case "lost":
		return "the audit trail has approvers that the state file no longer has (removed by hand?): no first approver can be enrolled without a code; restore state.json from a backup, or ask IT"
	}
	return fmt.Sprintf("%s an approver needs another confirmed approver's code", what)
}
