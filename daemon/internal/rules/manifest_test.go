package rules

import (
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/manifest"
)

const (
	shaChart = "e1bffab6c69f6107ab33c30cea9fd36d2f710586eb49c270ae63031a5af406bf"
	shaPhoto = "6e312f5d45f48a974de81caafb68aa33b81b0452f5be368570387828995e950c"
)

// TestNewRequestManifest: the daemon computes the manifest digest of every request itself, keeps
// the attachments and the answered post with it, refuses a manifest it cannot check (naming the
// field), and refuses a given manifest digest that differs, saying it was the manifest's.
func TestNewRequestManifest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	chart := manifest.Media{SHA256: shaChart, Size: 48213, Type: "image/png", Name: "chart.png", Alt: "Chart"}
	photo := manifest.Media{SHA256: shaPhoto, Size: 1000, Type: "image/jpeg", Name: "photo.jpg"}
	target := &manifest.Target{URL: "https://x.com/i/status/1234567890", Author: "@someone"}
	reply := RequestInput{Account: "x:@m", Action: api.ActionReply, Text: "See page 12.",
		Media: []manifest.Media{chart, photo}, Target: target}
	with := func(f func(*RequestInput)) RequestInput {
		in := reply
		in.Media = append([]manifest.Media(nil), reply.Media...)
		f(&in)
		return in
	}
	digestOf := func(in RequestInput) string {
		d, err := manifest.Manifest{Account: in.Account, Action: in.Action, Text: in.Text, Media: in.Media, Target: in.Target}.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tt := range []struct {
		name   string
		in     RequestInput
		code   api.Code
		reason string
		value  string // the start of Facts.Value: the field named
	}{
		{name: "reply with two images", in: reply},
		{name: "the digest the extension computed agrees", in: with(func(in *RequestInput) { in.ManifestDigest = digestOf(reply) })},
		{name: "a plain post", in: RequestInput{Account: "x:@m", Action: api.ActionPost, Text: "hi"}},
		{name: "a reply whose target the page did not show", in: with(func(in *RequestInput) { in.Target = nil })},
		{name: "the images swapped: the extension's digest is another post's",
			in: with(func(in *RequestInput) {
				in.ManifestDigest = digestOf(reply)
				in.Media[0], in.Media[1] = in.Media[1], in.Media[0]
			}),
			code: api.CodeDigestMismatch, reason: "manifest"},
		{name: "a manifest digest that is not the post's", in: with(func(in *RequestInput) { in.ManifestDigest = strings.Repeat("0", 64) }),
			code: api.CodeDigestMismatch, reason: "manifest"},
		{name: "a bad file digest is refused, never hashed", in: with(func(in *RequestInput) { in.Media[1].SHA256 = strings.ToUpper(shaPhoto) }),
			code: api.CodeBadRequest, reason: "manifest", value: "media[1].sha256: "},
		{name: "a target over http", in: with(func(in *RequestInput) { in.Target = &manifest.Target{URL: "http://x.com/i/status/1"} }),
			code: api.CodeBadRequest, reason: "manifest", value: "target.url: "},
		{name: "eleven attachments", in: with(func(in *RequestInput) {
			for len(in.Media) < manifest.MaxMedia+1 {
				in.Media = append(in.Media, chart)
			}
		}), code: api.CodeBadRequest, reason: "manifest", value: "media: "},
		{name: "an account with a space cannot forge a line", in: with(func(in *RequestInput) { in.Account = "x:@m\naction post" }),
			code: api.CodeBadRequest, reason: "manifest", value: "account: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, d := NewRequest(DefaultConfig(), "r1", "staff", tt.in, "d", tt.in.Text, 0, now)
			if tt.code != "" {
				wantDecision(t, d, "", "", tt.code, tt.reason)
				if !strings.HasPrefix(d.Refusal.Facts.Value, tt.value) {
					t.Errorf("facts value %q does not start with %q", d.Refusal.Facts.Value, tt.value)
				}
				if r.ID != "" {
					t.Errorf("a refused request must not be returned: %+v", r)
				}
				return
			}
			wantDecision(t, d, "request", Info, "", "")
			if r.ManifestDigest != digestOf(tt.in) || len(r.Media) != len(tt.in.Media) || (r.Target == nil) != (tt.in.Target == nil) {
				t.Fatalf("request keeps manifest %s with %d media and target %v; want %s", r.ManifestDigest, len(r.Media), r.Target, digestOf(tt.in))
			}
			if len(tt.in.Media) > 0 {
				// The request keeps its own copy: the caller's slice changing later changes nothing.
				tt.in.Media[0].SHA256 = strings.Repeat("f", 64)
				if r.Media[0].SHA256 == tt.in.Media[0].SHA256 {
					t.Error("the request shares the caller's media list")
				}
			}
			s, _ := NewSession(DefaultConfig(), "s1", r, now)
			if s.ManifestDigest != r.ManifestDigest || len(s.Media) != len(r.Media) {
				t.Errorf("the session binds %q with %d media, want the request's %q", s.ManifestDigest, len(s.Media), r.ManifestDigest)
			}
		})
	}
}

// TestNewRotationManifest: a rotation has a manifest digest too (no media, no target), so its
// session has one like every other.
func TestNewRotationManifest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	in := RequestInput{Account: "x:@m", Text: "Change the password of x:@m"}
	r, d := NewRotation(DefaultConfig(), "r1", "owner", in, "d", in.Text, 0, now)
	wantDecision(t, d, "request", Info, "", "")
	want, err := manifest.Manifest{Account: "x:@m", Action: api.ActionRotate, Text: in.Text}.Digest()
	if err != nil || r.ManifestDigest != want || r.Media != nil || r.Target != nil {
		t.Fatalf("rotation manifest %q (%v), want %q with no media or target", r.ManifestDigest, err, want)
	}
}
