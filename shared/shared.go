// Package shared embeds the contract files both the daemon and the extension are built
// against: the platform table and the JSON Schemas of the platform table and the policy. The
// daemon reads these bytes rather than a copy, so the table it checks accounts against is the one
// in the repo's shared/ folder; the extension gets its copy from extension/scripts/sync-shared.mjs.
package shared

import _ "embed"

// PlatformsJSON is shared/platforms.json: which sites foureyes governs, and how.
//
//go:embed platforms.json
var PlatformsJSON []byte

// PlatformsSchemaJSON is shared/platforms.schema.json, the JSON Schema of PlatformsJSON.
//
//go:embed platforms.schema.json
var PlatformsSchemaJSON []byte

// PolicySchemaJSON is shared/policy.schema.json, the JSON Schema of the policy file.
//
//go:embed policy.schema.json
var PolicySchemaJSON []byte
