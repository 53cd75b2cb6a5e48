package audit

import (
	"fmt"
	"unicode/utf8"
)

// maxForwarded bounds the copy of a line in a forwarded message: system logs cut or drop long
// messages, and the summary in front (with the chain hash) must survive that.
const maxForwarded = 8 << 10

// forwardMessage is the one-line text forwarders send: a summary a person can grep, then the
// line itself (cut at maxForwarded) so that the copy outside holds the event's details.
func forwardMessage(rec Record) string {
	raw := rec.Raw
	cut := ""
	if len(raw) > maxForwarded {
		n := maxForwarded
		for n > 0 && !utf8.RuneStart(raw[n]) {
			n--
		}
		raw, cut = raw[:n], " [cut]"
	}
	return fmt.Sprintf("seq=%d event=%s severity=%s hash=%s line=%s%s",
		rec.Seq, rec.Event, rec.Severity, rec.Hash, raw, cut)
}

// ForwardedText is the message a forwarder sends for rec (without the system log's own
// prefix): what [Compare] looks for in a system log.
func ForwardedText(rec Record) string { return forwardMessage(rec) }
