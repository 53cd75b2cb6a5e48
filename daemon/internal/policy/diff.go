package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Change is one difference between the policy in force before and the one in force now.
type Change struct {
	Key string `json:"key"`
	Old string `json:"old"`
	New string `json:"new"`
	// Weakens is set when the change loosens the rules: more approvers, fewer checks, longer
	// windows, no copy of the trail outside the laptop. Such a change is an alarm.
	Weakens bool `json:"weakens,omitempty"`
}

// Digest is the SHA-256 of the effective policy (as Marshal writes it), so the trail can name
// exactly which policy was in force.
func Digest(p *Policy) string {
	b, err := p.Marshal()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Weakened reports whether any change loosens the rules.
func Weakened(cs []Change) bool {
	return slices.ContainsFunc(cs, func(c Change) bool { return c.Weakens })
}

// Diff lists what changed from old to new, in key order; nil old is compared as "no policy".
func Diff(old, new *Policy) []Change {
	if old == nil || new == nil {
		o, n := "valid", "valid"
		if old == nil {
			o = "none or invalid"
		}
		if new == nil {
			n = "none or invalid"
		}
		if o == n {
			return nil
		}
		return []Change{{Key: "policy", Old: o, New: n}}
	}
	var cs []Change
	add := func(key string, o, n any, weakens bool) {
		if os, ns := fmt.Sprint(o), fmt.Sprint(n); os != ns {
			cs = append(cs, Change{Key: key, Old: os, New: ns, Weakens: weakens})
		}
	}
	more := func(o, n int) bool { return n > o }
	less := func(o, n int) bool { return n < o }
	add("totp_skew_steps", old.TOTPSkewSteps, new.TOTPSkewSteps, more(old.TOTPSkewSteps, new.TOTPSkewSteps))
	add("session_ttl_seconds", old.SessionTTLSeconds, new.SessionTTLSeconds, more(old.SessionTTLSeconds, new.SessionTTLSeconds))
	add("request_ttl_seconds", old.RequestTTLSeconds, new.RequestTTLSeconds, more(old.RequestTTLSeconds, new.RequestTTLSeconds))
	add("max_open_requests", old.MaxOpenRequests, new.MaxOpenRequests, more(old.MaxOpenRequests, new.MaxOpenRequests))
	ot, nt := old.Throttle, new.Throttle
	add("throttle.max_failures", ot.MaxFailures, nt.MaxFailures, more(ot.MaxFailures, nt.MaxFailures))
	add("throttle.window_seconds", ot.WindowSeconds, nt.WindowSeconds, less(ot.WindowSeconds, nt.WindowSeconds))
	add("throttle.lockout_seconds", ot.LockoutSeconds, nt.LockoutSeconds, less(ot.LockoutSeconds, nt.LockoutSeconds))
	add("throttle.max_lockout_seconds", ot.MaxLockoutSeconds, nt.MaxLockoutSeconds, less(ot.MaxLockoutSeconds, nt.MaxLockoutSeconds))
	add("throttle.max_consecutive_failures", ot.MaxConsecutiveFailures, nt.MaxConsecutiveFailures, more(ot.MaxConsecutiveFailures, nt.MaxConsecutiveFailures))

	// Approvers: every account either policy names, plus the default for all others.
	accounts := map[string]bool{"": true}
	for k := range old.Accounts {
		accounts[asciiLower(k)] = true
	}
	for k := range new.Accounts {
		accounts[asciiLower(k)] = true
	}
	for _, acc := range sortedKeys(accounts) {
		o, n := effectiveApprovers(old, acc), effectiveApprovers(new, acc)
		key := "default_approvers"
		if acc != "" {
			key = "accounts." + acc + ".approvers"
		}
		add(key, strings.Join(o, ","), strings.Join(n, ","), grants(o, n))
	}

	oh, nh := hoursText(old.PostingHours), hoursText(new.PostingHours)
	add("posting_hours", oh, nh, oh != nh && !narrower(old.PostingHours, new.PostingHours))
	om, nm := markText(old.AuthorMark), markText(new.AuthorMark)
	add("author_mark", om, nm, om != nm && !(old.AuthorMark == nil || !old.AuthorMark.Required))
	add("extension_ids", strings.Join(old.ExtensionIDs, ","), strings.Join(new.ExtensionIDs, ","), added(old.ExtensionIDs, new.ExtensionIDs))
	add("firefox_extension_ids", strings.Join(old.FirefoxExtensionIDs, ","), strings.Join(new.FirefoxExtensionIDs, ","), added(old.FirefoxExtensionIDs, new.FirefoxExtensionIDs))
	add("mastodon_instances", strings.Join(old.MastodonInstances, ","), strings.Join(new.MastodonInstances, ","), added(new.MastodonInstances, old.MastodonInstances))
	add("bridge_port", old.BridgePort, new.BridgePort, false)
	add("custody", old.Custody, new.Custody, custodyRank[new.Custody] < custodyRank[old.Custody])
	privRank := map[string]int{PrivateBlock: 0, PrivateAllowOutsideHours: 1, PrivateAllow: 2}
	add("private_accounts", old.PrivateAccounts, new.PrivateAccounts, privRank[new.PrivateAccounts] > privRank[old.PrivateAccounts])
	// Keeping fewer copies weakens what the trail can prove.
	add("keep_media", old.KeepMedia, new.KeepMedia, old.KeepMedia && !new.KeepMedia)
	add("keep_media_max_bytes", old.KeepMediaMaxBytes, new.KeepMediaMaxBytes, old.KeepMedia && new.KeepMediaMaxBytes < old.KeepMediaMaxBytes)
	for _, acc := range accountUnion(old, new) {
		o, n := old.CustodyFor(acc), new.CustodyFor(acc)
		add("accounts."+acc+".custody", o, n, custodyRank[n] < custodyRank[o])
	}
	add("audit.syslog", old.Audit.Syslog, new.Audit.Syslog, old.Audit.Syslog && !new.Audit.Syslog)
	oc, nc := collectorText(old.Audit.Collector), collectorText(new.Audit.Collector)
	// Sending the copy elsewhere, or nowhere, is an alarm; so is trusting another CA file.
	add("audit.collector", oc, nc, old.Audit.Collector != nil && collectorMoved(old.Audit.Collector, new.Audit.Collector))
	add("description", old.Description, new.Description, false)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Key < cs[j].Key })
	return cs
}

// effectiveApprovers is who may approve acc ("" for an account the policy does not name).
func effectiveApprovers(p *Policy, acc string) []string {
	ids, any := p.ApproversFor(acc) // "" names no account: the default list
	if any {
		return []string{AnyApprover}
	}
	slices.Sort(ids)
	return ids
}

// grants reports whether n lets someone approve whom o did not.
func grants(o, n []string) bool {
	if slices.Contains(o, AnyApprover) {
		return false
	}
	return slices.Contains(n, AnyApprover) || added(o, n)
}

// added reports whether n has an element o lacks.
func added(o, n []string) bool {
	return slices.ContainsFunc(n, func(s string) bool { return !slices.Contains(o, s) })
}

func hoursText(h *PostingHours) string {
	if h == nil {
		return "none"
	}
	return fmt.Sprintf("%s %s %s-%s outside:%s", h.TimeZone, strings.Join(h.Days, ","), h.Start, h.End, h.Outside)
}

// narrower reports whether posting hours n are within o: same zone, no new days, no earlier
// start or later end, and outside them no looser rule.
func narrower(o, n *PostingHours) bool {
	if n == nil {
		return o == nil
	}
	if o == nil {
		return true
	}
	os, _ := parseHHMM(o.Start)
	oe, _ := parseHHMM(o.End)
	ns, _ := parseHHMM(n.Start)
	ne, _ := parseHHMM(n.End)
	looser := o.Outside == OutsideRefuse && n.Outside != OutsideRefuse
	return o.TimeZone == n.TimeZone && !added(o.Days, n.Days) && ns >= os && ne <= oe && !looser
}

func markText(m *AuthorMark) string {
	if m == nil {
		return "none"
	}
	return fmt.Sprintf("required:%v pattern:%s", m.Required, m.Pattern)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// accountUnion lists the account ids either policy names, sorted.
func accountUnion(old, new *Policy) []string {
	var out []string
	for _, p := range []*Policy{old, new} {
		for k := range p.Accounts {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// collectorText is the collector's settings in one line ("" for none).
func collectorText(c *Collector) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s ca=%s cert=%s name=%s queue=%dMiB", c.Address, c.CAFile, c.ClientCertFile, c.VerifyName(), c.QueueMaxMiB)
}

// collectorMoved reports whether n sends the copy somewhere else than o, or nowhere.
func collectorMoved(o, n *Collector) bool {
	return n == nil || o.Address != n.Address || o.CAFile != n.CAFile || o.VerifyName() != n.VerifyName()
}
