package policy

import (
	"strings"
	"testing"
)

func TestCustodyOneTime(t *testing.T) {
	tests := []struct {
		name string
		json string
		err  string // a validation error that names this, or "" for valid
		// account -> custody in force
		want map[string]string
		warn string // a warning that names this, or "" for none about custody
	}{
		{"per account on X and Mastodon", `{"version":1,"accounts":{"x:@m":{"custody":"one_time"},"mastodon:@p@social.example":{"custody":"one_time"}}}`, "",
			map[string]string{"x:@m": CustodyOneTime, "mastodon:@p@social.example": CustodyOneTime, "x:@other": CustodyStrict}, ""},
		{"per account on Bluesky: an error naming the account and platform", `{"version":1,"accounts":{"bluesky:@m.bsky.social":{"custody":"one_time"}}}`,
			`accounts["bluesky:@m.bsky.social"].custody: one_time changes the password after every posting session, but foureyes cannot change the password of bluesky:@m.bsky.social unattended (changing the password on Bluesky needs a person at the browser)`, nil, ""},
		{"top level: Bluesky held at strict with a warning", `{"version":1,"custody":"one_time","accounts":{"bluesky:@m.bsky.social":{},"x:@m":{}}}`, "",
			map[string]string{"x:@m": CustodyOneTime, "x:@unlisted": CustodyOneTime, "bluesky:@m.bsky.social": CustodyStrict, "bluesky:@unlisted.bsky.social": CustodyStrict},
			"custody one_time does not apply on Bluesky: changing the password on Bluesky needs a person at the browser; accounts there (bluesky:@m.bsky.social) are held at strict custody"},
		{"top level, an account gated", `{"version":1,"custody":"one_time","accounts":{"x:@m":{"custody":"gated"}}}`, "",
			map[string]string{"x:@m": CustodyGated, "mastodon:@p@social.example": CustodyOneTime}, "custody one_time does not apply on Bluesky"},
		{"an unknown mode", `{"version":1,"custody":"once"}`, `custody: `, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.json))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for acc, want := range tt.want {
				if got := p.CustodyFor(acc); got != want {
					t.Errorf("CustodyFor(%s) = %q, want %q", acc, got, want)
				}
			}
			ws := strings.Join(p.Warnings(), "\n")
			if tt.warn == "" && strings.Contains(ws, "one_time") || tt.warn != "" && !strings.Contains(ws, tt.warn) {
				t.Errorf("warnings %q, want %q", ws, tt.warn)
			}
			if (len(p.OneTimeHeld()) > 0) != (tt.warn != "") {
				t.Errorf("OneTimeHeld %q", p.OneTimeHeld())
			}
		})
	}
}

func TestDiffCustodyOneTime(t *testing.T) {
	parse := func(s string) *Policy {
		t.Helper()
		p, err := Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pol := func(top, acc string) *Policy {
		return parse(`{"version":1,"custody":"` + top + `","accounts":{"x:@m":{` + acc + `}}}`)
	}
	tests := []struct {
		name     string
		old, new *Policy
		key      string
		weakens  bool
	}{
		{"one_time down to strict", pol("one_time", ""), pol("strict", ""), "custody", true},
		{"one_time down to gated", pol("one_time", ""), pol("gated", ""), "custody", true},
		{"strict up to one_time", pol("strict", ""), pol("one_time", ""), "custody", false},
		{"gated up to one_time", pol("gated", ""), pol("one_time", ""), "custody", false},
		{"an account one_time down to strict", pol("strict", `"custody":"one_time"`), pol("strict", ""), "accounts.x:@m.custody", true},
		{"an account one_time down to gated", pol("strict", `"custody":"one_time"`), pol("strict", `"custody":"gated"`), "accounts.x:@m.custody", true},
		{"an account up to one_time", pol("strict", ""), pol("strict", `"custody":"one_time"`), "accounts.x:@m.custody", false},
		{"strict down to gated", pol("strict", ""), pol("gated", ""), "custody", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found bool
			for _, c := range Diff(tt.old, tt.new) {
				if c.Key == tt.key {
					found = true
					if c.Weakens != tt.weakens {
						t.Errorf("%+v: weakens %v, want %v", c, c.Weakens, tt.weakens)
					}
				}
			}
			if !found {
				t.Errorf("no change %s in %+v", tt.key, Diff(tt.old, tt.new))
			}
			if Weakened(Diff(tt.old, tt.new)) != tt.weakens {
				t.Errorf("Weakened = %v", !tt.weakens)
			}
		})
	}
}
