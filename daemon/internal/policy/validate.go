package policy

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the numeric keys. The throttle's consecutive-failure cap is NIST SP 800-63B's.
const (
	maxSkewSteps              = 3
	maxConsecutiveFailuresCap = 100
	maxTextLen                = 2000
	maxPatternLen             = 500
	maxIDLen                  = 64
	maxHandleLen              = 200
)

// UnmarshalJSON fills in the defaults of keys the file leaves out: a mark that is written down
// is required unless it says otherwise.
func (m *AuthorMark) UnmarshalJSON(b []byte) error {
	type plain AuthorMark
	v := plain{Required: true}
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	*m = AuthorMark(v)
	return nil
}

// Validate checks every field, normalises host names to lower case, and prepares the lookups
// the helpers use. Parse calls it; call it yourself on a Policy built in Go. The error lists
// every problem found and wraps ErrInvalid.
func (p *Policy) Validate() error {
	var errs []*fieldError
	add := func(e *fieldError) {
		if e != nil {
			errs = append(errs, e)
		}
	}

	if p.Version != Version {
		add(fe("version", fmt.Sprintf("%d is not supported (this foureyes understands version %d)", p.Version, Version)))
	}
	add(textLen("$schema", p.Schema, maxTextLen))
	add(textLen("description", p.Description, maxTextLen))

	p.accountKeys = map[string]string{}
	keys := make([]string, 0, len(p.Accounts))
	for k := range p.Accounts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := "accounts[" + strconv.Quote(k) + "]"
		if e := checkAccountID(k); e != nil {
			add(e.under(path))
			continue
		}
		lower := asciiLower(k)
		if prev, dup := p.accountKeys[lower]; dup {
			add(fe(path, fmt.Sprintf("same account as %q (account ids are not case-sensitive)", prev)))
			continue
		}
		p.accountKeys[lower] = k
		a := p.Accounts[k]
		if a.Approvers != nil {
			add(checkApprovers(path+".approvers", a.Approvers))
		}
		if a.Custody != "" {
			add(oneOf(path+".custody", a.Custody, CustodyStrict, CustodyGated, CustodyOneTime))
		}
		if a.Custody == CustodyOneTime && !oneTimeWorks(accountPlatform(k)) {
			add(fe(path+".custody", fmt.Sprintf("one_time changes the password after every posting session, but foureyes cannot change the password of %s unattended (%s): use strict", k, oneTimeWhyNot(accountPlatform(k)))))
		}
	}
	// An empty default list is allowed on purpose: nobody may approve yet (the policy a package
	// installs before IT names the press officers). An account's own list must name someone.
	if len(p.DefaultApprovers) > 0 {
		add(checkApprovers("default_approvers", p.DefaultApprovers))
	}

	if p.PostingHours != nil {
		c, e := p.PostingHours.check()
		if e != nil {
			add(e.under("posting_hours"))
		}
		p.PostingHours.compiled = c
	}

	add(inRange("totp_skew_steps", p.TOTPSkewSteps, 0, maxSkewSteps, ""))
	add(inRange("session_ttl_seconds", p.SessionTTLSeconds, 30, 3600, ""))
	add(inRange("request_ttl_seconds", p.RequestTTLSeconds, 30, 86400, ""))
	add(inRange("max_open_requests", p.MaxOpenRequests, 1, 100, ""))
	add(inRange("keep_media_max_bytes", p.KeepMediaMaxBytes, 1024, MaxKeepMediaMaxBytes, " (1 GiB)"))

	t := p.Throttle
	add(inRange("throttle.max_failures", t.MaxFailures, 1, 100, ""))
	add(inRange("throttle.window_seconds", t.WindowSeconds, 60, 86400, ""))
	add(inRange("throttle.lockout_seconds", t.LockoutSeconds, 1, 86400, ""))
	add(inRange("throttle.max_lockout_seconds", t.MaxLockoutSeconds, 1, 7*86400, ""))
	if t.MaxLockoutSeconds < t.LockoutSeconds {
		add(fe("throttle.max_lockout_seconds", fmt.Sprintf("%d is less than lockout_seconds %d", t.MaxLockoutSeconds, t.LockoutSeconds)))
	}
	add(inRange("throttle.max_consecutive_failures", t.MaxConsecutiveFailures, 1, maxConsecutiveFailuresCap, " (NIST SP 800-63B)"))

	if m := p.AuthorMark; m != nil {
		m.re = nil
		switch {
		case m.Pattern == "":
			add(fe("author_mark.pattern", "missing: a regular expression the text must match"))
		case len(m.Pattern) > maxPatternLen:
			add(fe("author_mark.pattern", fmt.Sprintf("is %d bytes, over the limit of %d", len(m.Pattern), maxPatternLen)))
		default:
			re, err := regexp.Compile(m.Pattern)
			if err != nil {
				add(fe("author_mark.pattern", fmt.Sprintf("%q is not a valid regular expression: %v", m.Pattern, err)))
			}
			m.re = re
		}
		add(textLen("author_mark.hint", m.Hint, maxTextLen))
	}

	add(eachUnique("extension_ids", p.ExtensionIDs, func(id string) string {
		if len(id) != 32 || !chromeID.MatchString(id) {
			return fmt.Sprintf("%q is not an extension ID (32 letters a to p)", id)
		}
		return ""
	}))
	add(eachUnique("firefox_extension_ids", p.FirefoxExtensionIDs, func(id string) string {
		if len(id) > 80 || !(firefoxGUID.MatchString(id) || firefoxEmailID.MatchString(id)) {
			return fmt.Sprintf("%q is not a Firefox add-on ID (name@domain or {GUID})", id)
		}
		return ""
	}))
	add(inRange("bridge_port", p.BridgePort, 1024, 65535, ""))

	add(oneOf("custody", p.Custody, CustodyStrict, CustodyGated, CustodyOneTime))
	add(oneOf("private_accounts", p.PrivateAccounts, PrivateBlock, PrivateAllow, PrivateAllowOutsideHours))

	add(oneOf("approver_codes", p.ApproverCodes, ApproverCodesLocal, ApproverCodesRadius))
	if r := p.Radius; r != nil {
		add(checkRadius(r))
	} else if p.ApproverCodes == ApproverCodesRadius {
		add(fe("radius", `missing: approver_codes "radius" needs the OTP server's address, e.g. "radius": {"servers": ["otp.example:1812"]}`))
	}

	lowerAll(p.MastodonInstances)
	add(eachUnique("mastodon_instances", p.MastodonInstances, checkHost))

	if c := p.Audit.Collector; c != nil {
		for _, e := range c.check() {
			add(e.under("audit.collector"))
		}
	}

	if len(errs) > 0 {
		problems := make([]string, len(errs))
		for i, e := range errs {
			problems[i] = e.String()
		}
		return invalid(problems...)
	}
	return nil
}

var (
	// Lengths are checked apart where a bounded repetition would compile into a long program
	// the daemon holds all day.
	chromeID       = regexp.MustCompile(`^[a-p]+$`)
	firefoxGUID    = regexp.MustCompile(`^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$`)
	firefoxEmailID = regexp.MustCompile(`^[a-zA-Z0-9._-]*@[a-zA-Z0-9._-]+$`)
	platformName   = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	hostLabel      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

func inRange(path string, v, lo, hi int, note string) *fieldError {
	switch {
	case v < lo:
		return fe(path, fmt.Sprintf("%d is under the minimum of %d%s", v, lo, note))
	case v > hi:
		return fe(path, fmt.Sprintf("%d is over the limit of %d%s", v, hi, note))
	}
	return nil
}

func textLen(path, s string, limit int) *fieldError {
	if len(s) > limit {
		return fe(path, fmt.Sprintf("is %d bytes, over the limit of %d", len(s), limit))
	}
	return nil
}

// eachUnique checks every element with check (which returns a problem or "") and refuses
// duplicates. It reports the first problem, which is enough to find the line.
func eachUnique(path string, list []string, check func(string) string) *fieldError {
	seen := map[string]bool{}
	for i, s := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		if msg := check(s); msg != "" {
			return fe(p, msg)
		}
		if seen[s] {
			return fe(p, fmt.Sprintf("%q is listed twice", s))
		}
		seen[s] = true
	}
	return nil
}

func checkAccountID(id string) *fieldError {
	const must = "account id must be platform:handle (e.g. \"x:@ministry\")"
	platform, handle, ok := strings.Cut(id, ":")
	if !ok || handle == "" || (len(platform) > 32 || !platformName.MatchString(platform)) {
		return fe("", must)
	}
	if len(handle) > maxHandleLen {
		return fe("", fmt.Sprintf("handle is %d bytes, over the limit of %d", len(handle), maxHandleLen))
	}
	if !printableNoSpace(handle) {
		return fe("", must+"; the handle may not contain spaces or control characters")
	}
	return nil
}

// approverIDRE is the form of an approver id, as enrolment takes it (rules.CheckApprover; a test
// holds the two together).
var approverIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func checkApprovers(path string, ids []string) *fieldError {
	if len(ids) == 0 {
		return fe(path, `must name at least one approver, or "*" for any approver`)
	}
	if slices.Contains(ids, AnyApprover) && len(ids) > 1 {
		return fe(path, `"*" (any approver) cannot be combined with named approvers`)
	}
	return eachUnique(path, ids, func(id string) string {
		switch {
		case id == AnyApprover:
			return ""
		case len(id) > 64 || !approverIDRE.MatchString(id):
			// The same form enrolment takes: an id no approver can be enrolled under would leave
			// the account with nobody able to approve.
			return fmt.Sprintf("%q is not an approver id (lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64)", id)
		}
		return ""
	})
}

func printableNoSpace(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func lowerAll(list []string) {
	for i, s := range list {
		list[i] = asciiLower(s)
	}
}

// asciiLower folds only A-Z. Full Unicode folding would let look-alikes such as the Kelvin sign
// become plain letters and match an id or host they were never meant to.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// checkHost accepts a DNS host name (IDNs in their xn-- form), without scheme, port or path.
func checkHost(h string) string {
	bad := fmt.Sprintf("%q is not a host name (write it without scheme, port or path, e.g. \"social.example\")", h)
	if h == "" || len(h) > 253 {
		return bad
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if len(l) > 63 || !hostLabel.MatchString(l) {
			return bad
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return fmt.Sprintf("%q is an IP address, not a host name", h)
	}
	return ""
}

func checkRadius(r *Radius) *fieldError {
	if len(r.Servers) == 0 {
		return fe("radius.servers", `must name at least one server, e.g. ["otp1.example:1812","otp2.example:1812"]`)
	}
	if len(r.Servers) > 8 {
		return fe("radius.servers", fmt.Sprintf("%d servers is over the limit of 8", len(r.Servers)))
	}
	if e := eachUnique("radius.servers", r.Servers, checkHostPort); e != nil {
		return e
	}
	if e := inRange("radius.timeout_seconds", r.TimeoutSeconds, 1, 30, ""); e != nil {
		return e
	}
	if e := inRange("radius.retries", r.Retries, 0, 5, ""); e != nil {
		return e
	}
	if r.NASIdentifier == "" || len(r.NASIdentifier) > 253 || !printableNoSpace(r.NASIdentifier) {
		return fe("radius.nas_identifier", fmt.Sprintf("%q is not a NAS-Identifier (1 to 253 printable characters without spaces)", r.NASIdentifier))
	}
	return inRange("radius.replay_window_seconds", r.ReplayWindowSeconds, 30, 3600, "")
}

// checkHostPort accepts host:port with a host name or an IP address ([v6]:port) and a port.
func checkHostPort(s string) string {
	bad := fmt.Sprintf("%q is not host:port (e.g. \"otp.example:1812\" or \"10.0.0.5:1812\")", s)
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return bad
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	if msg := checkHost(asciiLower(host)); msg != "" && !strings.Contains(msg, "IP address") {
		return bad
	}
	return ""
}

// oneOf refuses a value that is not one of the allowed words.
func oneOf(path, v string, allowed ...string) *fieldError {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fe(path, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")))
}

// Limits of the collector's queue on disk, in MiB.
const (
	minCollectorQueueMiB = 1
	maxCollectorQueueMiB = 4096
)

// check validates the collector: an address with a port, absolute paths (the daemon's working
// directory is nobody's business), both halves of a client certificate or neither.
func (c *Collector) check() []*fieldError {
	var errs []*fieldError
	host, port, err := net.SplitHostPort(c.Address)
	switch {
	case c.Address == "":
		errs = append(errs, fe("address", "missing: host:port of the collector's TLS input, e.g. \"logs.example.org:6514\""))
	case err != nil || host == "" || strings.ContainsAny(host, " /"):
		errs = append(errs, fe("address", fmt.Sprintf("%q is not host:port (e.g. \"logs.example.org:6514\", \"[2001:db8::1]:6514\")", c.Address)))
	default:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fe("address", fmt.Sprintf("port %q is not a number from 1 to 65535", port)))
		}
	}
	file := func(path, v string, required bool) {
		switch {
		case v == "" && required:
			errs = append(errs, fe(path, "missing: the absolute path of a PEM file"))
		case v != "" && !filepath.IsAbs(v):
			errs = append(errs, fe(path, fmt.Sprintf("%q is not an absolute path", v)))
		case len(v) > maxTextLen:
			errs = append(errs, fe(path, fmt.Sprintf("is %d bytes, over the limit of %d", len(v), maxTextLen)))
		}
	}
	file("ca_file", c.CAFile, true)
	file("client_cert_file", c.ClientCertFile, false)
	file("client_key_file", c.ClientKeyFile, false)
	if (c.ClientCertFile == "") != (c.ClientKeyFile == "") {
		errs = append(errs, fe("client_key_file", "client_cert_file and client_key_file go together: give both for mutual TLS, or neither"))
	}
	if c.ServerName != "" {
		if msg := checkHost(asciiLower(c.ServerName)); msg != "" && net.ParseIP(c.ServerName) == nil {
			errs = append(errs, fe("server_name", msg))
		}
	}
	if e := inRange("queue_max_mib", c.QueueMaxMiB, minCollectorQueueMiB, maxCollectorQueueMiB, ""); e != nil {
		errs = append(errs, e)
	}
	return errs
}
