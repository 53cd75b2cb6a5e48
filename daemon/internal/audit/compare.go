package audit

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
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
	// NotForwarded counts local lines the copy lacks: forwarding off or failing for a while
	// (the trail says when, with forwarding_failed lines), or a copy that starts later.
	NotForwarded uint64 `json:"not_forwarded"`
	// Problems are what shows the trail was changed: each names the line.
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether the trail agrees with every forwarded line.
func (c Comparison) OK() bool { return len(c.Problems) == 0 }

// maxProblems bounds the report: a rewritten trail differs on every line.
const maxProblems = 20

// Compare reads the local trail and the forwarded copy (a syslog file or journald's output:
// any text with one forwarded message per line) and reports every forwarded line that the trail
// lacks or has with another hash: a cut tail, or lines rewritten.
func Compare(local, forwarded io.Reader) (Comparison, error) {
	var c Comparison
	fw := map[uint64]string{}
	var maxSeq uint64
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
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("reading the forwarded copy: %w", err)
	}
	c.ForwardedLines = len(fw)

	lr := newLineReader(local)
	for {
		line, _, _, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, fmt.Errorf("reading the audit trail: %w", err)
		}
		p, reason := parseLine(line)
		if reason != "" {
			c.problem("local line %d: %s (run foureyes audit verify)", c.LocalLines+1, reason)
			c.LocalLines++
			continue
		}
		c.LocalLines++
		want, ok := fw[p.seq]
		switch {
		case !ok:
			c.NotForwarded++
		case want != string(p.hash):
			c.problem("line %d: the trail's line differs from the copy forwarded when it was written (hash %s…, forwarded %s…): the trail was rewritten", p.seq, p.hash[:12], want[:12])
		default:
			c.Matched++
		}
		delete(fw, p.seq)
	}
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
