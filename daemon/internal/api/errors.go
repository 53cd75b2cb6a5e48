package api

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable snake_case error code. The CLI, the admin socket, the WebSocket protocol and
// the extension all use the same codes; shared/protocol documents them.
type Code string

// The stable error codes. Never rename one: scripts and the extension match on them.
const (
	CodeBadCode              Code = "bad_code"               // the TOTP code is wrong
	CodeReplayed             Code = "replayed"               // the code was already used by this approver
	CodeSelfApproval         Code = "self_approval"          // approver is the requester
	CodeAlreadyApproved      Code = "already_approved"       // this approver has already approved this request
	CodeNotAuthorised        Code = "not_authorised"         // approver may not approve this account
	CodeThrottled            Code = "throttled"              // too many failed codes: wait
	CodeExpired              Code = "expired"                // request or session ran out of time
	CodeOutsideHours         Code = "outside_hours"          // policy refuses outside posting hours
	CodeAlreadyUsed          Code = "already_used"           // session already spent, or request already decided
	CodeLocked               Code = "locked"                 // revoked by "Lock now"
	CodeDenied               Code = "denied"                 // an approver denied the request
	CodeDigestMismatch       Code = "digest_mismatch"        // the text is not the approved text
	CodeScopeMismatch        Code = "scope_mismatch"         // the session was approved for another account or action
	CodeNoKeyring            Code = "no_keyring"             // no OS keyring reachable
	CodeKeyringLocked        Code = "keyring_locked"         // keyring present but locked
	CodeAuditUnavailable     Code = "audit_unavailable"      // the audit log cannot be written
	CodeInvalidPolicy        Code = "invalid_policy"         // the policy in force is invalid
	CodeNotFound             Code = "not_found"              // no such request, session, approver, account
	CodeExists               Code = "exists"                 // already there
	CodeNotConfirmed         Code = "not_confirmed"          // approver has not confirmed enrolment
	CodeTooManyRequests      Code = "too_many_requests"      // requester has too many open requests
	CodeBadRequest           Code = "bad_request"            // malformed or missing input
	CodeNotPermitted         Code = "not_permitted"          // caller may not do this over this transport
	CodeForbidden            Code = "forbidden"              // transport refused the caller (origin, token)
	CodeTooLarge             Code = "too_large"              // message over the size limit
	CodeUnsupported          Code = "unsupported"            // unknown message type or protocol version
	CodeDaemonUnavailable    Code = "daemon_unavailable"     // the daemon is not running or not reachable
	CodeSecondApprover       Code = "second_approver"        // a change to who may approve needs another approver's code
	CodeUnverified           Code = "unverified"             // in the state file but not in the audit trail: IT must accept it
	CodeBridgeDown           Code = "bridge_down"            // the daemon runs, but its browser bridge is not listening (port held by another program)
	CodePrivateAccount       Code = "private_account"        // the policy holds back posts from private accounts on governed platforms
	CodeCodeCheckUnavailable Code = "code_check_unavailable" // the OTP server (RADIUS) gave no answer that counts
	CodeMediaNotKept         Code = "media_not_kept"         // keep_media: a copy of an attached file is not (or cannot be) in the daemon's store
	CodeInternal             Code = "internal"               // a bug: please report it
)

// Error is an error with a stable code and a message meant for people.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Until is set for throttled: when the approver may try again.
	Until *time.Time `json:"until,omitempty"`
	Err   error      `json:"-"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: X}) match on the code alone.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code && t.Message == ""
	}
	return false
}

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// E is a bare code, for errors.Is: errors.Is(err, api.E(api.CodeReplayed)).
func E(code Code) *Error { return &Error{Code: code} }

// CodeOf reports the stable code of err: its own if it carries one, else internal.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError converts any error to an *Error, keeping a code it carries.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error(), Err: err}
}
