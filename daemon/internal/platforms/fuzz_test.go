package platforms

import (
	"testing"

	"foureyes/shared"
)

// FuzzParse feeds arbitrary tables to the parser: it never panics, and a table it accepts has
// unique, non-empty ids and only expressions that compile.
func FuzzParse(f *testing.F) {
	f.Add(shared.PlatformsJSON)
	f.Add([]byte(`{"version":1,"platforms":[]}`))
	f.Add([]byte(`{"version":1,"platforms":[{"id":"x","name":"X","tier":1,"status":"supported","hosts":["x.com"],"publish":[{"action":"post","method":"POST","url_regex":"^https://x.com/("}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := parseChecked(data, shared.PlatformsSchemaJSON)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range ps {
			if p.ID == "" || seen[p.ID] {
				t.Fatalf("accepted a table with id %q twice or empty", p.ID)
			}
			seen[p.ID] = true
			for _, e := range p.Publish {
				for _, expr := range []string{e.URLRegex, e.PathRegex} {
					if expr != "" {
						if err := checkRegex(expr, true); err != nil {
							t.Fatalf("accepted an expression that does not compile: %q: %v", expr, err)
						}
					}
				}
			}
		}
	})
}
