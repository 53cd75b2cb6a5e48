package digest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

var update = flag.Bool("update", false, "rewrite shared/vectors/digest.json from vectorInputs")

// vectorsPath is the file the extension's tests read as well.
var vectorsPath = filepath.Join("..", "..", "..", "shared", "vectors", "digest.json")

// vectorInputs are the cases of the shared vector file. The expected values in the file are
// computed by this package (go test -run TestVectors -update) and then checked by both sides.
var vectorInputs = []struct{ name, text string }{
	{"plain ascii", "Hello, world."},
	{"umlauts composed (NFC)", "Gr\u00fc\u00dfe aus M\u00fcnchen"},
	{"umlauts decomposed (NFD), same digest as composed", "Gru\u0308\u00dfe aus Mu\u0308nchen"},
	{"german umlauts and sharp s", "\u00c4rger \u00fcber \u00d6l, Stra\u00dfe, \u1e9e"},
	{"crlf line ends", "Line one\r\nLine two\r\n"},
	{"lone cr line ends", "Line one\rLine two"},
	{"trailing spaces and tabs on each line", "Line one  \t\nLine two\t\nLine three "},
	{"trailing blank lines", "Text\n\n\n  \n\t\n"},
	{"leading white space preserved", "  indented\n\tand tabbed"},
	{"tab inside a line preserved", "Name:\tValue"},
	{"nbsp trailing", "Ende\u00a0\nSchluss\u00a0\u00a0"},
	{"nbsp inside a line preserved", "10\u00a0km"},
	{"emoji with zwj sequence and skin tone", "Team \U0001f469\u200d\U0001f4bb\U0001f44d\U0001f3fd \U0001f1e9\U0001f1ea"},
	{"url, hashtags and mentions", "Mehr unter https://example.org/a?b=1&c=2#x #Landtag @presse"},
	{"empty text", ""},
	{"only white space", " \t\r\n\u00a0\n  "},
	{"trailing ideographic space and line separator", "Text\u3000\u2028"},
	{"zero width space and bom are not white space", "Text\u200b\ufeff"},
	{"next line (U+0085) is white space, not a line end", "Text\u0085"},
	{"combining mark after a trailing space stays", "a \u0301"},
	{"mixed line ends and white space", "  Erste Zeile \r\n\r\nZweite\tZeile\u00a0\rDritte\n\n"},
}

const vectorsDescription = "Content digest test vectors for foureyes. canonical = Unicode NFC, " +
	"then CRLF and lone CR to LF, then trailing white space removed from every line and from the " +
	"end of the text. White space is Go's unicode.IsSpace: U+0009-U+000D, U+0020, U+0085, U+00A0, " +
	"U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 (not U+200B, not U+FEFF; " +
	"U+0085, U+2028 and U+2029 are not line ends). digest = lowercase hex SHA-256 of the UTF-8 " +
	"bytes of canonical. Strings use JSON escapes for everything outside printable ASCII."

type vector struct {
	Name      string `json:"name"`
	Text      string `json:"text"`
	Canonical string `json:"canonical"`
	Digest    string `json:"digest"`
}

type vectorFile struct {
	Version     int      `json:"version"`
	Description string   `json:"description"`
	Vectors     []vector `json:"vectors"`
}

// TestVectors keeps the shared file in step with this package: with -update it rewrites the
// file, otherwise it fails when the file differs from what the inputs produce.
func TestVectors(t *testing.T) {
	want := renderVectors()
	if *update {
		if err := os.MkdirAll(filepath.Dir(vectorsPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("reading vectors (generate with -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go test ./daemon/internal/digest -run TestVectors -update", vectorsPath)
	}
}

// TestVectorFile checks every vector in the shared file the way the extension does.
func TestVectorFile(t *testing.T) {
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("decoding %s: %v", vectorsPath, err)
	}
	if f.Version != 1 {
		t.Fatalf("version = %d, want 1", f.Version)
	}
	if len(f.Vectors) < 14 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	byName := map[string]vector{}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			if _, dup := byName[v.Name]; dup {
				t.Fatalf("duplicate vector name")
			}
			byName[v.Name] = v
			if got := Canonical(v.Text); got != v.Canonical {
				t.Errorf("Canonical = %q, want %q", got, v.Canonical)
			}
			if got := Sum(v.Text); got != v.Digest {
				t.Errorf("Sum = %s, want %s", got, v.Digest)
			}
			if got := Sum(v.Canonical); got != v.Digest {
				t.Errorf("Sum(canonical) = %s, want %s", got, v.Digest)
			}
		})
	}
	nfc, nfd := byName["umlauts composed (NFC)"], byName["umlauts decomposed (NFD), same digest as composed"]
	if nfc.Text == nfd.Text || nfc.Digest != nfd.Digest {
		t.Errorf("NFC and NFD vectors must differ in text and agree in digest")
	}
	if v := byName["only white space"]; v.Canonical != "" {
		t.Errorf("only white space: canonical = %q, want empty", v.Canonical)
	}
}

func renderVectors() []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"version\": 1,\n  \"description\": ")
	b.WriteString(quoteASCII(vectorsDescription))
	b.WriteString(",\n  \"vectors\": [\n")
	for i, in := range vectorInputs {
		fmt.Fprintf(&b, "    {\n      \"name\": %s,\n      \"text\": %s,\n      \"canonical\": %s,\n      \"digest\": %q\n    }",
			quoteASCII(in.name), quoteASCII(in.text), quoteASCII(Canonical(in.text)), Sum(in.text))
		if i < len(vectorInputs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("  ]\n}\n")
	return b.Bytes()
}

// quoteASCII encodes s as a JSON string with every character outside printable ASCII escaped,
// so that NFC and NFD, NBSP and space, or a ZWJ are told apart by reading the file.
func quoteASCII(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
