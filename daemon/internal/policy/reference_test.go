package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"foureyes/shared"
)

// The policy reference for IT (installer/policy-reference.md) is generated from the schema, so
// it says what the daemon checks: this test fails when it is out of date, and
// FOUREYES_UPDATE_DOCS=1 writes it anew.
func TestPolicyReference(t *testing.T) {
	var schema refNode
	if err := json.Unmarshal(shared.PolicySchemaJSON, &schema); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("# Policy reference\n\n")
	b.WriteString("<!-- Generated from shared/policy.schema.json by\n     FOUREYES_UPDATE_DOCS=1 go test ./daemon/internal/policy -run TestPolicyReference\n     Do not edit by hand. -->\n\n")
	b.WriteString(schema.Description + "\n\n")
	b.WriteString("Check a file with `foureyes policy check FILE` (add `--managed` for the file IT deploys).\n\n")
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	schema.rows(&b, "")
	path := filepath.Join("..", "..", "..", "installer", "policy-reference.md")
	if os.Getenv("FOUREYES_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with FOUREYES_UPDATE_DOCS=1 go test ./daemon/internal/policy -run TestPolicyReference)", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatal("installer/policy-reference.md is out of date with shared/policy.schema.json: FOUREYES_UPDATE_DOCS=1 go test ./daemon/internal/policy -run TestPolicyReference")
	}
}

type refNode struct {
	Description          string              `json:"description"`
	Type                 any                 `json:"type"`
	Enum                 []any               `json:"enum"`
	Default              json.RawMessage     `json:"default"`
	Properties           map[string]*refNode `json:"properties"`
	AdditionalProperties json.RawMessage     `json:"additionalProperties"`
	Items                *refNode            `json:"items"`
	Minimum              *float64            `json:"minimum"`
	Maximum              *float64            `json:"maximum"`
}

func (n *refNode) typeText() string {
	if len(n.Enum) > 0 {
		var vs []string
		for _, v := range n.Enum {
			vs = append(vs, fmt.Sprintf("`%v`", v))
		}
		return "one of " + strings.Join(vs, ", ")
	}
	t := fmt.Sprint(n.Type)
	if t == "array" && n.Items != nil {
		t = "array of " + n.Items.typeText()
	}
	if n.Minimum != nil && n.Maximum != nil {
		t += fmt.Sprintf(" (%g to %g)", *n.Minimum, *n.Maximum)
	}
	return t
}

func (n *refNode) rows(b *bytes.Buffer, prefix string) {
	keys := make([]string, 0, len(n.Properties))
	for k := range n.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := n.Properties[k]
		path := prefix + k
		def := "—"
		if len(c.Default) > 0 {
			var compact bytes.Buffer
			if err := json.Compact(&compact, c.Default); err == nil {
				def = "`" + compact.String() + "`"
			}
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", path, c.typeText(), def, strings.ReplaceAll(c.Description, "|", "\\|"))
		if len(c.Properties) > 0 {
			c.rows(b, path+".")
		}
		// Per-entry objects, such as an account's rules.
		var entry refNode
		if len(c.AdditionalProperties) > 0 && json.Unmarshal(c.AdditionalProperties, &entry) == nil && len(entry.Properties) > 0 {
			entry.rows(b, path+".ID.")
		}
	}
}
