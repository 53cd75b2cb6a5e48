package manifest

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"foureyes/daemon/internal/digest"
)

func TestValidateAcceptsTheLimits(t *testing.T) {
	m := Manifest{Account: "x:@ministry", Action: "reply", Text: "t",
		Target: &Target{URL: "https://x.com/" + strings.Repeat("a", MaxURL-len("https://x.com/")),
			Author: strings.Repeat("ä", MaxAuthor), Excerpt: strings.Repeat("ä", MaxExcerpt)}}
	for range MaxMedia {
		m.Media = append(m.Media, Media{SHA256: shaChart, Size: 0, Type: "application/octet-stream",
			Name: strings.Repeat("ä", MaxName), Alt: strings.Repeat("ä", MaxAlt)})
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("a manifest at every limit is refused: %v", err)
	}
}

func TestDigestRefusesRatherThanHashes(t *testing.T) {
	m := Manifest{Account: "x:@ministry\naction reply", Action: "post"}
	d, err := m.Digest()
	var fe *FieldError
	if d != "" || !errors.As(err, &fe) || fe.Field != "account" {
		t.Fatalf("Digest = %q, %v; want no digest and a refusal naming account", d, err)
	}
}

// FuzzManifest checks that whatever passes validation has exactly one canonical line per field
// and attachment, so that no field can smuggle in a line of another (the digest is then of an
// unambiguous text), and that refusals always name a field.
func FuzzManifest(f *testing.F) {
	f.Add("x:@ministry", "reply", "text\r\n", shaChart, int64(48213), "image/png", "chart.png", "alt ", "https://x.com/i/status/1", true, uint8(1))
	f.Add("x:@ministry", "post", "", shaPhoto, int64(-1), "image/PNG", "a\x00", "", "", false, uint8(11))
	f.Add("a b", "post\n", "x", "", int64(0), "", "", "", "http://x", true, uint8(0))
	f.Fuzz(func(t *testing.T, account, action, text, sha string, size int64, typ, name, alt, url string, hasTarget bool, n uint8) {
		m := Manifest{Account: account, Action: action, Text: text}
		for i := 0; i < int(n%12); i++ {
			m.Media = append(m.Media, Media{SHA256: sha, Size: size, Type: typ, Name: name, Alt: alt})
		}
		if hasTarget {
			m.Target = &Target{URL: url}
		}
		lines, err := m.Lines()
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || !errors.Is(err, ErrInvalid) {
				t.Fatalf("refusal %v names no field", err)
			}
			if d, derr := m.Digest(); d != "" || derr == nil {
				t.Fatalf("Digest of an invalid manifest = %q, %v", d, derr)
			}
			return
		}
		got := strings.Split(lines, "\n")
		if len(got) != 6+len(m.Media) {
			t.Fatalf("%d lines for %d attachments: %q", len(got), len(m.Media), lines)
		}
		wantTarget := NoTarget
		if m.Target != nil {
			wantTarget = m.Target.URL
		}
		want := []string{Version, "account " + account, "action " + action, "text " + digest.Sum(text),
			"target " + wantTarget, "media " + strconv.Itoa(len(m.Media))}
		for i, w := range want {
			if got[i] != w {
				t.Fatalf("line %d = %q, want %q", i, got[i], w)
			}
		}
		for _, l := range got[6:] {
			if l != sha+" "+digest.Sum(alt) {
				t.Fatalf("media line %q", l)
			}
		}
		d, err := m.Digest()
		if err != nil || !digest.Valid(d) {
			t.Fatalf("Digest = %q, %v", d, err)
		}
		// What the daemon stores must read back to the same digest. (JSON turns invalid UTF-8
		// into U+FFFD; on the wire every string is UTF-8 already.)
		if !utf8.ValidString(text) || !utf8.ValidString(name) || !utf8.ValidString(alt) {
			return
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Manifest
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if d2, err := back.Digest(); err != nil || d2 != d {
			t.Fatalf("after a JSON round trip: %q, %v; want %q", d2, err, d)
		}
	})
}
