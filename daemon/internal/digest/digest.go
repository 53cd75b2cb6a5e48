// Package digest computes the content digest that binds an approval to one exact text.
//
// The extension and the daemon must reach the same digest for the same post, whatever the
// browser, the platform's editor or the operating system did to invisible details of the text.
// So the digest is taken over a canonical form: Unicode NFC, LF line ends, and no trailing white
// space on any line or at the end. The shared test vectors (shared/vectors/digest.json) pin the
// rules for both implementations.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Size is the length of a digest in hex characters.
const Size = 2 * sha256.Size

// Canonical returns the canonical form of text:
//
//   - Unicode NFC, so composed and decomposed umlauts are the same text;
//   - CRLF and lone CR become LF;
//   - trailing white space ([unicode.IsSpace], which includes tab and NBSP) is removed from each
//     line;
//   - trailing white space of the whole text is removed, so trailing empty lines go too.
//
// Leading white space and white space inside a line are kept: they are visible in the post.
// Invalid UTF-8 is passed through unchanged rather than rejected, so that the digest of any
// input is defined.
func Canonical(text string) string {
	s := norm.NFC.String(text)
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		line, rest, more := strings.Cut(s, "\n")
		b.WriteString(strings.TrimRightFunc(line, unicode.IsSpace))
		if !more {
			break
		}
		b.WriteByte('\n')
		s = rest
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace)
}

// Sum returns the content digest of text: the lowercase hex SHA-256 of the UTF-8 bytes of
// [Canonical](text).
func Sum(text string) string {
	h := sha256.Sum256([]byte(Canonical(text)))
	return hex.EncodeToString(h[:])
}

// Valid reports whether d has the form of a digest: exactly [Size] lowercase hex characters.
// The same form holds for every SHA-256 in hex the daemon handles: content digests on the wire
// and the hash chain of the audit log, whose lines are checked as bytes. It has no branch per
// byte, since a digest's characters are random and would defeat the branch predictor.
func Valid[T ~string | ~[]byte](d T) bool {
	if len(d) != Size {
		return false
	}
	all := byte(1)
	for i := 0; i < len(d); i++ {
		all &= lowerHex[d[i]]
	}
	return all != 0
}

// lowerHex is 1 for the bytes 0-9 and a-f.
var lowerHex = func() (t [256]byte) {
	for _, c := range "0123456789abcdef" {
		t[c] = 1
	}
	return t
}()
