package platforms

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/shared"
)

func TestEmbeddedTable(t *testing.T) {
	if _, err := load(); err != nil {
		t.Fatalf("shared/platforms.json: %v", err)
	}
	// The daemon does not check the schema at start: this test does, for the table it embeds.
	if _, err := parseChecked(shared.PlatformsJSON, shared.PlatformsSchemaJSON); err != nil {
		t.Fatalf("shared/platforms.json against its schema: %v", err)
	}
	// The embedded bytes are the repo's file, not a stale copy.
	disk, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "platforms.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(disk) != string(shared.PlatformsJSON) {
		t.Error("embedded platform table differs from shared/platforms.json")
	}
}

func TestAllAndGet(t *testing.T) {
	all := All()
	if len(all) < 2 || all[0].ID != "x" || all[1].ID != "mastodon" {
		t.Fatalf("All() does not keep table order: %v", all)
	}
	all[0].Hosts[0] = "changed.example"
	if x, _ := Get("x"); x.Hosts[0] == "changed.example" {
		t.Error("All shares its slices with the table")
	}
	tests := []struct {
		name, id   string
		wantOK     bool
		wantStatus string
	}{
		{"supported", "x", true, StatusSupported},
		{"upper case", "X", true, StatusSupported},
		{"instances from policy", "mastodon", true, StatusSupported},
		{"planned", "facebook", true, StatusPlanned},
		{"unknown", "myspace", false, ""},
		{"empty", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := Get(tt.id)
			if ok != tt.wantOK || p.Status != tt.wantStatus {
				t.Errorf("Get(%q) = %+v, %v; want status %q, %v", tt.id, p, ok, tt.wantStatus, tt.wantOK)
			}
		})
	}
	m, _ := Get("mastodon")
	if !m.InstancesFromPolicy || len(m.Publish) == 0 || m.Publish[0].PathRegex == "" {
		t.Errorf("mastodon entry incomplete: %+v", m)
	}
}

func TestGoverned(t *testing.T) {
	tests := []struct {
		name, id string
		want     []string // substrings of the error; nil for no error
	}{
		{"supported", "x", nil},
		{"supported, other case", "Mastodon", nil},
		{"planned", "facebook", []string{"Facebook is not governed yet: foureyes supports X, Mastodon, Bluesky"}},
		{"planned tier 2", "pinterest", []string{"Pinterest is not governed yet"}},
		{"unknown", "myspace", []string{`unknown platform "myspace"`, "x, mastodon, bluesky, facebook"}},
		{"empty", "", []string{`unknown platform ""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Governed(tt.id)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Governed(%q) = %v, want nil", tt.id, err)
				}
				return
			}
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != api.CodeBadRequest {
				t.Fatalf("Governed(%q) = %#v, want an *api.Error with code bad_request", tt.id, err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Governed(%q) = %q, want it to contain %q", tt.id, err, s)
				}
			}
		})
	}
}

// okEntry is a good supported entry the table tests below break one way at a time.
const okEntry = `{"id":"x","name":"X","tier":1,"status":"supported","hosts":["x.com"],
		"publish":[{"action":"post","method":"POST","url_regex":"^https://x\\.com/post"}],
		"composer":{"text":["t"],"submit":["s"]},"actions":[{"action":"post"}]}`

// withAPI is okEntry publishing on a path of the API hosts given (a JSON list's items).
func withAPI(hosts string) string {
	e := strings.Replace(okEntry, `"url_regex":"^https://x\\.com/post"`, `"path_regex":"^/post"`, 1)
	return strings.Replace(e, `"hosts":["x.com"]`, `"hosts":["x.com"],"api_hosts":[`+hosts+`]`, 1)
}

// withBody is withAPI("*.b.example") with the endpoint keyed by body_match m.
func withBody(m string) string {
	return strings.Replace(withAPI(`"*.b.example"`), `"path_regex":"^/post"`, `"path_regex":"^/post","body_match":`+m, 1)
}

func TestParseRefusesBadTables(t *testing.T) {
	const ok = `{"id":"x","name":"X","tier":1,"status":"supported","hosts":["x.com"],
		"publish":[{"action":"post","method":"POST","url_regex":"^https://x\\.com/post"}],
		"composer":{"text":["t"],"submit":["s"]},"actions":[{"action":"post"}]}`
	tests := []struct {
		name, table, want string
	}{
		{"not JSON", `{`, "not valid JSON"},
		{"trailing data", `{"version":1,"platforms":[]} {}`, "not valid JSON"},
		{"wrong version", `{"version":2,"platforms":[]}`, "/version"},
		{"unknown key", `{"version":1,"platforms":[],"extra":1}`, "extra"},
		{"bad id", `{"version":1,"platforms":[{"id":"My Space","name":"M","tier":1,"status":"planned","hosts":[]}]}`, "/platforms/0/id"},
		{"supported without rules", `{"version":1,"platforms":[{"id":"m","name":"M","tier":1,"status":"supported","hosts":["m.example"]}]}`, "publish"},
		{"bad status", `{"version":1,"platforms":[{"id":"m","name":"M","tier":1,"status":"maybe","hosts":[]}]}`, "/platforms/0/status"},
		{"login url not a URI", `{"version":1,"platforms":[{"id":"m","name":"M","tier":1,"status":"planned","hosts":[],"login":{"url":"::"}}]}`, "/platforms/0/login/url"},
		{"duplicate id", `{"version":1,"platforms":[` + ok + `,` + ok + `]}`, `id "x" is used twice`},
		{"host on two platforms", `{"version":1,"platforms":[` + ok + `,{"id":"y","name":"Y","tier":1,"status":"planned","hosts":["x.com"]}]}`, `host "x.com" is also listed for x`},
		{"look-ahead is not RE2", `{"version":1,"platforms":[` + strings.Replace(ok, `/post`, `/(?=post)`, 1) + `]}`, "not a valid RE2"},
		{"back-reference is not RE2", `{"version":1,"platforms":[` + strings.Replace(ok, `/post`, `/(a)\\1`, 1) + `]}`, "not a valid RE2"},
		{"unanchored endpoint", `{"version":1,"platforms":[` + strings.Replace(ok, `^https`, `https`, 1) + `]}`, "must start with ^"},
		{"bad action url_regex", `{"version":1,"platforms":[` + strings.Replace(ok, `{"action":"post"}]`, `{"action":"reply","url_regex":"(?<=a)b"}]`, 1) + `]}`, "actions[0]"},
		{"api host with a wildcard inside", `{"version":1,"platforms":[` + withAPI(`"a.*.example"`) + `]}`, "api_hosts/0"},
		{"api host bare wildcard", `{"version":1,"platforms":[` + withAPI(`"*"`) + `]}`, "api_hosts/0"},
		{"api host one label", `{"version":1,"platforms":[` + withAPI(`"*.com"`) + `]}`, "api_hosts/0"},
		{"api host on two platforms", `{"version":1,"platforms":[` + withAPI(`"*.b.example"`) + `,{"id":"y","name":"Y","tier":1,"status":"planned","hosts":[],"api_hosts":["*.b.example"]}]}`, `host "*.b.example" is also listed for x`},
		{"path_regex without hosts for it", `{"version":1,"platforms":[` + strings.Replace(ok, `"url_regex":"^https://x\\.com/post"`, `"path_regex":"^/post"`, 1) + `]}`, "needs api_hosts or instances_from_policy"},
		{"body_match bad path", `{"version":1,"platforms":[` + withBody(`{"path":"writes..collection","equals":"a"}`) + `]}`, "body_match"},
		{"body_match nothing to equal", `{"version":1,"platforms":[` + withBody(`{"path":"collection","equals":""}`) + `]}`, "body_match"},
		{"body_match without equals", `{"version":1,"platforms":[` + withBody(`{"path":"collection"}`) + `]}`, "equals"},
		{"body_match unknown key", `{"version":1,"platforms":[` + withBody(`{"path":"collection","equals":"a","regex":".*"}`) + `]}`, "regex"},
		{"upload not anchored", `{"version":1,"platforms":[` + strings.Replace(ok, `"composer"`, `"media":{"preview":"p","upload":[{"method":"POST","url_regex":"https://u\\.x\\.com/up","response_id":"id"}]},"composer"`, 1) + `]}`, "media.upload[0]"},
		{"upload with both url and path", `{"version":1,"platforms":[` + strings.Replace(ok, `"composer"`, `"media":{"preview":"p","upload":[{"method":"POST","url_regex":"^https://u","path_regex":"^/up","response_id":"id"}]},"composer"`, 1) + `]}`, "/platforms/0/media/upload/0"},
		{"body_media not a path", `{"version":1,"platforms":[` + strings.Replace(ok, `"url_regex":"^https://x\\.com/post"`, `"url_regex":"^https://x\\.com/post","body_media":5`, 1) + `]}`, "/platforms/0/publish/0/body_media"},
		{"unknown content address", `{"version":1,"platforms":[` + strings.Replace(ok, `"composer"`, `"media":{"preview":"p","content_id":"md5","upload":[{"method":"POST","url_regex":"^https://u","response_id":"id"}]},"composer"`, 1) + `]}`, "/platforms/0/media/content_id"},
		{"target id without a group", `{"version":1,"platforms":[` + strings.Replace(ok, `"composer"`, `"target":{"post":["a"],"link":"a","id_regex":"/status/[0-9]+","url_template":"https://x.com/i/status/{id}"},"composer"`, 1) + `]}`, "target.id_regex"},
		{"target template without id", `{"version":1,"platforms":[` + strings.Replace(ok, `"composer"`, `"target":{"post":["a"],"link":"a","id_regex":"/status/([0-9]+)","url_template":"https://x.com/i/status/"},"composer"`, 1) + `]}`, "url_template"},
		{"repost target without a group", `{"version":1,"platforms":[` + strings.Replace(ok, `"url_regex":"^https://x\\.com/post"`, `"url_regex":"^https://x\\.com/post","url_target":"/s/[0-9]+"`, 1) + `]}`, "url_target"},
		{"empty publish list", `{"version":1,"platforms":[` + strings.Replace(ok, `[{"action":"post","method":"POST","url_regex":"^https://x\\.com/post"}]`, `[]`, 1) + `]}`, "at least one publish endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseChecked([]byte(tt.table), shared.PlatformsSchemaJSON)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	// The fixture itself is good, so each case above fails for its own reason.
	if _, err := parseChecked([]byte(`{"version":1,"platforms":[`+ok+`]}`), shared.PlatformsSchemaJSON); err != nil {
		t.Fatalf("good fixture refused: %v", err)
	}
}

func TestEveryExpressionIsRE2(t *testing.T) {
	n := 0
	for _, p := range All() {
		for _, e := range p.Publish {
			n++
			if err := checkRegex(e.URLRegex+e.PathRegex, true); err != nil {
				t.Errorf("%s: %v", p.ID, err)
			}
		}
	}
	// Attachments and targets: every platform with a target reads an id from its own template.
	for _, p := range []string{"x", "mastodon", "bluesky"} {
		var raw struct {
			Platforms []struct {
				ID     string      `json:"id"`
				Target *targetSpec `json:"target"`
				Media  *mediaSpec  `json:"media"`
			} `json:"platforms"`
		}
		if err := json.Unmarshal(shared.PlatformsJSON, &raw); err != nil {
			t.Fatal(err)
		}
		for _, e := range raw.Platforms {
			if e.ID != p {
				continue
			}
			if e.Target == nil || e.Media == nil {
				t.Fatalf("%s: the table does not describe attachments and target posts", p)
			}
			addr := strings.ReplaceAll(strings.ReplaceAll(e.Target.URLTemplate, "{id}", "1234567890"), "{instance}", "social.example")
			m := regexp.MustCompile(e.Target.IDRegex).FindStringSubmatch(addr)
			if m == nil || m[1] != "1234567890" {
				t.Errorf("%s: id_regex %q does not read the id back from the address %q", p, e.Target.IDRegex, addr)
			}
		}
	}
	if n < 5 || !slices.ContainsFunc(All(), func(p Platform) bool { return p.Status == StatusPlanned }) {
		t.Errorf("table looks truncated: %d endpoints", n)
	}
}

// The daemon checks the table without the schema at run time: parse alone refuses what the
// schema would, for the keys it reads.
func TestParseAloneRefusesBadAPIHostsAndBodyKeys(t *testing.T) {
	for _, tt := range []struct{ name, entry, want string }{
		{"wildcard inside", withAPI(`"a.*.example"`), "not a lower-case host label"},
		{"upper case", withAPI(`"*.B.example"`), "not a lower-case host label"},
		{"one label", withAPI(`"*.com"`), "two labels"},
		{"port", withAPI(`"b.example:443"`), "not a lower-case host label"},
		{"bad body path", withBody(`{"path":"a.*x","equals":"a"}`), "body_match"},
		{"empty also", withBody(`{"path":"a","equals":"a","also":[""]}`), "body_match"},
		{"body_media not a path", strings.Replace(okEntry, `"url_regex":"^https://x\\.com/post"`, `"url_regex":"^https://x\\.com/post","body_media":5`, 1), "a path or a list of paths"},
		{"unknown content address", strings.Replace(okEntry, `"composer"`, `"media":{"preview":"p","content_id":"md5","upload":[{"method":"POST","url_regex":"^https://u","response_id":"id"}]},"composer"`, 1), "content_id"},
		{"path_regex without hosts", strings.Replace(okEntry, `"url_regex":"^https://x\\.com/post"`, `"path_regex":"^/post"`, 1), "needs api_hosts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse([]byte(`{"version":1,"platforms":[` + tt.entry + `]}`))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parse = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := parse([]byte(`{"version":1,"platforms":[` + withBody(`{"path":"writes.*.collection","equals":"a","also":["b"]}`) + `]}`)); err != nil {
		t.Fatalf("good entry refused: %v", err)
	}
}

func TestMatchHost(t *testing.T) {
	for _, tt := range []struct {
		pattern, host string
		want          bool
	}{
		{"*.bsky.network", "morel.us-east.host.bsky.network", true},
		{"*.bsky.network", "PDS.bsky.network.", true},
		{"*.bsky.network", "bsky.network", false},
		{"*.bsky.network", "evilbsky.network", false},
		{"*.bsky.network", "bsky.network.evil.example", false},
		{"bsky.social", "bsky.social", true},
		{"bsky.social", "a.bsky.social", false},
		{"a.*.example", "a.b.example", false},
	} {
		if got := MatchHost(tt.pattern, tt.host); got != tt.want {
			t.Errorf("MatchHost(%q, %q) = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
}

func TestBlueskyEntry(t *testing.T) {
	b, ok := Get("bluesky")
	if !ok || !b.Supported() || !b.Rotatable || len(b.APIHosts) == 0 {
		t.Fatalf("bluesky entry: %+v", b)
	}
	if x, _ := Get("x"); !x.Rotatable {
		t.Error("x has a change-password form in the table, but Rotatable is false")
	}
	for _, e := range b.Publish {
		if e.BodyMatch == nil {
			t.Errorf("bluesky %s endpoint is not keyed by its body: a like would pass for it", e.Action)
		}
	}
	// The whole post: applyWrites names the images by blob CID and the answered or quoted post by
	// its at:// address, whose record key is the id the composer's links give too.
	post := b.Publish[0]
	if post.Action != "post" || !slices.Equal(post.BodyMedia, Paths{"writes.*.value.embed.images.*.image.ref.$link", "writes.*.value.embed.media.images.*.image.ref.$link"}) || !slices.Contains(post.BodyTarget, "writes.*.value.reply.parent.uri") || !slices.Contains(post.BodyTarget, "writes.*.value.embed.record.uri") {
		t.Errorf("bluesky applyWrites does not say where the images and the answered or quoted post are: %+v", post)
	}
	if rp := b.Publish[1]; rp.Action != "repost" || !slices.Equal(rp.BodyTarget, []string{"record.subject.uri"}) {
		t.Errorf("bluesky createRecord does not say where the reposted post is: %+v", rp)
	}
	var raw struct {
		Platforms []struct {
			ID     string `json:"id"`
			Media  *mediaSpec
			Target *targetSpec
		} `json:"platforms"`
	}
	if err := json.Unmarshal(shared.PlatformsJSON, &raw); err != nil {
		t.Fatal(err)
	}
	for _, e := range raw.Platforms {
		if e.ID != "bluesky" {
			continue
		}
		if e.Media == nil || e.Media.ContentID != "cid_raw_sha256" || len(e.Media.Upload) != 1 || e.Media.Upload[0].ResponseID != "blob.ref.$link" {
			t.Fatalf("bluesky media: %+v", e.Media)
		}
		re := regexp.MustCompile(e.Target.IDRegex)
		for _, addr := range []string{"at://did:plc:abc/app.bsky.feed.post/3kabc2def", "/profile/someone.bsky.social/post/3kabc2def"} {
			if m := re.FindStringSubmatch(addr); m == nil || m[1] != "3kabc2def" {
				t.Errorf("id_regex %q reads %v from %q, want the record key", e.Target.IDRegex, m, addr)
			}
		}
	}
}

// A change-password form is one form filled at once, or steps; the daemon refuses steps the
// extension could not drive safely, with the schema and without it (parse alone).
func TestPasswordSteps(t *testing.T) {
	const base = `{"id":"x","name":"X","tier":1,"status":"supported","hosts":["x.com"],
		"publish":[{"action":"post","method":"POST","url_regex":"^https://x\\.com/post"}],
		"composer":{"text":["t"],"submit":["s"]},"actions":[{"action":"post"}],
		"password":{"url":"https://x.com/pw",PW,"success":"s","error":"e"}}`
	table := func(pw string) []byte {
		return []byte(`{"version":1,"platforms":[` + strings.Replace(base, "PW", pw, 1) + `]}`)
	}
	person := `{"person":"#code","pattern":"^[A-Z]{5}$","notice":"rotate_email_code","timeout_s":600}`
	good := map[string]string{
		"form":  `"current":"#c","new":"#n","confirm":"#f","submit":["#s"]`,
		"steps": `"steps":[{"click":"#req"},` + person + `,{"new":"#n"},{"submit":["#s"]}]`,
	}
	for name, pw := range good {
		ps, err := parseChecked(table(pw), shared.PlatformsSchemaJSON)
		if err != nil || len(ps) != 1 || !ps[0].Rotatable {
			t.Errorf("%s: %v %+v", name, err, ps)
		}
	}
	bad := []struct{ name, pw, want string }{
		{"both", `"current":"#c","new":"#n","confirm":"#f","submit":["#s"],"steps":[{"new":"#n"},{"submit":["#s"]}]`, "not both"},
		{"neither", `"url2":1`, "needs the form's fields"},
		{"form without confirm", `"current":"#c","new":"#n","submit":["#s"]`, "current, new, confirm and submit"},
		{"no new password", `"steps":[{"click":"#req"},{"submit":["#s"]}]`, "no field for the new password"},
		{"submit not last", `"steps":[{"submit":["#s"]},{"new":"#n"}]`, "the last step, and only it, is the submit"},
		{"two kinds in a step", `"steps":[{"new":"#n","click":"#b"},{"submit":["#s"]}]`, "exactly one of"},
		{"person without notice", `"steps":[{"person":"#code","timeout_s":60},{"new":"#n"},{"submit":["#s"]}]`, "needs the notice"},
		{"person without time limit", `"steps":[{"person":"#code","notice":"n"},{"new":"#n"},{"submit":["#s"]}]`, "needs the notice"},
		{"person pattern not RE2", `"steps":[{"person":"#code","notice":"n","timeout_s":60,"pattern":"(?=a)"},{"new":"#n"},{"submit":["#s"]}]`, "not a valid RE2"},
		{"notice outside a person step", `"steps":[{"new":"#n","notice":"n"},{"submit":["#s"]}]`, "belong to a person step"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parse(table(tt.pw)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parse: %v, want %q", err, tt.want)
			}
			if _, err := parseChecked(table(tt.pw), shared.PlatformsSchemaJSON); err == nil {
				t.Error("the schema and parse accepted it")
			}
		})
	}
}
