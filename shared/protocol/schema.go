// Package protocol holds the extension-daemon protocol's contract files (PROTOCOL.md,
// messages.schema.json, errors.json, examples.json, grant-vectors.json) and checks messages
// against the schema, so the Go side tests against the same files as the extension.
//
// The checker implements the part of JSON Schema 2020-12 the schema uses: type, const, enum,
// properties, required, additionalProperties, items, minLength, maxLength, pattern, minimum,
// maximum, oneOf, anyOf and local $ref. It is for tests, not for the daemon's hot path: the
// bridge has its own decoder, and tests hold the two to each other.
package protocol

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// Directions: which side sends a message, and so which definition of the schema applies.
const (
	ToDaemon   = "to_daemon"   // extension to daemon, WebSocket
	FromDaemon = "from_daemon" // daemon to extension, WebSocket
	ToHost     = "to_host"     // extension to native host
	FromHost   = "from_host"   // native host to extension
)

//go:embed messages.schema.json
var schemaJSON []byte

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

var (
	loadOnce sync.Once
	schema   map[string]any
	loadErr  error
)

func load() (map[string]any, error) {
	loadOnce.Do(func() {
		v, err := decode(schemaJSON)
		if err != nil {
			loadErr = fmt.Errorf("reading messages.schema.json: %w", err)
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			loadErr = errors.New("messages.schema.json is not an object")
			return
		}
		schema = m
	})
	return schema, loadErr
}

func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// Validate checks one message sent in direction against messages.schema.json.
func Validate(direction string, msg []byte) error {
	root, err := load()
	if err != nil {
		return err
	}
	defs, _ := root["$defs"].(map[string]any)
	def, ok := defs[direction]
	if !ok {
		return fmt.Errorf("unknown direction %q", direction)
	}
	v, err := decode(msg)
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	c := checker{defs: defs}
	return c.check(def, v, "")
}

type checker struct {
	defs map[string]any
}

func (c checker) check(schemaNode, v any, path string) error {
	s, ok := schemaNode.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: schema node is not an object", where(path))
	}
	if r, ok := s["$ref"].(string); ok {
		name, ok := strings.CutPrefix(r, "#/$defs/")
		if !ok {
			return fmt.Errorf("%s: unsupported $ref %q", where(path), r)
		}
		def, ok := c.defs[name]
		if !ok {
			return fmt.Errorf("%s: $ref to missing %q", where(path), name)
		}
		if err := c.check(def, v, path); err != nil {
			return err
		}
	}
	if t, ok := s["type"]; ok {
		if err := checkType(t, v, path); err != nil {
			return err
		}
	}
	if want, ok := s["const"]; ok && !equal(want, v) {
		return fmt.Errorf("%s: must be %v", where(path), want)
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || equal(e, v)
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", where(path), v, enum)
		}
	}
	if str, ok := v.(string); ok {
		n := utf8.RuneCountInString(str)
		if min, ok := number(s["minLength"]); ok && float64(n) < min {
			return fmt.Errorf("%s: shorter than %v", where(path), min)
		}
		if max, ok := number(s["maxLength"]); ok && float64(n) > max {
			return fmt.Errorf("%s: longer than %v", where(path), max)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("%s: bad pattern %q: %w", where(path), p, err)
			}
			if !re.MatchString(str) {
				return fmt.Errorf("%s: %q does not match %s", where(path), str, p)
			}
		}
	}
	if num, ok := v.(json.Number); ok {
		f, _ := num.Float64()
		if min, ok := number(s["minimum"]); ok && f < min {
			return fmt.Errorf("%s: below %v", where(path), min)
		}
		if max, ok := number(s["maximum"]); ok && f > max {
			return fmt.Errorf("%s: above %v", where(path), max)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					return fmt.Errorf("%s: missing %q", where(path), r)
				}
			}
		}
		for k, val := range obj {
			p, ok := props[k]
			if !ok {
				if ap, ok := s["additionalProperties"]; ok {
					if ap == false {
						return fmt.Errorf("%s: member %q not allowed", where(path), k)
					}
					if err := c.check(ap, val, path+"."+k); err != nil {
						return err
					}
				}
				continue
			}
			if err := c.check(p, val, path+"."+k); err != nil {
				return err
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"]; ok {
			for i, e := range arr {
				if err := c.check(items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	if alts, ok := s["oneOf"].([]any); ok {
		matched := 0
		var errs []string
		for _, a := range alts {
			if err := c.check(a, v, path); err != nil {
				errs = append(errs, err.Error())
			} else {
				matched++
			}
		}
		if matched == 0 {
			if alt, ok := c.meant(alts, v); ok {
				return c.check(alt, v, path)
			}
		}
		if matched != 1 {
			return fmt.Errorf("%s: matches %d of oneOf, want 1 (%s)", where(path), matched, closest(errs))
		}
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, a := range alts {
			err := c.check(a, v, path)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, err.Error())
		}
		if errs != nil {
			return fmt.Errorf("%s: matches none of anyOf (%s)", where(path), closest(errs))
		}
	}
	return nil
}

// closest picks, of the alternatives' errors, the one that got deepest: usually the one the
// message was meant to be.
func closest(errs []string) string {
	best := ""
	for _, e := range errs {
		if len(e) > len(best) {
			best = e
		}
	}
	return best
}

// meant returns the alternative of alts whose "type" constant is the message's type, if any:
// its error is the useful one to report.
func (c checker) meant(alts []any, v any) (any, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	for _, a := range alts {
		s, _ := a.(map[string]any)
		if r, ok := s["$ref"].(string); ok {
			s, _ = c.defs[strings.TrimPrefix(r, "#/$defs/")].(map[string]any)
		}
		props, _ := s["properties"].(map[string]any)
		typ, _ := props["type"].(map[string]any)
		if typ != nil && equal(typ["const"], obj["type"]) {
			return a, true
		}
	}
	return nil, false
}

func where(path string) string {
	if path == "" {
		return "message"
	}
	return "message" + path
}

func checkType(t, v any, path string) error {
	var types []string
	switch t := t.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	for _, typ := range types {
		if hasType(typ, v) {
			return nil
		}
	}
	return fmt.Errorf("%s: must be of type %s", where(path), strings.Join(types, " or "))
}

func hasType(typ string, v any) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		// Written as an integer: the bridge refuses 1.0 and 1e0 too.
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	}
	return false
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func equal(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
