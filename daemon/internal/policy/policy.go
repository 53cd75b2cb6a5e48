// Package policy loads, validates and answers questions about the organisation's policy file: who
// may approve which account, posting hours, TTLs, throttling, the required author mark and the
// pinned extension IDs.
//
// Every key has a default, so the smallest valid policy is {"version":1}, which equals Default().
// A policy that exists but is invalid is an error, never a silent fallback: the daemon then
// refuses to issue sessions rather than run with rules IT did not write.
//
// shared/policy.schema.json describes the same keys for IT; a test keeps the two in step.
package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"foureyes/daemon/internal/platforms"
)

// Version is the policy format this build understands.
const Version = 1

// DefaultExtensionID is the Chrome/Edge extension ID of the project's own build, allowed by the
// default policy. Chromium derives it from the public key in extension/manifest.json, so the
// unpacked extension has it too.
const DefaultExtensionID = "khjidfhbpkegedbcgmbanfcppfhpdnkp"

// DefaultFirefoxExtensionID is the Firefox add-on ID of the project's own build.
const DefaultFirefoxExtensionID = "foureyes@foureyes.eu"

// DefaultBridgePort is the loopback port of the WebSocket bridge.
const DefaultBridgePort = 47321

// DefaultKeepMediaMaxBytes is the largest attached file the media store keeps a copy of unless
// the policy says otherwise: 100 MiB, above the platforms' image limits and most videos'.
const DefaultKeepMediaMaxBytes = 100 << 20

// MaxKeepMediaMaxBytes is the highest keep_media_max_bytes: the extension hashes files up to
// 1 GiB.
const MaxKeepMediaMaxBytes = 1 << 30

// AnyApprover in an approver list means any confirmed approver other than the requester.
const AnyApprover = "*"

// What posting hours demand outside the hours.
const (
	OutsideTwoApprovers = "two_approvers"
	OutsideRefuse       = "refuse"
)

// Policy is the organisation's rules. Treat a loaded Policy as read-only: it is shared.
type Policy struct {
	// Schema is the editor hint "$schema"; foureyes ignores its value.
	Schema string `json:"$schema,omitempty"`
	// Version is the format version; only 1 exists.
	Version int `json:"version"`
	// Description is free text for people (which policy this is, who owns it).
	Description string `json:"description,omitempty"`

	// Accounts maps an account id ("platform:handle") to its rules. Ids match regardless of the
	// case of ASCII letters.
	Accounts map[string]Account `json:"accounts"`
	// DefaultApprovers apply to accounts not listed in Accounts (or listed without approvers).
	DefaultApprovers []string `json:"default_approvers"`

	// PostingHours limits when a single approval suffices; nil means no limit.
	PostingHours *PostingHours `json:"posting_hours,omitempty"`

	TOTPSkewSteps     int `json:"totp_skew_steps"`
	SessionTTLSeconds int `json:"session_ttl_seconds"`
	RequestTTLSeconds int `json:"request_ttl_seconds"`
	// MaxOpenRequests is per requester.
	MaxOpenRequests int `json:"max_open_requests"`

	Throttle Throttle `json:"throttle"`

	// AuthorMark, when set, is the mark (e.g. initials) every text must carry; nil means none.
	AuthorMark *AuthorMark `json:"author_mark,omitempty"`

	ExtensionIDs        []string `json:"extension_ids"`
	FirefoxExtensionIDs []string `json:"firefox_extension_ids"`
	BridgePort          int      `json:"bridge_port"`

	MastodonInstances []string `json:"mastodon_instances"`

	// Custody is how the browser holds an account's sign-in, for accounts that do not set
	// their own: CustodyStrict, CustodyGated or CustodyOneTime.
	Custody string `json:"custody"`
	// PrivateAccounts says what happens when the browser is signed in to someone's private
	// account on a governed platform: PrivateBlock, PrivateAllow or PrivateAllowOutsideHours.
	PrivateAccounts string `json:"private_accounts"`

	// KeepMedia keeps a copy of every file attached to an approved post in the daemon's media
	// store (<state dir>/media/<sha256>); no session is issued for a post whose files the store
	// does not hold.
	KeepMedia bool `json:"keep_media"`
	// KeepMediaMaxBytes is the largest file a copy is kept of; under KeepMedia a post with a
	// larger file is refused when it is requested.
	KeepMediaMaxBytes int `json:"keep_media_max_bytes"`

	Audit Audit `json:"audit"`

	// ApproverCodes is who checks approvers' codes: ApproverCodesLocal (the daemon, with the
	// seed in the OS keyring) or ApproverCodesRadius (the organisation's OTP server).
	ApproverCodes string `json:"approver_codes"`
	// Radius says how to reach the OTP server; nil: not configured.
	Radius *Radius `json:"radius,omitempty"`

	// ignored lists the keys of NotBuilt the file had, in file order. Set by Parse.
	ignored []string

	// accountKeys maps a lower-cased account id to the key as written in Accounts. Built by
	// Validate.
	accountKeys map[string]string
}

// Account is the policy for one official account.
type Account struct {
	// Approvers who may approve this account; nil falls back to DefaultApprovers.
	Approvers []string `json:"approvers,omitempty"`
	// Custody overrides the policy's custody for this account; "" uses it.
	Custody string `json:"custody,omitempty"`
}

// Custody modes: how the browser holds an account's sign-in.
const (
	// CustodyStrict: the browser is signed in to the account only inside a posting session
	// (foureyes signs it in with the password from the keyring) and signed out after it.
	CustodyStrict = "strict"
	// CustodyGated: the browser stays signed in; the gates alone hold posts back. For
	// platforms that punish frequent sign-ins.
	CustodyGated = "gated"
	// CustodyOneTime: strict, and after every posting session that signed the browser in, the
	// password changes to a new one foureyes generates before the browser signs out. Only on
	// platforms whose password change runs unattended (platforms.Platform.RotatesUnattended).
	CustodyOneTime = "one_time"
)

// custodyRank orders the custody modes by how much they hold back: a change to a lower rank
// weakens the policy.
var custodyRank = map[string]int{CustodyGated: 0, CustodyStrict: 1, CustodyOneTime: 2}

// What a post from a private account on a governed platform meets.
const (
	PrivateBlock             = "block"
	PrivateAllow             = "allow"
	PrivateAllowOutsideHours = "allow_outside_hours"
)

// CustodyFor returns the custody mode of account. A top-level one_time holds an account on a
// platform whose password change cannot run unattended at strict (Warnings says so); an
// account's own one_time there does not validate.
func (p *Policy) CustodyFor(account string) string {
	if a, ok := p.account(account); ok && a.Custody != "" {
		return a.Custody
	}
	if p.Custody == CustodyOneTime && !oneTimeWorks(accountPlatform(account)) {
		return CustodyStrict
	}
	return p.Custody
}

// accountPlatform is the platform id of an account id ("x:@ministry" -> "x").
func accountPlatform(account string) string {
	platform, _, _ := strings.Cut(account, ":")
	return asciiLower(platform)
}

// oneTimeWorks says whether custody one_time can run on platform: its password change runs
// unattended.
func oneTimeWorks(platform string) bool {
	pl, ok := platforms.Get(platform)
	return ok && pl.RotatesUnattended()
}

// Throttle limits failed approval codes per approver.
type Throttle struct {
	// MaxFailures failed codes within WindowSeconds lock the approver out.
	MaxFailures   int `json:"max_failures"`
	WindowSeconds int `json:"window_seconds"`
	// LockoutSeconds is the first lock-out; each further one doubles, up to MaxLockoutSeconds.
	LockoutSeconds    int `json:"lockout_seconds"`
	MaxLockoutSeconds int `json:"max_lockout_seconds"`
	// MaxConsecutiveFailures disables the approver until an administrator unlocks them.
	MaxConsecutiveFailures int `json:"max_consecutive_failures"`
}

// AuthorMark is a mark every text must carry, such as the author's initials.
type AuthorMark struct {
	// Required refuses texts without the mark; false only shows the hint.
	Required bool `json:"required"`
	// Pattern is an RE2 regular expression the text must match.
	Pattern string `json:"pattern"`
	// Hint tells staff what to write.
	Hint string `json:"hint,omitempty"`

	re *regexp.Regexp
}

// Audit says where audit events are forwarded besides the local log.
type Audit struct {
	Syslog bool `json:"syslog"`
	// Collector, when set, is the organisation's log collector that gets every event as RFC 5424
	// syslog over TLS (RFC 5425), through a queue on disk; nil means none.
	Collector *Collector `json:"collector,omitempty"`
}

// DefaultCollectorQueueMiB bounds the collector's queue on disk unless the policy says otherwise.
const DefaultCollectorQueueMiB = 64

// Collector is the organisation's syslog collector that audit events are sent to over TLS.
type Collector struct {
	// Address is host:port of the collector's TLS input (6514 is syslog over TLS's port).
	Address string `json:"address"`
	// CAFile is a PEM file of the certificates that may sign the collector's certificate: only
	// these are trusted, never the system's store.
	CAFile string `json:"ca_file"`
	// ClientCertFile and ClientKeyFile, both or neither, are the certificate and key (PEM) the
	// daemon shows for mutual TLS.
	ClientCertFile string `json:"client_cert_file,omitempty"`
	ClientKeyFile  string `json:"client_key_file,omitempty"`
	// ServerName is the name the collector's certificate must carry; "" means the host of
	// Address.
	ServerName string `json:"server_name,omitempty"`
	// QueueMaxMiB bounds the queue on disk of events not yet sent.
	QueueMaxMiB int `json:"queue_max_mib"`
}

// UnmarshalJSON fills in the defaults of keys the file leaves out.
func (c *Collector) UnmarshalJSON(b []byte) error {
	type plain Collector
	v := plain{QueueMaxMiB: DefaultCollectorQueueMiB}
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	*c = Collector(v)
	return nil
}

// VerifyName is the name the collector's certificate must carry.
func (c *Collector) VerifyName() string {
	if c.ServerName != "" {
		return c.ServerName
	}
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		return c.Address
	}
	return host
}

// Who checks approvers' codes.
const (
	ApproverCodesLocal  = "local"
	ApproverCodesRadius = "radius"
)

// Radius is how the daemon asks the organisation's OTP server about a code. The shared secret
// is not here: it lives in the OS keyring (foureyes radius secret).
type Radius struct {
	// Servers are host:port, tried in order (fail-over).
	Servers []string `json:"servers"`
	// TimeoutSeconds is how long one try waits for an answer.
	TimeoutSeconds int `json:"timeout_seconds"`
	// Retries is how often a request is sent again to a server that did not answer.
	Retries int `json:"retries"`
	// NASIdentifier names the daemon to the server.
	NASIdentifier string `json:"nas_identifier"`
	// ReplayWindowSeconds is how long the daemon remembers a code the server accepted, and
	// refuses it again.
	ReplayWindowSeconds int `json:"replay_window_seconds"`
}

// UnmarshalJSON fills in the defaults of the keys the file leaves out.
func (r *Radius) UnmarshalJSON(b []byte) error {
	type plain Radius
	v := plain{TimeoutSeconds: 3, Retries: 1, NASIdentifier: "foureyes", ReplayWindowSeconds: 300}
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	*r = Radius(v)
	return nil
}

// Timeout is how long one try waits for an answer.
func (r *Radius) Timeout() time.Duration { return seconds(r.TimeoutSeconds) }

// ReplayWindow is how long an accepted code is remembered.
func (r *Radius) ReplayWindow() time.Duration { return seconds(r.ReplayWindowSeconds) }

// Default returns the embedded default policy. Each call returns a fresh copy.
func Default() *Policy {
	p := &Policy{
		Version:           Version,
		Accounts:          map[string]Account{},
		DefaultApprovers:  []string{AnyApprover},
		TOTPSkewSteps:     1,
		SessionTTLSeconds: 600,
		RequestTTLSeconds: 600,
		MaxOpenRequests:   5,
		Throttle: Throttle{
			MaxFailures:            5,
			WindowSeconds:          900,
			LockoutSeconds:         60,
			MaxLockoutSeconds:      3600,
			MaxConsecutiveFailures: 100,
		},
		ExtensionIDs:        []string{DefaultExtensionID},
		FirefoxExtensionIDs: []string{DefaultFirefoxExtensionID},
		BridgePort:          DefaultBridgePort,
		MastodonInstances:   []string{},
		Custody:             CustodyStrict,
		PrivateAccounts:     PrivateBlock,
		KeepMediaMaxBytes:   DefaultKeepMediaMaxBytes,
		Audit:               Audit{Syslog: true},
		ApproverCodes:       ApproverCodesLocal,
	}
	if err := p.Validate(); err != nil {
		panic("policy: embedded default is invalid: " + err.Error())
	}
	return p
}

// Marshal encodes the effective policy as indented JSON that Parse accepts.
func (p *Policy) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ApproversFor returns who may approve account: either any approver (any is true, ids nil) or
// the listed ids. It does not check that an approver is confirmed or is not the requester; the
// rules do that.
func (p *Policy) ApproversFor(account string) (ids []string, any bool) {
	list := p.DefaultApprovers
	if a, ok := p.account(account); ok && a.Approvers != nil {
		list = a.Approvers
	}
	if slices.Contains(list, AnyApprover) {
		return nil, true
	}
	return slices.Clone(list), false
}

// MayApprove reports whether policy lets approverID approve posts on account.
func (p *Policy) MayApprove(account, approverID string) bool {
	if approverID == "" || approverID == AnyApprover {
		return false
	}
	ids, any := p.ApproversFor(account)
	return any || slices.Contains(ids, approverID)
}

// Governs reports whether account is listed in the policy's accounts.
func (p *Policy) Governs(account string) bool {
	_, ok := p.account(account)
	return ok
}

func (p *Policy) account(id string) (Account, bool) {
	key, ok := p.accountKeys[asciiLower(id)]
	if !ok {
		// A Policy built in Go without Validate has no index yet.
		if p.accountKeys != nil {
			return Account{}, false
		}
		for k := range p.Accounts {
			if asciiLower(k) == asciiLower(id) {
				key, ok = k, true
				break
			}
		}
		if !ok {
			return Account{}, false
		}
	}
	a, ok := p.Accounts[key]
	return a, ok
}

// SessionTTL is how long an approved session stays good.
func (p *Policy) SessionTTL() time.Duration { return seconds(p.SessionTTLSeconds) }

// RequestTTL is how long a request waits for approval.
func (p *Policy) RequestTTL() time.Duration { return seconds(p.RequestTTLSeconds) }

// Window is the period over which failures count towards MaxFailures.
func (t Throttle) Window() time.Duration { return seconds(t.WindowSeconds) }

// Lockout is the first lock-out's length.
func (t Throttle) Lockout() time.Duration { return seconds(t.LockoutSeconds) }

// MaxLockout caps the growing lock-out.
func (t Throttle) MaxLockout() time.Duration { return seconds(t.MaxLockoutSeconds) }

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// Matches reports whether text carries the mark. A nil mark matches everything.
func (m *AuthorMark) Matches(text string) bool {
	if m == nil {
		return true
	}
	re := m.re
	if re == nil {
		var err error
		if re, err = regexp.Compile(m.Pattern); err != nil {
			return false
		}
	}
	return re.MatchString(text)
}

// CheckManaged is what a policy IT deploys to the managed location must also satisfy: it names
// its approvers. "*" would let anyone enrolled on the laptop approve, and on a laptop the staff
// member controls the enrolment (user mode), so only the names IT wrote count.
func (p *Policy) CheckManaged() error {
	if slices.Contains(p.DefaultApprovers, AnyApprover) {
		return fmt.Errorf(`default_approvers: a managed policy must name its approvers ("*" lets anyone enrolled on the laptop approve): list their ids, e.g. ["anna.schmidt","ben.meier"]`)
	}
	for _, id := range slices.Sorted(maps.Keys(p.Accounts)) {
		if slices.Contains(p.Accounts[id].Approvers, AnyApprover) {
			return fmt.Errorf(`accounts.%s.approvers: a managed policy must name its approvers ("*" lets anyone enrolled on the laptop approve)`, id)
		}
	}
	return nil
}
