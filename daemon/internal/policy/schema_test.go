package policy

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"foureyes/shared"
	"foureyes/shared/schemacheck"
)

func policySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := schemacheck.CompileSchema("policy.schema.json", shared.PolicySchemaJSON)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExamplesFitSchema validates every example policy, and the embedded default as Marshal
// writes it, against shared/policy.schema.json with a full JSON Schema validator.
func TestExamplesFitSchema(t *testing.T) {
	s := policySchema(t)
	files, err := filepath.Glob(filepath.Join(sharedDir, "examples", "*.json"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	def, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"embedded default": def}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(f)] = b
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if err := schemacheck.ValidateJSON(s, b); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSchemaAgreesWithParse runs good and bad policies through both the schema and Parse and
// requires the same verdict, except where listed below with the reason.
func TestSchemaAgreesWithParse(t *testing.T) {
	s := policySchema(t)
	tests := []struct {
		name, in string
		// differs, when set, says why Parse refuses what the schema accepts ("parse stricter")
		// or accepts what the schema refuses ("schema stricter").
		differs string
	}{
		{"minimal", `{"version":1}`, ""},
		{"no version", `{}`, ""},
		{"version 2", `{"version":2}`, ""},
		{"unknown key", `{"version":1,"colour":"red"}`, ""},
		{"null", `{"version":1,"default_approvers":null}`, ""},
		{"not an object", `[]`, ""},
		{"accounts", `{"version":1,"accounts":{"x:@m":{"approvers":["anna","ben"]},"mastodon:@p@social.example":{}}}`, ""},
		{"account id without platform", `{"version":1,"accounts":{"@m":{}}}`, ""},
		{"account id upper-case platform", `{"version":1,"accounts":{"X:@m":{}}}`, ""},
		{"empty approver list", `{"version":1,"accounts":{"x:@m":{"approvers":[]}}}`, ""},
		{"duplicate approver", `{"version":1,"default_approvers":["anna","anna"]}`, ""},
		{"approver with space", `{"version":1,"default_approvers":["an na"]}`, ""},
		{"star and names", `{"version":1,"default_approvers":["*","anna"]}`, "parse stricter: \"any approver\" mixed with names is ambiguous; JSON Schema cannot say it without listing both shapes"},
		{"posting hours", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:00","end":"20:00"}}`, ""},
		{"posting hours 24:00", `{"version":1,"posting_hours":{"time_zone":"UTC","start":"00:00","end":"24:00"}}`, ""},
		{"posting hours without zone", `{"version":1,"posting_hours":{"start":"07:00","end":"20:00"}}`, ""},
		{"posting hours bad time", `{"version":1,"posting_hours":{"time_zone":"UTC","start":"7:00","end":"20:00"}}`, ""},
		{"posting hours unknown zone", `{"version":1,"posting_hours":{"time_zone":"Mars/Olympus","start":"07:00","end":"20:00"}}`, "parse stricter: the IANA zone database is not in the schema"},
		{"posting hours end before start", `{"version":1,"posting_hours":{"time_zone":"UTC","start":"20:00","end":"07:00"}}`, "parse stricter: the schema cannot compare two values"},
		{"bad day", `{"version":1,"posting_hours":{"time_zone":"UTC","start":"07:00","end":"20:00","days":["monday"]}}`, ""},
		{"skew too large", `{"version":1,"totp_skew_steps":4}`, ""},
		{"ttl too short", `{"version":1,"session_ttl_seconds":29}`, ""},
		{"ttl as string", `{"version":1,"session_ttl_seconds":"600"}`, ""},
		{"ttl with fraction", `{"version":1,"session_ttl_seconds":600.5}`, ""},
		{"ttl with exponent", `{"version":1,"session_ttl_seconds":6e2}`, "parse stricter: JSON Schema counts 6e2 as the integer 600; Parse wants whole numbers written plainly"},
		{"throttle", `{"version":1,"throttle":{"max_failures":3,"window_seconds":600}}`, ""},
		{"throttle over NIST", `{"version":1,"throttle":{"max_consecutive_failures":101}}`, ""},
		{"lockout above maximum", `{"version":1,"throttle":{"lockout_seconds":600,"max_lockout_seconds":60}}`, "parse stricter: the schema cannot compare two values"},
		{"author mark", `{"version":1,"author_mark":{"pattern":"\\^[A-Z]{2}$"}}`, ""},
		{"author mark without pattern", `{"version":1,"author_mark":{"hint":"x"}}`, ""},
		{"author mark bad regexp", `{"version":1,"author_mark":{"pattern":"("}}`, "parse stricter: the schema says \"a regular expression\" but has no keyword to check one"},
		{"extension id", `{"version":1,"extension_ids":["abcdefghijklmnopabcdefghijklmnop"]}`, ""},
		{"bad extension id", `{"version":1,"extension_ids":["xyz"]}`, ""},
		{"firefox id", `{"version":1,"firefox_extension_ids":["{12345678-1234-1234-1234-123456789abc}"]}`, ""},
		{"bad firefox id", `{"version":1,"firefox_extension_ids":["no-at-sign"]}`, ""},
		{"low port", `{"version":1,"bridge_port":80}`, ""},
		{"mastodon instance", `{"version":1,"mastodon_instances":["social.example"]}`, ""},
		{"mastodon instance with scheme", `{"version":1,"mastodon_instances":["https://social.example"]}`, ""},
		{"mastodon instance IP", `{"version":1,"mastodon_instances":["10.0.0.1"]}`, "parse stricter: an IP address matches the host name pattern"},
		{"audit", `{"version":1,"audit":{"syslog":false}}`, ""},
		{"audit unknown", `{"version":1,"audit":{"file":"/tmp/x"}}`, ""},
		{"collector", `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514","ca_file":"/etc/foureyes/ca.pem"}}}`, ""},
		{"collector mutual TLS", `{"version":1,"audit":{"collector":{"address":"[2001:db8::1]:6514","ca_file":"/etc/ca.pem","client_cert_file":"/etc/c.pem","client_key_file":"/etc/k.pem","server_name":"logs.example.org","queue_max_mib":16}}}`, ""},
		{"collector without CA", `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514"}}}`, ""},
		{"collector without port", `{"version":1,"audit":{"collector":{"address":"logs.example.org","ca_file":"/etc/ca.pem"}}}`, ""},
		{"collector relative CA", `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514","ca_file":"ca.pem"}}}`, ""},
		{"collector queue too large", `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514","ca_file":"/etc/ca.pem","queue_max_mib":5000}}}`, ""},
		{"collector insecure", `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514","ca_file":"/etc/ca.pem","insecure_skip_verify":true}}}`, ""},
		{"collector cert without key", `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514","ca_file":"/etc/ca.pem","client_cert_file":"/etc/c.pem"}}}`, "parse stricter: \"both or neither\" is left to Parse's message, which names the missing half"},
		{"collector port out of range", `{"version":1,"audit":{"collector":{"address":"logs.example.org:70000","ca_file":"/etc/ca.pem"}}}`, "parse stricter: the schema's pattern does not count to 65535"},
		{"long description", `{"version":1,"description":"` + strings.Repeat("x", 2001) + `"}`, ""},
		{"editorial sites, not built", `{"version":1,"editorial_sites":["cms.example"]}`, "schema stricter: Parse ignores keys of features not built yet so that old files keep loading; the schema no longer offers them"},
		{"actions requiring approval, not built", `{"version":1,"actions_requiring_approval":["post"]}`, "schema stricter: as editorial_sites"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schemaErr := schemacheck.ValidateJSON(s, []byte(tt.in))
			_, parseErr := Parse([]byte(tt.in))
			switch {
			case strings.HasPrefix(tt.differs, "parse stricter"):
				if schemaErr != nil || parseErr == nil {
					t.Errorf("listed as accepted by the schema only; schema: %v, Parse: %v", schemaErr, parseErr)
				}
			case strings.HasPrefix(tt.differs, "schema stricter"):
				if schemaErr == nil || parseErr != nil {
					t.Errorf("listed as accepted by Parse only; schema: %v, Parse: %v", schemaErr, parseErr)
				}
			case (schemaErr == nil) != (parseErr == nil):
				t.Errorf("schema and Parse disagree\nschema: %v\nParse:  %v", schemaErr, parseErr)
			}
		})
	}
}

// TestEveryKeyIsRead fails when a key of shared/policy.schema.json is read by nothing: for each
// key, the Go field it decodes into must be selected (x.Field) somewhere in daemon/ outside this
// package and outside tests. A documented key that nothing reads promises a rule nobody keeps.
func TestEveryKeyIsRead(t *testing.T) {
	var schema struct {
		Properties map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(shared.PolicySchemaJSON, &schema); err != nil {
		t.Fatal(err)
	}
	// Keys whose value is for people or editors, not for a rule.
	forPeople := map[string]string{
		"$schema":     "editor hint; Parse accepts and ignores it",
		"version":     "read by Parse itself (checkVersion)",
		"description": "shown by foureyes policy show, which prints the whole policy",
	}
	fields := map[string]string{} // key path -> Go field name
	var collect func(t reflect.Type, prefix string)
	collect = func(rt reflect.Type, prefix string) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct {
			return
		}
		for f := range rt.Fields() {
			if name, ok := jsonName(f); ok {
				fields[joinPath(prefix, name)] = f.Name
				collect(f.Type, joinPath(prefix, name))
			}
		}
	}
	collect(reflect.TypeFor[Policy](), "")

	selected := selectorsIn(t, filepath.Join("..", ".."), filepath.Join("..", "..", "internal", "policy"))
	// Methods of this package that read a field count as reading it when they are called
	// outside: ApproversFor reads Accounts and DefaultApprovers, and so on.
	readers := map[string][]string{
		"Accounts":            {"MayApprove", "ApproversFor", "Governs"},
		"DefaultApprovers":    {"MayApprove", "ApproversFor"},
		"SessionTTLSeconds":   {"SessionTTL"},
		"RequestTTLSeconds":   {"RequestTTL"},
		"WindowSeconds":       {"Window"},
		"LockoutSeconds":      {"Lockout"},
		"MaxLockoutSeconds":   {"MaxLockout"},
		"Pattern":             {"Matches"},
		"TimeZone":            {"Within", "Check", "Outside"},
		"Days":                {"Within", "Check", "Outside"},
		"Start":               {"Within", "Check", "Outside"},
		"End":                 {"Within", "Check", "Outside"},
		"TimeoutSeconds":      {"Timeout"},
		"ReplayWindowSeconds": {"ReplayWindow"},
	}
	var paths []string
	for k, p := range schema.Properties {
		paths = append(paths, k)
		for sub := range p.Properties {
			paths = append(paths, k+"."+sub)
		}
	}
	n := 0
	for _, path := range paths {
		if forPeople[path] != "" {
			continue
		}
		field, ok := fields[path]
		if !ok {
			t.Errorf("schema key %s has no Go field (TestSchemaMatchesGoType says more)", path)
			continue
		}
		n++
		read := selected[field]
		for _, m := range readers[field] {
			read = read || selected[m]
		}
		if !read {
			t.Errorf("policy key %s (field %s) is read by nothing in daemon/ outside the policy package: build what it promises, or remove it from the schema and the docs", path, field)
		}
	}
	if n < 20 {
		t.Errorf("only %d keys checked: the schema walk is broken", n)
	}
}

// selectorsIn returns every selector name (the Sel of x.Sel) in the non-test Go files under
// root, skipping the directory skip.
func selectorsIn(t *testing.T, root, skip string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && filepath.Clean(path) == filepath.Clean(skip) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(src, []byte("internal/policy")) && !bytes.Contains(src, []byte("internal/rules")) && !bytes.Contains(src, []byte("internal/engine")) {
			// Only code that can hold a *policy.Policy reads its fields.
			return nil
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := n.(*ast.SelectorExpr); ok {
				out[s.Sel.Name] = true
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("only %d selectors found under %s: the scan is broken", len(out), root)
	}
	return out
}
