package protocol

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// apiCodes reads the stable codes from daemon/internal/api/errors.go. The file is parsed, not
// imported: internal packages are closed to this one.
func apiCodes(t *testing.T) map[string]string {
	t.Helper()
	path := filepath.Join("..", "..", "daemon", "internal", "api", "errors.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	codes := map[string]string{} // value -> constant name
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				codes[v] = name.Name
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("found no codes in errors.go")
	}
	return codes
}

func TestErrorsJSONMatchesAPI(t *testing.T) {
	want := apiCodes(t)
	got, err := ErrorCodes()
	if err != nil {
		t.Fatal(err)
	}
	for code, name := range want {
		if _, ok := got[code]; !ok {
			t.Errorf("errors.json lacks %q (api.%s)", code, name)
		}
	}
	for code, meaning := range got {
		if _, ok := want[code]; !ok {
			t.Errorf("errors.json has %q, which api/errors.go does not define", code)
		}
		if strings.TrimSpace(meaning) == "" || strings.Contains(meaning, "\n") {
			t.Errorf("meaning of %q must be one non-empty line, got %q", code, meaning)
		}
	}
}

type example struct {
	Name      string          `json:"name"`
	Direction string          `json:"direction"`
	Valid     bool            `json:"valid"`
	Code      string          `json:"code"`
	Message   json.RawMessage `json:"message"`
}

// Examples returns the sample messages of examples.json.
func loadExamples(t *testing.T) []example {
	t.Helper()
	b, err := os.ReadFile("examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Examples []example `json:"examples"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("examples.json: %v", err)
	}
	return f.Examples
}

func TestExamplesValidate(t *testing.T) {
	codes := apiCodes(t)
	seen := map[string]bool{}
	for _, ex := range loadExamples(t) {
		t.Run(ex.Direction+"/"+ex.Name, func(t *testing.T) {
			err := Validate(ex.Direction, ex.Message)
			if ex.Valid && err != nil {
				t.Errorf("valid example refused: %v", err)
			}
			if !ex.Valid && err == nil {
				t.Error("invalid example accepted")
			}
			if ex.Code != "" {
				if _, ok := codes[ex.Code]; !ok {
					t.Errorf("code %q is not a stable code", ex.Code)
				}
			}
			var m struct {
				Type  string `json:"type"`
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal(ex.Message, &m)
			if m.Error.Code != "" {
				if _, ok := codes[m.Error.Code]; !ok {
					t.Errorf("error code %q is not a stable code", m.Error.Code)
				}
			}
			if ex.Valid {
				seen[ex.Direction+"/"+m.Type] = true
			}
		})
	}
	// Every message type of the schema has at least one valid example.
	var root map[string]any
	if err := json.Unmarshal(schemaJSON, &root); err != nil {
		t.Fatal(err)
	}
	defs := root["$defs"].(map[string]any)
	var missing []string
	for _, dir := range Directions {
		for _, alt := range defs[dir].(map[string]any)["oneOf"].([]any) {
			name := strings.TrimPrefix(alt.(map[string]any)["$ref"].(string), "#/$defs/")
			typ := defs[name].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["const"].(string)
			if !seen[dir+"/"+typ] {
				missing = append(missing, dir+"/"+typ)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no valid example for %v", missing)
	}
}

func TestSchemaRefusesStructuralErrors(t *testing.T) {
	tests := []struct {
		name, direction, msg string
	}{
		{"not an object", ToDaemon, `[]`},
		{"trailing data", ToDaemon, `{"v":1,"id":1,"type":"ping"} {}`},
		{"id written with exponent", ToDaemon, `{"v":1,"id":1e0,"type":"ping"}`},
		{"id too large for JavaScript", ToDaemon, `{"v":1,"id":9007199254740992,"type":"ping"}`},
		{"short nonce", ToDaemon, `{"v":1,"id":1,"type":"hello","token":"t","nonce":"AAAA"}`},
		{"event without its event", FromDaemon, `{"v":1,"type":"event"}`},
		{"id written with a fraction", ToDaemon, `{"v":1,"id":1.0,"type":"ping"}`},
		{"unknown type", ToDaemon, `{"v":1,"id":1,"type":"teleport"}`},
		{"unknown field", ToDaemon, `{"v":1,"id":1,"type":"ping","extra":true}`},
		{"daemon message sent to the daemon", ToDaemon, `{"v":1,"id":1,"type":"pong"}`},
		{"bad digest in a grant", FromDaemon, `{"v":1,"id":1,"type":"grant","grant":{"session_id":"s","account":"x:@a","action":"post","digest":"ABC","expires":1,"nonce":"AAAAAAAAAAAAAAAAAAAAAA","sig":"x"}}`},
		{"unknown direction", "sideways", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.direction, []byte(tt.msg)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestGrantVectors checks grant-vectors.json against the format of PROTOCOL.md §3, with the
// standard library alone, so the vectors stand on their own for the extension's tests.
func TestGrantVectors(t *testing.T) {
	b, err := os.ReadFile("grant-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	type grant struct {
		SessionID string `json:"session_id"`
		Account   string `json:"account"`
		Action    string `json:"action"`
		Digest    string `json:"digest"`
		Manifest  string `json:"manifest_digest"`
		Expires   int64  `json:"expires"`
		Nonce     string `json:"nonce"`
		Sig       string `json:"sig"`
	}
	var f struct {
		Seed      string `json:"seed"`
		PublicKey string `json:"public_key"`
		Vectors   []struct {
			Name   string `json:"name"`
			Grant  grant  `json:"grant"`
			Signed string `json:"signed"`
		} `json:"vectors"`
		MustNotVerify []struct {
			Name  string `json:"name"`
			Grant grant  `json:"grant"`
			Nonce string `json:"nonce"`
		} `json:"must_not_verify"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	seed, _ := base64.StdEncoding.DecodeString(f.Seed)
	key := ed25519.NewKeyFromSeed(seed)
	pub, _ := base64.StdEncoding.DecodeString(f.PublicKey)
	if string(pub) != string(key.Public().(ed25519.PublicKey)) {
		t.Fatal("public_key is not the seed's")
	}
	signed := func(g grant) string {
		return strings.Join([]string{"foureyes-grant-v2", g.SessionID, g.Account, g.Action, g.Digest, g.Manifest,
			strconv.FormatInt(g.Expires, 10), g.Nonce}, "\n")
	}
	verify := func(g grant, nonce string) bool {
		sig, err := base64.StdEncoding.DecodeString(g.Sig)
		return err == nil && g.Nonce == nonce && ed25519.Verify(pub, []byte(signed(g)), sig)
	}
	for _, v := range f.Vectors {
		if signed(v.Grant) != v.Signed {
			t.Errorf("%s: signed string differs from the grant's fields", v.Name)
		}
		if got := base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(v.Signed))); got != v.Grant.Sig {
			t.Errorf("%s: sig = %s, want %s", v.Name, v.Grant.Sig, got)
		}
		if !verify(v.Grant, v.Grant.Nonce) {
			t.Errorf("%s: does not verify", v.Name)
		}
		g, _ := json.Marshal(map[string]any{"v": 1, "id": 1, "type": "grant", "grant": v.Grant})
		if err := Validate(FromDaemon, g); err != nil {
			t.Errorf("%s: grant does not fit the schema: %v", v.Name, err)
		}
	}
	for _, v := range f.MustNotVerify {
		if verify(v.Grant, v.Nonce) {
			t.Errorf("%s: verifies", v.Name)
		}
	}
}
