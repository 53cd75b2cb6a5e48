// Package protocol holds the extension-daemon protocol's contract files (PROTOCOL.md,
// messages.schema.json, errors.json, examples.json, grant-vectors.json) and checks messages
// against the schema with a full JSON Schema 2020-12 validator (santhosh-tekuri/jsonschema), so
// the Go side tests against the same files as the extension, whose tests use ajv.
//
// Validate is for tests: the bridge has its own decoder, and its tests hold it to Validate over
// the shared examples and a table of bad messages.
package protocol

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"foureyes/shared/schemacheck"
)

// Directions: which side sends a message, and so which definition of the schema applies.
const (
	ToDaemon   = "to_daemon"   // extension to daemon, WebSocket
	FromDaemon = "from_daemon" // daemon to extension, WebSocket
	ToHost     = "to_host"     // extension to native host
	FromHost   = "from_host"   // native host to extension
)

// Directions lists every direction, in the order of PROTOCOL.md.
var Directions = []string{ToDaemon, FromDaemon, ToHost, FromHost}

//go:embed messages.schema.json
var schemaJSON []byte

// SchemaJSON returns messages.schema.json.
func SchemaJSON() []byte { return bytes.Clone(schemaJSON) }

//go:embed errors.json
var errorsJSON []byte

// ErrorCodes returns errors.json's codes and their meanings.
func ErrorCodes() (map[string]string, error) {
	var f struct {
		Codes map[string]string `json:"codes"`
	}
	if err := json.Unmarshal(errorsJSON, &f); err != nil {
		return nil, fmt.Errorf("reading errors.json: %w", err)
	}
	return f.Codes, nil
}

// compiled holds one compiled schema per direction.
var compiled = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	out := map[string]*jsonschema.Schema{}
	for _, d := range Directions {
		s, err := schemacheck.CompileSchemaPart("messages.schema.json", schemaJSON, "/$defs/"+d)
		if err != nil {
			return nil, err
		}
		out[d] = s
	}
	return out, nil
})

// Validate checks one message sent in direction against messages.schema.json. Beyond the
// schema, it refuses what JSON Schema cannot see: trailing data after the message, and numbers
// written with a fraction or an exponent (1.0, 1e0), which JSON Schema counts as integers but
// the daemon's decoder and JavaScript's Number.isSafeInteger checks do not all treat alike.
func Validate(direction string, msg []byte) error {
	schemas, err := compiled()
	if err != nil {
		return err
	}
	s, ok := schemas[direction]
	if !ok {
		return fmt.Errorf("unknown direction %q: want one of %s", direction, strings.Join(Directions, ", "))
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if where := plainIntegers(v, ""); where != "" {
		return fmt.Errorf("at %s: numbers are written as plain integers, without fraction or exponent", where)
	}
	return schemacheck.Validate(s, v)
}

// plainIntegers returns the location of the first number written with a fraction or exponent,
// or "". The protocol has no numbers other than integers.
func plainIntegers(v any, at string) string {
	switch v := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			return cmp.Or(at, "/")
		}
	case map[string]any:
		for k, c := range v {
			if w := plainIntegers(c, at+"/"+k); w != "" {
				return w
			}
		}
	case []any:
		for i, c := range v {
			if w := plainIntegers(c, fmt.Sprintf("%s/%d", at, i)); w != "" {
				return w
			}
		}
	}
	return ""
}
