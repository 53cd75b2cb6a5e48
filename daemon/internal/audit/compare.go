package audit

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Verify proves that a trail is one unbroken chain, but a chain can be cut short or rewritten
// whole and still verify. The copies the daemon forwarded to the system log as it wrote each
// line cannot be changed from the laptop afterwards (journald, a remote collector): Compare holds
// the trail against them.

// forwardedRe finds the summary forwardMessage puts in front of each forwarded line, wherever
// the system log put its own prefix (time, host, tag and pid).
var forwardedRe = regexp.MustCompile(`seq=([0-9]{1,19}) event=([a-z0-9_]+) severity=([a-z]+) hash=([0-9a-f]{64})`)

// Comparison is what Compare found.
type Comparison struct {
	LocalLines     uint64 `json:"local_lines"`     // lines in the local trail
	ForwardedLines int    `json:"forwarded_lines"` // distinct lines in the forwarded copy
	Matched        int    `json:"matched"`         // forwarded lines the trail has unchanged
	// BeforeCopy counts local lines older than the copy's first line (a copy kept for less
	// time than the trail).
	BeforeCopy uint64 `json:"before_copy"`
	// NotForwarded counts the other local lines the copy lacks.
	NotForwarded uint64 `json:"not_forwarded"`
	// Gaps are the runs of lines the copy lacks, each with what the trail says about it. A gap
	// the trail explains (forwarding failed, or was turned off) is listed here and not a
	// problem; keep an eye on them all the same, since a line saying so could be forged too.
	Gaps []string `json:"gaps,omitempty"`
	// Problems are what shows the trail was changed: each names the line.
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether the trail agrees with every forwarded line.
func (c Comparison) OK() bool { return len(c.Problems) == 0 }

// maxProblems bounds the report: a rewritten trail differs on every line.
const maxProblems = 20

// Compare reads the local trail and the forwarded copy (a syslog file or journald's output:
// any text with one forwarded message per line) and reports every forwarded line that the trail
// lacks or has with another hash (a cut tail, or lines rewritten), and every run of local lines
// the copy lacks that the trail does not explain: lines the daemon wrote are forwarded as they
// are written, unless forwarding failed or was turned off, and the trail says so; lines added to
// the trail by hand were never forwarded.
func Compare(local, forwarded io.Reader) (Comparison, error) {
	var c Comparison
	fw := map[uint64]string{}
	var minSeq, maxSeq uint64
	sc := bufio.NewScanner(forwarded)
	sc.Buffer(make([]byte, 64<<10), maxForwarded+4096)
	for sc.Scan() {
		m := forwardedRe.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		seq, err := strconv.ParseUint(string(m[1]), 10, 64)
		if err != nil || seq == 0 {
			continue
		}
		h := string(m[4])
		if old, ok := fw[seq]; ok {
			if old != h {
				c.problem("line %d: the forwarded copy holds two different lines with this number: a trail was started again, or the copy mixes several users' trails (compare with --journal, which reads only this user's)", seq)
			}
			continue
		}
		fw[seq] = h
		maxSeq = max(maxSeq, seq)
		if minSeq == 0 || seq < minSeq {
			minSeq = seq
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("reading the forwarded copy: %w", err)
	}
	c.ForwardedLines = len(fw)

	// gap is the current run of local lines the copy lacks; why is what the trail said about it.
	var gap struct {
		from, to uint64
		why      string
	}
	closeGap := func() {
		if gap.from == 0 {
			return
		}
		span := fmt.Sprintf("line %d", gap.from)
		if gap.to > gap.from {
			span = fmt.Sprintf("lines %d to %d", gap.from, gap.to)
		}
		if gap.why != "" {
			c.Gaps = append(c.Gaps, fmt.Sprintf("%s not forwarded: %s", span, gap.why))
		} else {
			c.problem("%s never forwarded, and the trail does not say that forwarding failed or was off: lines added to the trail by hand (or a copy that is not up to date)", span)
		}
		gap.from, gap.to, gap.why = 0, 0, ""
	}
	lr := newLineReader(local)
	for {
		line, _, _, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, fmt.Errorf("reading the audit trail: %w", err)
		}
		c.LocalLines++
		p, reason := parseLine(line)
		if reason != "" {
			c.problem("local line %d: %s (run foureyes audit verify)", c.LocalLines, reason)
			continue
		}
		want, ok := fw[p.seq]
		delete(fw, p.seq)
		switch {
		case ok && want != string(p.hash):
			closeGap()
			c.problem("line %d: the trail's line differs from the copy forwarded when it was written (hash %s…, forwarded %s…): the trail was rewritten", p.seq, p.hash[:12], want[:12])
		case ok:
			closeGap()
			gap.why = "" // forwarding works again: an earlier word no longer explains anything
			c.Matched++
		case minSeq == 0 || p.seq < minSeq:
			c.BeforeCopy++
		default:
			c.NotForwarded++
			if gap.from == 0 {
				gap.from = p.seq
			}
			gap.to = p.seq
			if trustLine(p.event) {
				// Who may approve, or which accounts are in custody, changed without a copy
				// outside the laptop: whatever the trail says about forwarding, IT must look.
				c.problem("line %d (%s) changes who may approve or what is in custody, and is not in the copy: check it", p.seq, p.event)
			}
		}
		// The trail's own word on why lines are missing from the copy: it writes
		// forwarding_failed right after the line that failed, and audit_forwarding_off before
		// it stops forwarding.
		switch string(p.event) {
		case "forwarding_failed":
			gap.why = fmt.Sprintf("the trail says forwarding failed (line %d)", p.seq)
		case "audit_forwarding_off":
			gap.why = fmt.Sprintf("the trail says forwarding was turned off (line %d)", p.seq)
		}
	}
	closeGap()
	if len(fw) > 0 {
		var lo uint64
		for s := range fw {
			if lo == 0 || s < lo {
				lo = s
			}
		}
		c.problem("%d forwarded lines are missing from the trail (lines %d to %d): the trail was cut or lines were removed", len(fw), lo, maxSeq)
	}
	return c, nil
}

func (c *Comparison) problem(format string, args ...any) {
	if len(c.Problems) == maxProblems {
		c.Problems = append(c.Problems, "… more differences not listed")
	}
	if len(c.Problems) > maxProblems {
		return
	}
	c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
}

// trustLine reports whether event changes the trust root (approvers, accounts) or the rules.
func trustLine(event []byte) bool {
	e := string(event)
	return strings.HasPrefix(e, "approver_") || strings.HasPrefix(e, "account_") || strings.HasPrefix(e, "policy_") ||
		e == "extension_allowed" || e == "audit_forwarding_off"
}
