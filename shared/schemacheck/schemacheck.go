// Package schemacheck validates JSON against the JSON Schemas in shared/ (draft 2020-12) with the
// same verdicts as the extension's ajv. Tests and the command-line checks use it; the daemon
// itself does not link it (the embedded tables are checked against their schemas by tests).
package schemacheck

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// CompileSchema compiles one JSON Schema document (draft 2020-12, no references to other
// documents) given as bytes. Formats such as "uri" are asserted, not just annotations, so the
// Go side refuses what the extension's ajv (with ajv-formats) refuses. Patterns compile as Go
// regular expressions (RE2), the dialect of Chromium's declarativeNetRequest.
func CompileSchema(name string, schemaJSON []byte) (*jsonschema.Schema, error) {
	return CompileSchemaPart(name, schemaJSON, "")
}

// CompileSchemaPart is CompileSchema for the part of the document at pointer, a JSON pointer
// such as "/$defs/to_daemon" ("" for the whole document). The whole document is still checked
// against its meta-schema.
func CompileSchemaPart(name string, schemaJSON []byte, pointer string) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("reading schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// Relative $ref values resolve against this name; none leave the document.
	url := "urn:foureyes:" + name
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("adding schema %s: %w", name, err)
	}
	s, err := c.Compile(url + "#" + pointer)
	if err != nil {
		return nil, fmt.Errorf("compiling schema %s#%s: %w", name, pointer, err)
	}
	return s, nil
}

// ValidateJSON decodes exactly one JSON value from data (trailing data is an error) and
// validates it against s. The error lists the failing locations, each as a JSON pointer.
func ValidateJSON(s *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	return Validate(s, v)
}

// Validate validates a value decoded by jsonschema.UnmarshalJSON (numbers as json.Number)
// against s, with the error of ValidateJSON.
func Validate(s *jsonschema.Schema, v any) error {
	err := s.Validate(v)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	return errors.New(describe(ve))
}

func countLeaves(e *jsonschema.ValidationError) int {
	if len(e.Causes) == 0 {
		return 1
	}
	n := 0
	for _, c := range e.Causes {
		n += countLeaves(c)
	}
	return n
}

var printer = message.NewPrinter(language.English)

// describe flattens a validation error into its leaves: "at /a/0/b: message". Alternatives of a
// oneOf each add their own leaves, so at most a few are shown.
func describe(ve *jsonschema.ValidationError) string {
	const most = 4
	seen := map[string]bool{}
	var leaves []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			s := "at " + loc + ": " + e.ErrorKind.LocalizedString(printer)
			if !seen[s] {
				seen[s] = true
				leaves = append(leaves, s)
			}
			return
		}
		switch e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf:
			// Each alternative fails for its own reasons; the one that failed least is the
			// one the author meant (a hello with a bad nonce, not a ping with extra fields).
			best, n := e.Causes[0], -1
			for _, c := range e.Causes {
				if k := countLeaves(c); n < 0 || k < n {
					best, n = c, k
				}
			}
			walk(best)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// Deepest locations first: they say the most about what is wrong.
	sort.SliceStable(leaves, func(i, j int) bool { return strings.Count(leaves[i], "/") > strings.Count(leaves[j], "/") })
	if len(leaves) > most {
		leaves = append(leaves[:most], fmt.Sprintf("and %d more", len(leaves)-most))
	}
	return "does not fit the schema: " + strings.Join(leaves, "; ")
}
