// Package textclip shortens text for places that have room for only a little of it: audit
// fields, error messages, menu labels, notifications and table columns.
//
// The rule is the same everywhere: n is how many characters of the text are kept, and when
// anything was left off, [Ellipsis] follows them, so a clipped result is at most n+1 characters
// long. A character is a Unicode code point; a cut never splits the bytes of one, and never
// separates a character from the combining marks (Unicode category M) that follow it, unless
// that one character with its marks is longer than n by itself. Each byte that is not valid
// UTF-8 counts as one character and comes back as U+FFFD, so the result is always valid UTF-8.
package textclip

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ellipsis follows clipped text.
const Ellipsis = "…"

// Clip returns the first n characters of s, followed by [Ellipsis] if s is longer. White space
// is kept as it is. A negative n counts as zero.
func Clip(s string, n int) string {
	end, cut := cutAt(s, n)
	if cut {
		return valid(s[:end]) + Ellipsis
	}
	return valid(s)
}

// Line is [Clip] of s on one line: runs of white space, line breaks included, become one space,
// and white space at either end goes.
func Line(s string, n int) string {
	return Clip(strings.Join(strings.Fields(s), " "), n)
}

// Words is like [Line], but it cuts between words: it keeps the whole words that fit into n
// characters and then [Ellipsis]. Only a first word longer than n (a link, say) is cut inside,
// as [Clip] would cut it.
func Words(s string, n int) string {
	var b strings.Builder
	used := 0
	for i, w := range strings.Fields(s) {
		wl := utf8.RuneCountInString(w)
		if i == 0 && wl > n {
			return Clip(w, max(n, 1))
		}
		if i > 0 {
			if used+1+wl > n {
				return valid(b.String()) + Ellipsis
			}
			b.WriteByte(' ')
			used++
		}
		b.WriteString(w)
		used += wl
	}
	return valid(b.String())
}

// cutAt returns the index of the byte after the first n characters of s, moved back to the
// start of the last character if the character after the cut is a combining mark of it, and
// whether anything of s is left after that index.
func cutAt(s string, n int) (end int, cut bool) {
	i, base := 0, 0 // base is where the last character that is not a mark starts
	for range max(n, 0) {
		if i >= len(s) {
			return len(s), false
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if !unicode.Is(unicode.M, r) {
			base = i
		}
		i += w
	}
	if i >= len(s) {
		return len(s), false
	}
	if r, _ := utf8.DecodeRuneInString(s[i:]); unicode.Is(unicode.M, r) && base > 0 {
		return base, true
	}
	return i, true
}

// valid returns s with each byte that is not valid UTF-8 replaced by U+FFFD.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // an invalid byte decodes as utf8.RuneError, width 1
		i += w
	}
	return b.String()
}
