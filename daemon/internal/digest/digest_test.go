package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"plain", "Hello", "Hello"},
		{"nfd to nfc", "Gru\u0308\u00dfe", "Gr\u00fc\u00dfe"},
		{"crlf", "a\r\nb", "a\nb"},
		{"lone cr", "a\rb\rc", "a\nb\nc"},
		{"cr before crlf", "a\r\r\nb", "a\n\nb"},
		{"trailing spaces and tabs per line", "a \t\nb\t \nc", "a\nb\nc"},
		{"trailing blank lines", "a\n\n \n\t\n", "a"},
		{"leading white space kept", "  a\n\tb", "  a\n\tb"},
		{"inner tab kept", "a\tb", "a\tb"},
		{"trailing nbsp", "a\u00a0\nb\u00a0", "a\nb"},
		{"trailing ideographic space", "a\u3000", "a"},
		{"zero width space is not white space", "a\u200b", "a\u200b"},
		{"bom is not white space", "a\ufeff", "a\ufeff"},
		{"only white space", " \t\r\n\u00a0\n", ""},
		{"invalid utf-8 kept", "a\xff \n", "a\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Canonical(tt.in); got != tt.want {
				t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSum(t *testing.T) {
	sha := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty is sha256 of nothing", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"ascii", "hello", sha("hello")},
		{"canonicalised first", "hello \r\n\r\n", sha("hello")},
		{"composed and decomposed agree", "Gru\u0308\u00dfe", sha("Gr\u00fc\u00dfe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sum(tt.in)
			if got != tt.want {
				t.Errorf("Sum(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if !Valid(got) {
				t.Errorf("Valid(Sum(%q)) = false", tt.in)
			}
		})
	}
}

func TestValid(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"lowercase hex", good, true},
		{"empty", "", false},
		{"too short", good[:63], false},
		{"too long", good + "0", false},
		{"uppercase", strings.ToUpper(good), false},
		{"not hex", good[:63] + "g", false},
		{"one uppercase letter", good[:63] + "F", false},
		{"hex prefix", "0x" + good[:62], false},
		{"space at the end", good[:63] + " ", false},
		{"NUL byte", good[:63] + "\x00", false},
		{"high byte", good[:63] + "\xe0", false},
		{"multi-byte character in place of two", good[:62] + "ä", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid(tt.in); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if got := Valid([]byte(tt.in)); got != tt.want {
				t.Errorf("Valid([]byte(%q)) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzCanonical(f *testing.F) {
	for _, v := range vectorInputs {
		f.Add(v.text)
	}
	f.Add("a\xff\r\n\xc2")
	f.Add("\u0301\u00a0\r")
	f.Fuzz(func(t *testing.T, s string) {
		c := Canonical(s)
		if again := Canonical(c); again != c {
			t.Fatalf("not idempotent: Canonical(%q) = %q, again %q", s, c, again)
		}
		if strings.IndexByte(c, '\r') >= 0 {
			t.Fatalf("Canonical(%q) = %q keeps a CR", s, c)
		}
		if r, _ := utf8.DecodeLastRuneInString(c); c != "" && r != utf8.RuneError && unicode.IsSpace(r) {
			t.Fatalf("Canonical(%q) = %q ends in white space", s, c)
		}
		if !Valid(Sum(s)) {
			t.Fatalf("Sum(%q) is not a valid digest", s)
		}
	})
}
