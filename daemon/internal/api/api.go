// Package api is the contract between the engine and every transport (admin socket, WebSocket
// bridge, native-messaging host, tray): the request and result types, the stable error codes, and
// the [Backend] interface that both the in-process engine and the admin-socket client satisfy.
//
// A Backend is always bound to one caller. The engine hands out a Backend per caller
// (engine.For), and a transport decides who the caller is from the connection itself (peer
// credentials), never from a message. So splitting the daemon into a system service and per-user
// clients changes where the Backend lives, not what it means.
package api

import (
	"context"
	"time"

	"foureyes/daemon/internal/manifest"
)

// Actions a request may name. Policy decides which of them need approval.
const (
	ActionPost   = "post"
	ActionReply  = "reply"
	ActionQuote  = "quote"
	ActionRepost = "repost"
)

// ActionRotate is a session that changes an account's password on the platform to one the
// daemon generated. Only the owner starts one (foureyes account rotate); it publishes nothing,
// so it is not among [Actions].
const ActionRotate = "rotate"

// Actions lists every action the daemon knows, in display order.
var Actions = []string{ActionPost, ActionReply, ActionQuote, ActionRepost}

// Caller is who is asking, as established by the transport from the connection itself (peer
// credentials), never from a message. What the caller may do is not in here: it is the type of
// the value the engine hands out for it ([Staff] or [Backend]).
type Caller struct {
	OSUser string `json:"os_user"` // login name of the calling OS user
	UID    int    `json:"uid"`     // numeric user id (-1 where the OS has none)
	// Via names the transport, for the audit trail only ("admin", "bridge", "tray").
	Via string `json:"via"`
}

// Staff is what anyone who may ask for a post may do: request approval, hand over an approver's
// code, spend a session, report what happened, lock everything. The browser extension's bridge
// holds only this half: a web page beside it must never reach accounts or enrolment.
type Staff interface {
	Status(ctx context.Context) (Status, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	ListApprovers(ctx context.Context) ([]Approver, error)
	// OfferedApprovers lists the approvers worth offering the caller for a request on account:
	// confirmed, not disabled, not the caller, authorised by the policy.
	OfferedApprovers(ctx context.Context, account string) ([]Approver, error)

	CreateRequest(ctx context.Context, r NewRequest) (Request, error)
	ListRequests(ctx context.Context) ([]Request, error)
	Approve(ctx context.Context, requestID, approverID, code string) (Approval, error)
	Deny(ctx context.Context, requestID, approverID, code string) (Request, error)
	Cancel(ctx context.Context, requestID string) (Request, error)

	ListSessions(ctx context.Context) ([]Session, error)
	// Consume spends a session for one publish: u names the account and action being used, the
	// digest of the text and the manifest digest of the whole post. Exactly one caller wins.
	// Another account or action (scope_mismatch) or another text or post (digest_mismatch) is
	// refused and leaves the session unspent.
	Consume(ctx context.Context, u Use) (Session, error)
	// ReportPublished records what actually went out under a consumed session. A digest other
	// than the approved one is recorded as a high-severity alarm and answered with
	// digest_mismatch. The manifest digest (the whole post: attachments and answered post too)
	// must be the session's as well, or it is the same alarm.
	ReportPublished(ctx context.Context, sessionID, digest, manifestDigest string) error
	// ReportBlocked records that the extension held back an attempt to publish.
	ReportBlocked(ctx context.Context, b Blocked) error
	// ReportUnrecognised records that the network gate stopped a publishing request the page
	// gate did not hold back: the platform table no longer describes that page. At most one
	// line per tab, platform and host a minute; a refused line is no error.
	ReportUnrecognised(ctx context.Context, u Unrecognised) error
	// Lock revokes every open session and pending request at once.
	Lock(ctx context.Context, reason string) (LockResult, error)

	// Watch streams state-change events until ctx ends. The channel is closed then.
	Watch(ctx context.Context) (<-chan Event, error)
}

// Admin is what only the laptop's own user may do, over the admin socket or the tray: take
// accounts into custody, enrol approvers, allow extensions, and hand the native-messaging host
// its token for the bridge.
type Admin interface {
	AddAccount(ctx context.Context, a NewAccount) (Account, error)
	SetAccountPassword(ctx context.Context, id, password string) error
	// SetRadiusSecret stores the shared secret with the OTP server in the OS keyring.
	SetRadiusSecret(ctx context.Context, secret string) error
	RemoveAccount(ctx context.Context, id string) error

	// EnrollApprover creates (or, for an existing id, replaces) an approver's TOTP secret. The
	// approver stays pending until ConfirmApprover sees a first valid code.
	EnrollApprover(ctx context.Context, e NewApprover) (Enrollment, error)
	ConfirmApprover(ctx context.Context, id, code string) (Approver, error)
	// RemoveApprover removes an approver; removing a confirmed one needs another confirmed
	// approver's code (by), like enrolment.
	RemoveApprover(ctx context.Context, id string, by Authority) error
	// AcceptApprover and AcceptAccount take into use an approver or account found in the state
	// file without its line in the audit trail (Unverified), on another approver's code.
	AcceptApprover(ctx context.Context, id string, by Authority) (Approver, error)
	AcceptAccount(ctx context.Context, id string, by Authority) (Account, error)
	// RotateAccount asks for approval to change account id's password on the platform to one
	// the daemon generates; nobody ever sees it.
	RotateAccount(ctx context.Context, id string) (Request, error)
	// UnlockApprover clears an approver's throttle (an administrator's act, audited).
	UnlockApprover(ctx context.Context, id string) error

	// ExtensionAllowed records that a browser extension ID was allowed to reach the daemon
	// (the native-messaging host manifest was written for it).
	ExtensionAllowed(ctx context.Context, browser, id, manifest string) error
	// BridgeHello gives the native-messaging host a one-time token with which the extension at
	// origin may open the WebSocket bridge.
	BridgeHello(ctx context.Context, origin string) (BridgeHello, error)
	// ReloadPolicy reads the policy again and puts it in force (an invalid one refuses every
	// approval until it is fixed); the status says which is in force.
	ReloadPolicy(ctx context.Context) (Status, error)
}

// Backend is everything: what the laptop's own user holds, over the admin socket or the tray.
// Both the in-process engine and the admin-socket client satisfy it.
type Backend interface {
	Staff
	Admin
}

// BridgeHello is what the native-messaging host hands the extension: where the bridge listens,
// a one-time token for the WebSocket hello, and the key that verifies the daemon's grants.
type BridgeHello struct {
	Port      int       `json:"port"`
	Token     string    `json:"token"`
	DaemonKey string    `json:"daemon_key"`
	Expires   time.Time `json:"expires"`
}

// NewAccount is an official account to take into custody. Password and TOTPSeed go to the
// keyring and are never returned.
type NewAccount struct {
	Platform string `json:"platform"`
	Handle   string `json:"handle"`
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
	TOTPSeed string `json:"totp_seed,omitempty"`
}

// Account is an account's public metadata. ID is "platform:handle".
type Account struct {
	ID              string    `json:"id"`
	Platform        string    `json:"platform"`
	Handle          string    `json:"handle"`
	Username        string    `json:"username"`
	Has2FA          bool      `json:"has_2fa"`
	Added           time.Time `json:"added"`
	PasswordChanged time.Time `json:"password_changed"`
	// Unverified: in the state file without its account_added line in the audit trail (added
	// by hand); no request is taken for it until accepted (AcceptAccount).
	Unverified bool `json:"unverified,omitempty"`
	// RotationPending: a new password waits in the keyring beside the current one until the
	// platform confirms the change (or it fails, or IT settles it).
	RotationPending bool `json:"rotation_pending,omitempty"`
	// Custody is how the browser holds this account's sign-in, from the policy in force
	// (strict or gated); not stored.
	Custody string `json:"custody,omitempty"`
}

// NewApprover asks to enrol (or re-enrol) an approver.
type NewApprover struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	OSUser string `json:"os_user,omitempty"`
	// RadiusUser, when set, is the approver's user name on the organisation's OTP server: their
	// codes are checked there (approver_codes "radius") and no seed is created.
	RadiusUser string `json:"radius_user,omitempty"`
	// By vouches for the change: the current code of another confirmed approver. Only the
	// very first approver (the bootstrap) is enrolled without one.
	By Authority `json:"by,omitzero"`
}

// Authority is a confirmed approver's current code, given to authorise a change to who may
// approve (enrolment, re-enrolment, removal, accepting an unverified entry).
type Authority struct {
	Approver string `json:"approver,omitempty"`
	Code     string `json:"code,omitempty"`
}

// Enrollment is what the approver's phone needs: shown once, never stored outside the keyring.
type Enrollment struct {
	Approver Approver `json:"approver"`
	// URI is the otpauth:// key URI (it contains the secret: show it only to the approver).
	URI string `json:"uri"`
	// Secret is the base32 secret for manual entry.
	Secret string `json:"secret"`
}

// Approver is an enrolled person's public state.
type Approver struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	OSUser      string    `json:"os_user,omitempty"`
	RadiusUser  string    `json:"radius_user,omitempty"` // codes checked by the OTP server under this name
	Confirmed   bool      `json:"confirmed"`
	Enrolled    time.Time `json:"enrolled"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	Disabled    bool      `json:"disabled,omitempty"` // too many consecutive failures: needs unlock
	Failures    int       `json:"consecutive_failures"`
	// Unverified: in the state file without its enrolment in the audit trail (added by hand);
	// it approves nothing until accepted (AcceptApprover).
	Unverified bool `json:"unverified,omitempty"`
}

// NewRequest asks for approval of one exact text on one account.
type NewRequest struct {
	Account string `json:"account"`
	Action  string `json:"action"`
	Text    string `json:"text"`
	// Digest, when set, must equal the digest the daemon computes of Text (a check that both
	// sides canonicalised alike).
	Digest string `json:"digest,omitempty"`
	// Media and Target complete the post manifest (see package manifest): the attached files
	// in order and the post a reply, quote or repost answers. Both may be absent.
	Media  []manifest.Media `json:"media,omitempty"`
	Target *manifest.Target `json:"target,omitempty"`
	// ManifestDigest, when set, must equal the manifest digest the daemon computes.
	ManifestDigest string `json:"manifest_digest,omitempty"`
}

// Request states.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
	RequestExpired  = "expired"
	RequestCanceled = "cancelled"
	RequestRevoked  = "revoked"
)

// Request is a request for approval.
type Request struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Action  string `json:"action"`
	Text    string `json:"text"`
	Digest  string `json:"digest"`
	// ManifestDigest binds the whole post (manifest.Manifest.Digest): what the approver approves.
	ManifestDigest string           `json:"manifest_digest"`
	Media          []manifest.Media `json:"media,omitempty"`
	Target         *manifest.Target `json:"target,omitempty"`
	Requester      string           `json:"requester"`
	Created        time.Time        `json:"created"`
	Expires        time.Time        `json:"expires"`
	State          string           `json:"state"`
	// ApprovalsNeeded is 2 outside posting hours under the two-approver rule, else 1.
	ApprovalsNeeded int      `json:"approvals_needed"`
	ApprovedBy      []string `json:"approved_by,omitempty"`
	SessionID       string   `json:"session_id,omitempty"`
	// MediaToKeep lists the SHA-256 of each attached file the daemon's media store must still
	// receive (KeepMedia) before an approval can issue a session: set while the policy's
	// keep_media is on and the request is pending.
	MediaToKeep []string `json:"media_to_keep,omitempty"`
}

// Session states.
const (
	SessionActive   = "active"
	SessionConsumed = "consumed"
	SessionExpired  = "expired"
	SessionRevoked  = "revoked"
)

// Session is a one-time posting session.
type Session struct {
	ID        string `json:"id"`
	RequestID string `json:"request_id"`
	Account   string `json:"account"`
	Action    string `json:"action"`
	Digest    string `json:"digest"`
	// ManifestDigest is the approved whole post; Media and Target are what it holds, for
	// display (from the request).
	ManifestDigest string           `json:"manifest_digest"`
	Media          []manifest.Media `json:"media,omitempty"`
	Target         *manifest.Target `json:"target,omitempty"`
	Requester      string           `json:"requester"`
	ApprovedBy     []string         `json:"approved_by"`
	Issued         time.Time        `json:"issued"`
	Expires        time.Time        `json:"expires"`
	State          string           `json:"state"`
	// Published is set once what went out under the consumed session was reported.
	Published bool `json:"published,omitempty"`
}

// MediaKeeper is the part of the staff half only the browser bridge uses: the browser holds the
// attached files, the daemon keeps copies of them (policy keep_media).
type MediaKeeper interface {
	// KeepMedia hands over part of a file attached to the caller's pending request. Done is
	// true once the whole file is stored (its SHA-256 checked against the request's manifest).
	// Any error (media_not_kept) drops what was received of that file: send it again from
	// offset 0.
	KeepMedia(ctx context.Context, c MediaChunk) (done bool, err error)
}

// MediaChunk is Data, the bytes of an attached file from Offset on.
type MediaChunk struct {
	RequestID string
	SHA256    string
	Offset    int64
	Data      []byte
}

// Use is what a posting session is about to be spent on.
type Use struct {
	SessionID string `json:"session_id"`
	Account   string `json:"account"`
	Action    string `json:"action"`
	Digest    string `json:"digest"`
	// ManifestDigest is the digest of the whole post about to go out; it must be the session's.
	ManifestDigest string `json:"manifest_digest"`
}

// Approval is the answer to Approve: either a session, or a request still waiting for a second
// approver.
type Approval struct {
	Request Request  `json:"request"`
	Session *Session `json:"session,omitempty"`
}

// Blocked describes an attempt the extension held back.
type Blocked struct {
	Account string `json:"account,omitempty"`
	Host    string `json:"host"`
	Reason  string `json:"reason"`
	Digest  string `json:"digest,omitempty"`
}

// SignIn is what only the browser bridge offers the extension: the account's credentials for
// signing the browser in to a posting session's account, and the report that it signed out
// afterwards. The admin socket and the tray never serve it.
type SignIn interface {
	ReleaseCredentials(ctx context.Context, ask CredentialAsk) (Credentials, error)
	ReportSignedOut(ctx context.Context, r SignOut) error
	// ReleaseRotation hands out, once per rotate session, the current and the new password for
	// the platform's change-password form; ReportRotated says how it went.
	ReleaseRotation(ctx context.Context, ask CredentialAsk) (Rotation, error)
	ReportRotated(ctx context.Context, r Rotated) error
	// AllowPrivatePost decides, by the policy's private_accounts, whether a post from a private
	// account may go out without approval; nil means yes.
	AllowPrivatePost(ctx context.Context, p PrivatePost) error
}

// PrivatePost asks whether a post may go out from a private account the browser is signed in
// to on a governed platform (not an account in custody).
type PrivatePost struct {
	Platform string `json:"platform"`
	Host     string `json:"host"`
	Handle   string `json:"handle"` // as the page shows it, e.g. @someone
}

// Rotation is what the extension needs to change an account's password on the platform.
type Rotation struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	NewPassword string `json:"new_password"`
}

// Rotated reports the outcome of a password change on the platform. OK means the platform
// confirmed the new password; anything else keeps the old one.
type Rotated struct {
	SessionID string `json:"session_id"`
	Account   string `json:"account"`
	Host      string `json:"host"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// CredentialAsk asks for a session's account credentials, for the sign-in page on Host.
type CredentialAsk struct {
	SessionID string `json:"session_id"`
	Account   string `json:"account"`
	Host      string `json:"host"`
}

// Credentials sign the browser in: the user name and password from the keyring, and the
// platform's own current two-factor code (empty when the account has no seed). They are never
// logged, stored or shown.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Code     string `json:"code,omitempty"`
}

// SignOut reports the extension's sign-out after a session.
type SignOut struct {
	SessionID string `json:"session_id"`
	Account   string `json:"account"`
	Host      string `json:"host"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// Unrecognised describes a publishing request that only the network gate stopped.
type Unrecognised struct {
	Platform string `json:"platform"`       // platform id from the platform table
	Host     string `json:"host"`           // the page's host
	Method   string `json:"method"`         // of the stopped request
	Path     string `json:"path,omitempty"` // of the stopped request, without query
	Tab      string `json:"tab,omitempty"`  // the browser's tab id, for the rate limit
}

// LockResult counts what Lock revoked.
type LockResult struct {
	Sessions int `json:"sessions"`
	Requests int `json:"requests"`
}

// Status is the daemon's health at a glance.
type Status struct {
	Version      string    `json:"version"`
	PID          int       `json:"pid"`
	Started      time.Time `json:"started"`
	Home         string    `json:"home"`
	AuditLog     string    `json:"audit_log"`
	AuditHead    string    `json:"audit_head"`
	AuditSeq     uint64    `json:"audit_seq"`
	PolicySource string    `json:"policy_source"` // path, or "embedded default"
	PolicyError  string    `json:"policy_error,omitempty"`
	KeyringError string    `json:"keyring_error,omitempty"`
	AuditError   string    `json:"audit_error,omitempty"`
	// ForwardError says why audit events do not reach the system log, if they do not.
	ForwardError string `json:"forward_error,omitempty"`
	// BridgeError says why the browser bridge is not listening, if it is not.
	BridgeError     string `json:"bridge_error,omitempty"`
	Accounts        int    `json:"accounts"`
	Approvers       int    `json:"approvers"`
	PendingRequests int    `json:"pending_requests"`
	OpenSessions    int    `json:"open_sessions"`
	// Extensions counts the extension connections the bridge has now.
	Extensions int    `json:"extensions_connected"`
	BridgeAddr string `json:"bridge_addr,omitempty"`
}

// Problems lists what is wrong, one line each, for monitoring: an invalid policy, a keyring
// that cannot be used, an audit log that cannot be written, a bridge that is not listening,
// audit events that do not reach the system log. None: healthy.
func (s Status) Problems() []string {
	var out []string
	add := func(what, err, hint string) {
		if err != "" {
			out = append(out, what+": "+err+hint)
		}
	}
	add("policy invalid", s.PolicyError, " (fix it, then foureyes policy reload)")
	add("keyring unavailable", s.KeyringError, " (unlock it)")
	add("audit log cannot be written", s.AuditError, "")
	add("browser bridge down", s.BridgeError, "")
	add("system log forwarding failing", s.ForwardError, "")
	return out
}

// Event kinds sent to watchers.
const (
	EventRequest   = "request"   // a request was created or changed state
	EventSession   = "session"   // a session was issued or changed state
	EventPublished = "published" // a publish was reported
	EventBlocked   = "blocked"   // an attempt was held back
	EventThrottled = "throttled" // an approver hit the throttle
	EventLock      = "lock"      // everything was revoked
	EventStatus    = "status"    // health changed (policy, keyring, audit, approvers, accounts)
)

// Event is a change the tray and the bridge react to.
type Event struct {
	Kind     string    `json:"kind"`
	Time     time.Time `json:"time"`
	Request  *Request  `json:"request,omitempty"`
	Session  *Session  `json:"session,omitempty"`
	Approver string    `json:"approver,omitempty"`
	Message  string    `json:"message,omitempty"`
}
