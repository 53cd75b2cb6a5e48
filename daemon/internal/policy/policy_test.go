package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// sharedDir is the repo's shared/ folder, relative to this package.
var sharedDir = filepath.Join("..", "..", "..", "shared")

func mustParse(t *testing.T, s string) *Policy {
	t.Helper()
	p, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return p
}

func TestMinimalPolicyIsTheDefault(t *testing.T) {
	p := mustParse(t, `{"version":1}`)
	if !reflect.DeepEqual(p, Default()) {
		t.Errorf("{\"version\":1} = %+v, want Default() = %+v", p, Default())
	}
	a, _ := p.Marshal()
	b, _ := Default().Marshal()
	if string(a) != string(b) {
		t.Errorf("marshalled minimal policy differs from default:\n%s\n%s", a, b)
	}
}

func TestDefaultValues(t *testing.T) {
	p := Default()
	if p.Version != 1 || p.TOTPSkewSteps != 1 || p.SessionTTLSeconds != 600 || p.RequestTTLSeconds != 600 ||
		p.MaxOpenRequests != 5 || p.BridgePort != 47321 || !p.Audit.Syslog || p.KeepMedia || p.KeepMediaMaxBytes != 100<<20 {
		t.Errorf("unexpected scalar defaults: %+v", p)
	}
	wantThrottle := Throttle{MaxFailures: 5, WindowSeconds: 900, LockoutSeconds: 60, MaxLockoutSeconds: 3600, MaxConsecutiveFailures: 100}
	if p.Throttle != wantThrottle {
		t.Errorf("throttle = %+v, want %+v", p.Throttle, wantThrottle)
	}
	if !slices.Equal(p.ExtensionIDs, []string{"khjidfhbpkegedbcgmbanfcppfhpdnkp"}) ||
		!slices.Equal(p.FirefoxExtensionIDs, []string{"foureyes@foureyes.eu"}) ||
		!slices.Equal(p.DefaultApprovers, []string{"*"}) {
		t.Errorf("unexpected list defaults: %+v", p)
	}
	if p.PostingHours != nil || p.AuthorMark != nil || len(p.Accounts) != 0 || len(p.MastodonInstances) != 0 {
		t.Errorf("optional parts should be empty by default: %+v", p)
	}
	if p.SessionTTL().Seconds() != 600 || p.Throttle.Window().Minutes() != 15 {
		t.Errorf("durations wrong: %v %v", p.SessionTTL(), p.Throttle.Window())
	}
	// Default must hand out independent copies.
	Default().ExtensionIDs[0] = "changed"
	if Default().ExtensionIDs[0] != DefaultExtensionID {
		t.Error("Default shares state between calls")
	}
}

func TestApprovers(t *testing.T) {
	p := mustParse(t, `{"version":1,
		"accounts": {
			"x:@Ministry": {"approvers": ["anna", "ben"]},
			"mastodon:@press@social.example": {"approvers": ["*"]},
			"bluesky:@ministry.example": {}
		},
		"default_approvers": ["carla"]}`)
	tests := []struct {
		account, approver string
		want              bool
	}{
		{"x:@Ministry", "anna", true},
		{"x:@ministry", "ben", true}, // ids are not case-sensitive
		{"X:@MINISTRY", "anna", true},
		{"x:@ministry", "carla", false}, // listed accounts do not fall back
		{"x:@ministry", "Anna", false},  // approver ids are exact
		{"mastodon:@press@social.example", "zoe", true},
		{"mastodon:@press@social.example", "", false},
		{"mastodon:@press@social.example", "*", false},
		{"bluesky:@ministry.example", "carla", true}, // listed without approvers: default
		{"bluesky:@ministry.example", "anna", false},
		{"x:@other", "carla", true},
		{"x:@other", "anna", false},
	}
	for _, tt := range tests {
		if got := p.MayApprove(tt.account, tt.approver); got != tt.want {
			t.Errorf("MayApprove(%q, %q) = %v, want %v", tt.account, tt.approver, got, tt.want)
		}
	}
	ids, any := p.ApproversFor("x:@ministry")
	if any || !slices.Equal(ids, []string{"anna", "ben"}) {
		t.Errorf("ApproversFor(x:@ministry) = %v, %v", ids, any)
	}
	ids[0] = "mallory"
	if !p.MayApprove("x:@ministry", "anna") {
		t.Error("ApproversFor must return a copy")
	}
	if ids, any := p.ApproversFor("mastodon:@press@social.example"); !any || ids != nil {
		t.Errorf("ApproversFor(*) = %v, %v", ids, any)
	}
	if ids, any := Default().ApproversFor("x:@anything"); !any || ids != nil {
		t.Errorf("default ApproversFor = %v, %v; want any", ids, any)
	}
	if !p.Governs("X:@ministry") || p.Governs("x:@other") {
		t.Error("Governs wrong")
	}

	// A Policy built in Go without Validate still answers.
	q := &Policy{Accounts: map[string]Account{"x:@a": {Approvers: []string{"anna"}}}, DefaultApprovers: []string{"*"}}
	if !q.MayApprove("X:@A", "anna") || q.MayApprove("x:@a", "ben") || !q.MayApprove("x:@b", "ben") {
		t.Error("unvalidated policy answers wrongly")
	}
}

func TestAuthorMark(t *testing.T) {
	p := mustParse(t, `{"version":1,"author_mark":{"pattern":"\\^[A-Z]{2,3}$","hint":"End with ^AB"}}`)
	m := p.AuthorMark
	if !m.Required {
		t.Error("required should default to true when a mark is given")
	}
	for text, want := range map[string]bool{"Hello ^AB": true, "Hello ^ABC": true, "Hello ^ab": false, "Hello": false, "^AB then more": false} {
		if got := m.Matches(text); got != want {
			t.Errorf("Matches(%q) = %v, want %v", text, got, want)
		}
	}
	if !(*AuthorMark)(nil).Matches("anything") {
		t.Error("nil mark must match")
	}
	if p := mustParse(t, `{"version":1,"author_mark":{"required":false,"pattern":"x"}}`); p.AuthorMark.Required {
		t.Error("explicit required:false lost")
	}
	if !(&AuthorMark{Pattern: `\^[A-Z]{2}$`}).Matches("x ^AB") {
		t.Error("an unvalidated mark should compile on the fly")
	}
}

func TestHostsAreLowerCased(t *testing.T) {
	p := mustParse(t, `{"version":1,"mastodon_instances":["Social.Example"]}`)
	if p.MastodonInstances[0] != "social.example" {
		t.Errorf("hosts not normalised: %v", p.MastodonInstances)
	}
}

func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(sharedDir, "examples", "policy-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("expected example policies in shared/examples, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(data)
			if err != nil {
				t.Fatalf("example does not parse: %v", err)
			}
			if p.Description == "" {
				t.Error("examples should say what they are in description")
			}
			checkRoundTrip(t, p)
		})
	}
}

func TestStrictMinistryExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedDir, "examples", "policy-strict-ministry.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if p.PostingHours == nil || p.PostingHours.TimeZone != "Europe/Berlin" || p.PostingHours.Outside != OutsideTwoApprovers {
		t.Errorf("posting hours: %+v", p.PostingHours)
	}
	if p.AuthorMark == nil || !p.AuthorMark.Required {
		t.Errorf("strict parts missing: %+v", p)
	}
}

// schemaNode is the part of JSON Schema the consistency tests read.
type schemaNode struct {
	Description          string                 `json:"description"`
	Type                 any                    `json:"type"`
	Default              any                    `json:"default"`
	Properties           map[string]*schemaNode `json:"properties"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
}

func loadSchema(t *testing.T) (*schemaNode, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedDir, "policy.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	return &root, raw
}

// schemaKeys lists every property path the schema defines; "*" stands for a map's keys. It also
// checks that every property is described and that every object is closed.
func schemaKeys(t *testing.T, n *schemaNode, prefix string, out map[string]bool) {
	if len(n.Properties) > 0 && string(n.AdditionalProperties) != "false" {
		t.Errorf("schema %q: objects with properties must set additionalProperties false", prefix)
	}
	for k, c := range n.Properties {
		p := joinPath(prefix, k)
		out[p] = true
		if strings.TrimSpace(c.Description) == "" {
			t.Errorf("schema property %q has no description", p)
		}
		schemaKeys(t, c, p, out)
	}
	if ap := n.AdditionalProperties; len(ap) > 0 && ap[0] == '{' {
		var c schemaNode
		if err := json.Unmarshal(ap, &c); err != nil {
			t.Fatal(err)
		}
		schemaKeys(t, &c, joinPath(prefix, "*"), out)
	}
}

// goKeys lists every JSON key path of Go type t, in the same notation.
func goKeys(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Map:
		goKeys(t.Elem(), joinPath(prefix, "*"), out)
	case reflect.Struct:
		for f := range t.Fields() {
			if name, ok := jsonName(f); ok {
				p := joinPath(prefix, name)
				out[p] = true
				goKeys(f.Type, p, out)
			}
		}
	}
}

func TestSchemaMatchesGoType(t *testing.T) {
	root, _ := loadSchema(t)
	if root.Description == "" {
		t.Error("schema has no description")
	}
	inSchema := map[string]bool{}
	schemaKeys(t, root, "", inSchema)
	inGo := map[string]bool{}
	goKeys(reflect.TypeFor[Policy](), "", inGo)
	var missing, extra []string
	for k := range inGo {
		if !inSchema[k] {
			missing = append(missing, k)
		}
	}
	for k := range inSchema {
		if !inGo[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("keys of the Go type missing from shared/policy.schema.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("keys in shared/policy.schema.json the Go type does not have: %v", extra)
	}
	if len(inGo) < 30 {
		t.Errorf("only %d keys found: the reflective walk is broken", len(inGo))
	}
}

// TestSchemaDefaults checks that the defaults the schema documents are the ones Parse applies.
func TestSchemaDefaults(t *testing.T) {
	root, _ := loadSchema(t)
	// Optional objects have no defaults of their own; give them the required keys so that the
	// defaults of their other keys show.
	p := mustParse(t, `{"version":1,
		"posting_hours":{"time_zone":"UTC","start":"00:00","end":"24:00"},
		"author_mark":{"pattern":"x"}}`)
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var effective map[string]any
	if err := json.Unmarshal(b, &effective); err != nil {
		t.Fatal(err)
	}
	checked := 0
	var walk func(n *schemaNode, value map[string]any, prefix string)
	walk = func(n *schemaNode, value map[string]any, prefix string) {
		for k, c := range n.Properties {
			p := joinPath(prefix, k)
			v, present := value[k]
			if c.Default != nil {
				checked++
				if !present {
					t.Errorf("schema gives a default for %s, but the effective policy leaves it out", p)
				} else if !reflect.DeepEqual(v, c.Default) {
					t.Errorf("%s: schema default %v, Parse applies %v", p, c.Default, v)
				}
			}
			if sub, ok := v.(map[string]any); ok {
				walk(c, sub, p)
			}
		}
	}
	walk(root, effective, "")
	if checked < 20 {
		t.Errorf("only %d defaults checked", checked)
	}
}

// checkRoundTrip asserts that an accepted policy re-marshals to one that parses back equal.
func checkRoundTrip(t *testing.T, p *Policy) {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatalf("re-parse of marshalled policy failed: %v\n%s", err, b)
	}
	// Keys of NotBuilt are reported for the file they were in; the effective policy leaves
	// them out.
	pc := *p
	pc.ignored = nil
	if !reflect.DeepEqual(&pc, q) {
		t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
	}
	c, _ := q.Marshal()
	if string(b) != string(c) {
		t.Fatalf("marshal is not stable:\n%s\n%s", b, c)
	}
}
