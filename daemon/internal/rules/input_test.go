package rules

import (
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
)

func TestCheckAccount(t *testing.T) {
	ok := AccountInput{Platform: "x", Handle: "@ministry", Username: "press@example.org", Password: "pw"}
	with := func(f func(*AccountInput)) AccountInput { in := ok; f(&in); return in }
	for _, tt := range []struct {
		name   string
		in     AccountInput
		want   AccountInput // the normalised input, when accepted
		id     string
		reason string // bad_request reason, when refused
		value  string // the offending value the refusal names
	}{
		{name: "ok", in: ok, want: ok, id: "x:@ministry"},
		{name: "trimmed and lower-cased platform",
			in:   AccountInput{Platform: " Mastodon ", Handle: " @press@social.example ", Username: " press ", Password: " pw "},
			want: AccountInput{Platform: "mastodon", Handle: "@press@social.example", Username: "press", Password: " pw "},
			id:   "mastodon:@press@social.example"},
		{name: "platform with digits and dash", in: with(func(in *AccountInput) { in.Platform = "bsky-2" }),
			want: with(func(in *AccountInput) { in.Platform = "bsky-2" }), id: "bsky-2:@ministry"},
		{name: "platform of 32 characters", in: with(func(in *AccountInput) { in.Platform = "p" + strings.Repeat("a", 31) }),
			want: with(func(in *AccountInput) { in.Platform = "p" + strings.Repeat("a", 31) }), id: "p" + strings.Repeat("a", 31) + ":@ministry"},
		{name: "platform of 33 characters", in: with(func(in *AccountInput) { in.Platform = "p" + strings.Repeat("a", 32) }),
			reason: "platform_syntax", value: "p" + strings.Repeat("a", 32)},
		{name: "no platform", in: with(func(in *AccountInput) { in.Platform = " " }), reason: "platform_syntax", value: ""},
		{name: "platform starting with a digit", in: with(func(in *AccountInput) { in.Platform = "2x" }), reason: "platform_syntax", value: "2x"},
		{name: "platform with a colon", in: with(func(in *AccountInput) { in.Platform = "x:y" }), reason: "platform_syntax", value: "x:y"},
		{name: "platform with an underscore", in: with(func(in *AccountInput) { in.Platform = "x_y" }), reason: "platform_syntax", value: "x_y"},
		{name: "no handle", in: with(func(in *AccountInput) { in.Handle = "  " }), reason: "handle_syntax", value: ""},
		{name: "handle with a colon", in: with(func(in *AccountInput) { in.Handle = "@a:b" }), reason: "handle_syntax", value: "@a:b"},
		{name: "handle with a space", in: with(func(in *AccountInput) { in.Handle = "@a b" }), reason: "handle_syntax", value: "@a b"},
		{name: "handle of 200 characters", in: with(func(in *AccountInput) { in.Handle = strings.Repeat("h", 200) }),
			want: with(func(in *AccountInput) { in.Handle = strings.Repeat("h", 200) }), id: "x:" + strings.Repeat("h", 200)},
		{name: "handle of 201 characters", in: with(func(in *AccountInput) { in.Handle = strings.Repeat("h", 201) }),
			reason: "handle_syntax", value: strings.Repeat("h", 201)},
		{name: "no username", in: with(func(in *AccountInput) { in.Username = " \t" }), reason: "username_missing"},
		{name: "no password", in: with(func(in *AccountInput) { in.Password = "" }), reason: "password_missing"},
		{name: "2FA seed as shown in groups", in: with(func(in *AccountInput) { in.TOTPSeed = "jbsw y3dp ehpk 3pxp" }),
			want: with(func(in *AccountInput) { in.TOTPSeed = "JBSWY3DPEHPK3PXP" }), id: "x:@ministry"},
		{name: "2FA seed over two lines", in: with(func(in *AccountInput) { in.TOTPSeed = "JBSWY3DP\r\nEHPK3PXP\n" }),
			want: with(func(in *AccountInput) { in.TOTPSeed = "JBSWY3DPEHPK3PXP" }), id: "x:@ministry"},
		{name: "2FA seed in groups over lines (decodable as typed, must not be stored so)",
			in:   with(func(in *AccountInput) { in.TOTPSeed = "gezd\r\nGNBV\nGY3T\nQOJQ\nGEZD\nGNBV\nGY3T\nQOJQ" }),
			want: with(func(in *AccountInput) { in.TOTPSeed = rfcSecret }), id: "x:@ministry"},
		{name: "2FA seed with a tab", in: with(func(in *AccountInput) { in.TOTPSeed = "JBSWY3DP\tEHPK3PXP" }),
			want: with(func(in *AccountInput) { in.TOTPSeed = "JBSWY3DPEHPK3PXP" }), id: "x:@ministry"},
		{name: "2FA seed not base32", in: with(func(in *AccountInput) { in.TOTPSeed = "JBSW1Y3DP8" }), reason: "seed_syntax"},
		{name: "2FA seed with dashes", in: with(func(in *AccountInput) { in.TOTPSeed = "JBSW-Y3DP-EHPK-3PXP" }), reason: "seed_syntax"},
		{name: "2FA seed of one character", in: with(func(in *AccountInput) { in.TOTPSeed = "A" }), reason: "seed_syntax"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, id, ref := CheckAccount(tt.in)
			if tt.reason != "" {
				wantRefusal(t, ref, api.CodeBadRequest, tt.reason)
				if ref.Facts != (Facts{Value: tt.value}) {
					// Only the offending public value: never a password or a seed.
					t.Errorf("facts = %+v, want only Value %q", ref.Facts, tt.value)
				}
				if id != "" {
					t.Errorf("a refused account has no id: %q", id)
				}
				return
			}
			wantRefusal(t, ref, "", "")
			if got != tt.want || id != tt.id {
				t.Errorf("CheckAccount = %+v, %q; want %+v, %q", got, id, tt.want, tt.id)
			}
		})
	}
}

func TestCheckApprover(t *testing.T) {
	for _, tt := range []struct {
		name   string
		in     ApproverInput
		want   ApproverInput
		reason string
		value  string
	}{
		{name: "ok", in: ApproverInput{ID: "anna", Name: "Anna Schmidt", OSUser: "anna"},
			want: ApproverInput{ID: "anna", Name: "Anna Schmidt", OSUser: "anna"}},
		{name: "trimmed", in: ApproverInput{ID: " anna.s ", Name: " Anna ", OSUser: " anna "},
			want: ApproverInput{ID: "anna.s", Name: "Anna", OSUser: "anna"}},
		{name: "not mapped to an OS user", in: ApproverInput{ID: "b-2_x", Name: "Ben"}, want: ApproverInput{ID: "b-2_x", Name: "Ben"}},
		{name: "id of 64 characters", in: ApproverInput{ID: strings.Repeat("a", 64), Name: "A"}, want: ApproverInput{ID: strings.Repeat("a", 64), Name: "A"}},
		{name: "id of 65 characters", in: ApproverInput{ID: strings.Repeat("a", 65), Name: "A"}, reason: "approver_id_syntax", value: strings.Repeat("a", 65)},
		{name: "no id", in: ApproverInput{ID: " ", Name: "Anna"}, reason: "approver_id_syntax", value: ""},
		{name: "upper case id", in: ApproverInput{ID: "Anna", Name: "Anna"}, reason: "approver_id_syntax", value: "Anna"},
		{name: "id starting with a dot", in: ApproverInput{ID: ".anna", Name: "Anna"}, reason: "approver_id_syntax", value: ".anna"},
		{name: "id with a slash", in: ApproverInput{ID: "a/b", Name: "Anna"}, reason: "approver_id_syntax", value: "a/b"},
		{name: "id with a space", in: ApproverInput{ID: "anna s", Name: "Anna"}, reason: "approver_id_syntax", value: "anna s"},
		{name: "no name", in: ApproverInput{ID: "anna", Name: "  "}, reason: "approver_name_missing"},
		{name: "name too long", in: ApproverInput{ID: "anna", Name: strings.Repeat("n", MaxApproverName+1)}, reason: "approver_name_syntax"},
		{name: "name with a line break", in: ApproverInput{ID: "anna", Name: "Anna\nBen"}, reason: "approver_name_syntax"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ref := CheckApprover(tt.in)
			if tt.reason != "" {
				wantRefusal(t, ref, api.CodeBadRequest, tt.reason)
				if ref.Facts != (Facts{Value: tt.value}) {
					t.Errorf("facts = %+v, want only Value %q", ref.Facts, tt.value)
				}
				return
			}
			wantRefusal(t, ref, "", "")
			if got != tt.want {
				t.Errorf("CheckApprover = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckAction(t *testing.T) {
	for _, tt := range []struct {
		action string
		ok     bool
	}{
		{api.ActionPost, true}, {api.ActionReply, true}, {api.ActionQuote, true}, {api.ActionRepost, true},
		{"", false}, {"delete", false}, {"Post", false}, {" post", false},
	} {
		t.Run(tt.action, func(t *testing.T) {
			ref := CheckAction(tt.action)
			if tt.ok {
				wantRefusal(t, ref, "", "")
				return
			}
			wantRefusal(t, ref, api.CodeBadRequest, "unknown_action")
			if ref.Facts != (Facts{Value: tt.action}) {
				t.Errorf("facts = %+v", ref.Facts)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tt := range []struct {
		name   string
		pw     string
		reason string
	}{
		{"empty", "", "password_missing"},
		{"a password", "correct horse", ""},
		{"white space is a password", " ", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref := CheckPassword(tt.pw)
			if tt.reason == "" {
				wantRefusal(t, ref, "", "")
				return
			}
			wantRefusal(t, ref, api.CodeBadRequest, tt.reason)
			if ref.Facts != (Facts{}) {
				t.Errorf("a password refusal names nothing: %+v", ref.Facts)
			}
		})
	}
}

// The length bounds hold although the patterns no longer carry them.
func TestInputLengthBounds(t *testing.T) {
	ok := func(p, h string) bool {
		_, _, ref := CheckAccount(AccountInput{Platform: p, Handle: h, Username: "u", Password: "pw"})
		return ref == nil
	}
	if !ok(strings.Repeat("a", 32), "@m") || ok(strings.Repeat("a", 33), "@m") {
		t.Error("platform id bound: 32")
	}
	if !ok("x", strings.Repeat("ä", 200)) || ok("x", strings.Repeat("ä", 201)) {
		t.Error("handle bound: 200 characters")
	}
	id := func(s string) bool { _, ref := CheckApprover(ApproverInput{ID: s, Name: "N"}); return ref == nil }
	if !id(strings.Repeat("a", 64)) || id(strings.Repeat("a", 65)) {
		t.Error("approver id bound: 64")
	}
}
