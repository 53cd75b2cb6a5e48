package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// A policy written for an earlier foureyes keeps loading when it names a feature that is not
// built yet: the key is ignored, reported by Warnings, and the effective policy is unchanged.
func TestNotBuiltKeysAreIgnored(t *testing.T) {
	tests := []struct {
		name, in    string
		wantIgnored []string
		wantWarning string
	}{
		{"editorial sites", `{"version":1,"editorial_sites":["cms.example.org"]}`, []string{"editorial_sites"}, "editorial_sites is not built yet and is ignored"},
		{"actions requiring approval", `{"version":1,"actions_requiring_approval":["post"]}`, []string{"actions_requiring_approval"}, "actions_requiring_approval is not built yet and is ignored"},
		{"any value is ignored", `{"version":1,"editorial_sites":{"mode":["x"]}}`, []string{"editorial_sites"}, "editorial_sites is not built yet"},
		{"both, in file order", `{"editorial_sites":[],"version":1,"actions_requiring_approval":[]}`,
			[]string{"editorial_sites", "actions_requiring_approval"}, "editorial_sites is not built yet"},
		{"none", `{"version":1}`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !slices.Equal(p.IgnoredKeys(), tt.wantIgnored) {
				t.Errorf("IgnoredKeys = %v, want %v", p.IgnoredKeys(), tt.wantIgnored)
			}
			w := strings.Join(p.Warnings(), "\n")
			if tt.wantWarning == "" && w != "" || !strings.Contains(w, tt.wantWarning) {
				t.Errorf("Warnings = %q, want %q", w, tt.wantWarning)
			}
			// The effective policy is the one without the key.
			pc := *p
			pc.ignored = nil
			a, _ := pc.Marshal()
			b, _ := Default().Marshal()
			if string(a) != string(b) {
				t.Errorf("effective policy changed:\n%s", a)
			}
		})
	}
}

func TestNotBuiltKeysAreStillChecked(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"null", `{"version":1,"editorial_sites":null}`, "editorial_sites: null is not allowed"},
		{"duplicate", `{"version":1,"editorial_sites":"a","editorial_sites":"b"}`, "editorial_sites: duplicate key"},
		{"duplicate inside", `{"version":1,"editorial_sites":{"a":1,"a":2}}`, "editorial_sites.a: duplicate key"},
		{"only at the top level", `{"version":1,"throttle":{"editorial_sites":"x"}}`, "throttle.editorial_sites: unknown key"},
		{"other keys still checked", `{"version":1,"editorial_sites":"x","bridge_port":1}`, "bridge_port: 1 is under the minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want an invalid policy error containing %q", err, tt.want)
			}
		})
	}
}

func TestWarningsNameUngovernedPlatforms(t *testing.T) {
	p := mustParse(t, `{"version":1,"accounts":{
		"x:@ministry":{}, "mastodon:@press@social.example":{},
		"instagram:@ministry":{}, "myspace:@ministry":{}}}`)
	w := p.Warnings()
	want := []string{
		`accounts["instagram:@ministry"]: Instagram is not governed yet: foureyes supports X, Mastodon, Bluesky; its rules apply to nothing until it is`,
		`accounts["myspace:@ministry"]: unknown platform "myspace": the platform ids are x, mastodon, bluesky,`,
	}
	if len(w) != len(want) {
		t.Fatalf("Warnings = %q, want %d", w, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(w[i], want[i]) {
			t.Errorf("warning %d = %q, want it to start %q", i, w[i], want[i])
		}
	}
	if w := Default().Warnings(); len(w) != 0 {
		t.Errorf("default policy warns: %q", w)
	}
}
