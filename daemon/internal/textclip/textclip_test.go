package textclip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// clipCase is one call of Clip, Line or Words: in and n, and what it must return.
type clipCase struct {
	name string
	in   string
	n    int
	want string
}

func run(t *testing.T, name string, clip func(string, int) string, tests []clipCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clip(tt.in, tt.n); got != tt.want {
				t.Errorf("%s(%q, %d) = %q, want %q", name, tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestClip(t *testing.T) {
	tests := []clipCase{
		{"empty", "", 5, ""},
		{"shorter", "abc", 5, "abc"},
		{"exactly n", "abcde", 5, "abcde"},
		{"one over", "abcdef", 5, "abcde…"},
		{"zero keeps nothing", "abc", 0, "…"},
		{"negative is zero", "abc", -3, "…"},
		{"zero of empty", "", 0, ""},
		{"white space kept", "a\n b\tc d", 5, "a\n b\t…"},
		{"two-byte letters count once", "Grüße aus Köln", 5, "Grüße…"},
		{"cut after a two-byte letter", "ßßßß", 2, "ßß…"},
		{"three-byte characters", "日本語のテキスト", 3, "日本語…"},
		{"four-byte emoji", "🙂🙂🙂", 2, "🙂🙂…"},
		{"precomposed é counts once", "caf\u00e9s", 4, "caf\u00e9…"},
		{"decomposed é is not split", "cafe\u0301s", 4, "caf…"},
		{"decomposed é fits whole", "cafe\u0301s", 5, "cafe\u0301…"},
		{"several marks stay with their letter", "ab\u0323\u0302c", 3, "a…"},
		{"a letter with more marks than n is cut", "e\u0301\u0302\u0303\u0304", 2, "e\u0301…"},
		{"text of marks only", "\u0301\u0302\u0303", 2, "\u0301\u0302…"},
		{"invalid byte counts once and is replaced", "a\xffb", 5, "a\ufffdb"},
		{"invalid byte at the cut", "ab\xffcd", 3, "ab\ufffd…"},
		{"invalid byte after the cut", "abc\xff", 3, "abc…"},
		{"half a sequence at the end", "ab\xe2\x80", 5, "ab\ufffd\ufffd"},
		{"half a sequence cut", "ab\xe2\x80cd", 3, "ab\ufffd…"},
	}
	run(t, "Clip", Clip, tests)
}

func TestLine(t *testing.T) {
	tests := []clipCase{
		{"empty", "", 10, ""},
		{"only white space", " \n\t ", 10, ""},
		{"collapsed and trimmed", "  spaced\n\nout   text ", 40, "spaced out text"},
		{"collapsed before counting", "a  b  c  d", 5, "a b c…"},
		{"cut inside a word", "Today the minister", 8, "Today th…"},
		{"multi-byte after collapsing", "Grüße\n\naus Köln", 9, "Grüße aus…"},
		{"no-break space is white space", "a\u00a0\u00a0b", 3, "a b"},
		{"invalid byte", "a \xff b", 10, "a \ufffd b"},
	}
	run(t, "Line", Line, tests)
}

func TestWords(t *testing.T) {
	tests := []clipCase{
		{"empty", "", 32, ""},
		{"short", "short", 32, "short"},
		{"white space collapsed", "  spaced\n\nout   text ", 32, "spaced out text"},
		{"whole words only", "Today the minister opens the new school", 32, "Today the minister opens the new…"},
		{"a long first word is cut", "https://example.org/a/very/long/link/that/goes/on", 32, "https://example.org/a/very/long/…"},
		{"umlauts count once", "Grüße aus Düsseldorf und Köln an alle", 32, "Grüße aus Düsseldorf und Köln an…"},
		{"exactly n", "abc def", 7, "abc def"},
		{"next word does not fit", "abc def", 6, "abc…"},
		{"decomposed marks count as characters", "cafe\u0301 ole\u0301", 10, "cafe\u0301 ole\u0301"},
		{"decomposed word that does not fit", "cafe\u0301 ole\u0301", 9, "cafe\u0301…"},
		{"long first word with a mark at the cut", "abcde\u0301fgh", 5, "abcd…"},
		{"invalid byte", "ab\xff cd", 32, "ab\ufffd cd"},
	}
	run(t, "Words", Words, tests)
}

// FuzzClip holds the three functions to the package's rule on any input.
func FuzzClip(f *testing.F) {
	for _, s := range []string{"", "abc", "Grüße", "cafe\u0301", "a\xffb", "ab\xe2\x80", "🙂 🙂\n🙂"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 64
		for name, clip := range map[string]func(string, int) string{"Clip": Clip, "Line": Line, "Words": Words} {
			got := clip(s, n)
			if !utf8.ValidString(got) {
				t.Fatalf("%s(%q, %d) = %q is not valid UTF-8", name, s, n, got)
			}
			if c := utf8.RuneCountInString(got); c > max(n, 1)+1 {
				t.Fatalf("%s(%q, %d) = %q has %d characters", name, s, n, got, c)
			}
		}
		if v := valid(s); utf8.RuneCountInString(v) <= max(n, 0) {
			if got := Clip(s, n); got != v {
				t.Fatalf("Clip(%q, %d) = %q, want it whole", s, n, got)
			}
		} else if got := Clip(s, n); !strings.HasSuffix(got, Ellipsis) || !strings.HasPrefix(v, strings.TrimSuffix(got, Ellipsis)) {
			t.Fatalf("Clip(%q, %d) = %q is not a marked prefix", s, n, got)
		}
	})
}
