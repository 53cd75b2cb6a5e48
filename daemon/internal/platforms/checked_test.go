package platforms

import (
	"fmt"

	"foureyes/shared/schemacheck"
)

// parseChecked is what a table must pass: its schema, then parse's own rules. The embedded
// table passes it (TestEmbeddedTable), so the daemon need not check the schema again at start.
func parseChecked(data, schemaJSON []byte) ([]Platform, error) {
	schema, err := schemacheck.CompileSchema("platforms.schema.json", schemaJSON)
	if err != nil {
		return nil, err
	}
	if err := schemacheck.ValidateJSON(schema, data); err != nil {
		return nil, fmt.Errorf("platform table: %w", err)
	}
	return parse(data)
}
