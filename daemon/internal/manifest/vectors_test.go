package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

var update = flag.Bool("update", false, "rewrite shared/vectors/manifest.json from vectorInputs and refusalInputs")

// vectorsPath is the file the extension's tests read as well.
var vectorsPath = filepath.Join("..", "..", "..", "shared", "vectors", "manifest.json")

// Two files' SHA-256: of the bytes "chart.png bytes" and "photo.jpg bytes".
const (
	shaChart = "e1bffab6c69f6107ab33c30cea9fd36d2f710586eb49c270ae63031a5af406bf"
	shaPhoto = "6e312f5d45f48a974de81caafb68aa33b81b0452f5be368570387828995e950c"
)

func chart(alt string) string {
	return `{"sha256":"` + shaChart + `","size":48213,"type":"image/png","name":"chart.png"` + alt + `}`
}

func photo(alt string) string {
	return `{"sha256":"` + shaPhoto + `","size":1048576,"type":"image/jpeg","name":"photo.jpg"` + alt + `}`
}

const target = `{"url":"https://x.com/i/status/1234567890","author":"@someone","excerpt":"What does the budget say about schools?"}`

// vectorInputs are the cases of the shared vector file, as raw JSON so that a missing field and
// an empty one can both be written. The expected lines and digests are computed by this package
// (go test -run TestVectors -update) and checked by both sides.
var vectorInputs = []struct{ name, input string }{
	{"plain post, no media, no target", `{"account":"x:@ministry","action":"post","text":"Hello, world."}`},
	{"one image", `{"account":"x:@ministry","action":"post","text":"The budget in one chart.","media":[` + chart(`,"alt":"Bar chart of the 2026 budget"`) + `]}`},
	{"two images in order", `{"account":"x:@ministry","action":"post","text":"Two pictures.","media":[` + chart(`,"alt":"Chart"`) + `,` + photo(`,"alt":"Photo"`) + `]}`},
	{"two images swapped, another digest", `{"account":"x:@ministry","action":"post","text":"Two pictures.","media":[` + photo(`,"alt":"Photo"`) + `,` + chart(`,"alt":"Chart"`) + `]}`},
	{"name, size and type are not in the digest", `{"account":"x:@ministry","action":"post","text":"The budget in one chart.","media":[{"sha256":"` + shaChart + `","size":1,"type":"application/octet-stream","name":"renamed.bin","alt":"Bar chart of the 2026 budget"}]}`},
	{"alt text composed (NFC)", `{"account":"x:@ministry","action":"post","text":"Gr\u00fc\u00dfe","media":[` + chart(`,"alt":"Stra\u00dfe in M\u00fcnchen"`) + `]}`},
	{"alt text decomposed (NFD), same digest as composed", `{"account":"x:@ministry","action":"post","text":"Gr\u00fc\u00dfe","media":[` + chart(`,"alt":"Stra\u00dfe in Mu\u0308nchen"`) + `]}`},
	{"alt text with a trailing space, same digest", `{"account":"x:@ministry","action":"post","text":"Gr\u00fc\u00dfe","media":[` + chart(`,"alt":"Stra\u00dfe in M\u00fcnchen "`) + `]}`},
	{"empty alt text", `{"account":"x:@ministry","action":"post","text":"No description.","media":[` + chart(`,"alt":""`) + `]}`},
	{"missing alt text, same digest as empty", `{"account":"x:@ministry","action":"post","text":"No description.","media":[` + chart(``) + `]}`},
	{"reply with target", `{"account":"x:@ministry","action":"reply","text":"See page 12.","target":` + target + `}`},
	{"quote with the same target, another digest", `{"account":"x:@ministry","action":"quote","text":"See page 12.","target":` + target + `}`},
	{"author and excerpt are not in the digest", `{"account":"x:@ministry","action":"reply","text":"See page 12.","target":{"url":"https://x.com/i/status/1234567890"}}`},
	{"repost with target", `{"account":"x:@ministry","action":"repost","text":"","target":{"url":"https://x.com/i/status/1234567890","author":"@someone"}}`},
	{"reply without target", `{"account":"x:@ministry","action":"reply","text":"See page 12."}`},
	{"text with LF line ends", `{"account":"mastodon:@press@social.example","action":"post","text":"Line one\nLine two"}`},
	{"text with CRLF line ends, same digest as LF", `{"account":"mastodon:@press@social.example","action":"post","text":"Line one\r\nLine two\r\n"}`},
	{"ten images, the most a post takes", `{"account":"x:@ministry","action":"post","text":"Gallery","media":[` + strings.Repeat(chart(``)+`,`, 9) + photo(``) + `]}`},
}

// refusalInputs are inputs both sides must refuse, naming field.
var refusalInputs = []struct{ name, input, field string }{
	{"account missing", `{"action":"post","text":"a"}`, "account"},
	{"account with a space", `{"account":"x:@ministry x","action":"post","text":"a"}`, "account"},
	{"action with a newline", `{"account":"x:@ministry","action":"post\naction reply","text":"a"}`, "action"},
	{"action with a tab", `{"account":"x:@ministry","action":"post\t","text":"a"}`, "action"},
	{"sha256 in uppercase", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + strings.ToUpper(shaChart) + `","size":1,"type":"image/png","name":"a.png"}]}`, "media[0].sha256"},
	{"sha256 too short", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + shaChart[:63] + `","size":1,"type":"image/png","name":"a.png"}]}`, "media[0].sha256"},
	{"second attachment without sha256", `{"account":"x:@ministry","action":"post","text":"a","media":[` + chart(``) + `,{"size":1,"type":"image/png","name":"a.png"}]}`, "media[1].sha256"},
	{"eleven attachments", `{"account":"x:@ministry","action":"post","text":"a","media":[` + strings.Repeat(chart(``)+`,`, 10) + photo(``) + `]}`, "media"},
	{"negative size", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + shaChart + `","size":-1,"type":"image/png","name":"a.png"}]}`, "media[0].size"},
	{"type in uppercase", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + shaChart + `","size":1,"type":"image/PNG","name":"a.png"}]}`, "media[0].type"},
	{"type missing", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + shaChart + `","size":1,"name":"a.png"}]}`, "media[0].type"},
	{"name with a control character", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + shaChart + `","size":1,"type":"image/png","name":"a\u001b[31m.png"}]}`, "media[0].name"},
	{"name too long", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + shaChart + `","size":1,"type":"image/png","name":"` + strings.Repeat("n", MaxName+1) + `"}]}`, "media[0].name"},
	{"alt text too long", `{"account":"x:@ministry","action":"post","text":"a","media":[{"sha256":"` + shaChart + `","size":1,"type":"image/png","name":"a.png","alt":"` + strings.Repeat("\u00e4", MaxAlt+1) + `"}]}`, "media[0].alt"},
	{"target over http", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":"http://x.com/i/status/1"}}`, "target.url"},
	{"target url empty", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":""}}`, "target.url"},
	{"target url is a dash", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":"-"}}`, "target.url"},
	{"target url with a space", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":"https://x.com/i/status/1 2"}}`, "target.url"},
	{"target url with a newline", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":"https://x.com/i/status/1\nmedia 0"}}`, "target.url"},
	{"target url too long", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":"https://x.com/` + strings.Repeat("a", MaxURL-len("https://x.com/")+1) + `"}}`, "target.url"},
	{"author too long", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":"https://x.com/i/status/1","author":"` + strings.Repeat("a", MaxAuthor+1) + `"}}`, "target.author"},
	{"excerpt too long", `{"account":"x:@ministry","action":"reply","text":"a","target":{"url":"https://x.com/i/status/1","excerpt":"` + strings.Repeat("a", MaxExcerpt+1) + `"}}`, "target.excerpt"},
}

const vectorsDescription = "Post manifest test vectors for foureyes. lines = \"foureyes-post/1\", " +
	"\"account <account>\", \"action <action>\", \"text <content digest of text, as in digest.json>\", " +
	"\"target <target.url, or - when there is none>\", \"media <count>\", then per attachment in order " +
	"\"<sha256> <content digest of alt, the digest of the empty text when missing>\", joined with LF, " +
	"no trailing LF. digest = lowercase hex SHA-256 of the UTF-8 bytes of lines. name, size, type, " +
	"author and excerpt are not in the digest. Each refusal must be refused naming field, never hashed."

type vector struct {
	Name   string          `json:"name"`
	Input  json.RawMessage `json:"input"`
	Lines  string          `json:"lines"`
	Digest string          `json:"digest"`
}

type refusal struct {
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
	Field string          `json:"field"`
}

type vectorFile struct {
	Version     int       `json:"version"`
	Description string    `json:"description"`
	Vectors     []vector  `json:"vectors"`
	Refusals    []refusal `json:"refusals"`
}

// decode reads a manifest as the daemon reads it off the wire: unknown fields refused.
func decode(t testing.TB, raw []byte) Manifest {
	t.Helper()
	var m Manifest
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return m
}

// TestVectors keeps the shared file in step with this package: with -update it rewrites the
// file, otherwise it fails when the file differs from what the inputs produce.
func TestVectors(t *testing.T) {
	want := renderVectors(t)
	if *update {
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
		t.Errorf("%s is stale: run go test ./daemon/internal/manifest -run TestVectors -update", vectorsPath)
	}
}

// TestVectorFile checks every vector and refusal in the shared file the way the extension does.
func TestVectorFile(t *testing.T) {
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || len(f.Vectors) < 15 || len(f.Refusals) < 15 {
		t.Fatalf("version %d with %d vectors and %d refusals", f.Version, len(f.Vectors), len(f.Refusals))
	}
	byName := map[string]vector{}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			m := decode(t, v.Input)
			lines, err := m.Lines()
			if err != nil {
				t.Fatal(err)
			}
			if lines != v.Lines {
				t.Errorf("Lines = %q, want %q", lines, v.Lines)
			}
			if d, err := m.Digest(); err != nil || d != v.Digest {
				t.Errorf("Digest = %s, %v, want %s", d, err, v.Digest)
			}
		})
		byName[v.Name] = v
	}
	for _, r := range f.Refusals {
		t.Run(r.Name, func(t *testing.T) {
			m := decode(t, r.Input)
			d, err := m.Digest()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != r.Field {
				t.Fatalf("Digest = %q, %v; want a refusal naming %s", d, err, r.Field)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), r.Field) {
				t.Errorf("error %q does not name %s or match ErrInvalid", err, r.Field)
			}
		})
	}
	same := func(a, b string, want bool) {
		t.Helper()
		va, okA := byName[a]
		vb, okB := byName[b]
		if !okA || !okB {
			t.Fatalf("vectors %q or %q missing", a, b)
		}
		if (va.Digest == vb.Digest) != want || bytes.Equal(va.Input, vb.Input) {
			t.Errorf("%q and %q: same digest = %v, want %v (inputs must differ)", a, b, va.Digest == vb.Digest, want)
		}
	}
	same("two images in order", "two images swapped, another digest", false)
	same("one image", "name, size and type are not in the digest", true)
	same("alt text composed (NFC)", "alt text decomposed (NFD), same digest as composed", true)
	same("alt text composed (NFC)", "alt text with a trailing space, same digest", true)
	same("empty alt text", "missing alt text, same digest as empty", true)
	same("reply with target", "quote with the same target, another digest", false)
	same("reply with target", "author and excerpt are not in the digest", true)
	same("reply with target", "reply without target", false)
	same("text with LF line ends", "text with CRLF line ends, same digest as LF", true)
	if !strings.Contains(byName["reply without target"].Lines, "\ntarget -\n") {
		t.Errorf("reply without target: lines lack %q", "target -")
	}
}

func renderVectors(t *testing.T) []byte {
	f := vectorFile{Version: 1, Description: vectorsDescription}
	for _, in := range vectorInputs {
		m := decode(t, []byte(in.input))
		lines, err := m.Lines()
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		d, _ := m.Digest()
		f.Vectors = append(f.Vectors, vector{Name: in.name, Input: json.RawMessage(in.input), Lines: lines, Digest: d})
	}
	for _, in := range refusalInputs {
		decode(t, []byte(in.input))
		f.Refusals = append(f.Refusals, refusal{Name: in.name, Input: json.RawMessage(in.input), Field: in.field})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	return asciiJSON(b.Bytes())
}

// asciiJSON escapes every character outside ASCII (they only occur inside strings), so that NFC
// and NFD are told apart by reading the file.
func asciiJSON(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			out.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.Bytes()
}
