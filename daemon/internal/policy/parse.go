package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// MaxSize is the largest policy file Parse reads; real policies are a few KiB.
const MaxSize = 1 << 20

// ErrInvalid is wrapped by every error about a policy that exists but cannot be used.
var ErrInvalid = errors.New("invalid policy")

// InvalidError lists what is wrong with a policy, each problem naming the field path.
type InvalidError struct {
	Problems []string
}

func (e *InvalidError) Error() string {
	return "invalid policy: " + strings.Join(e.Problems, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(problems ...string) *InvalidError { return &InvalidError{Problems: problems} }

// fieldError is one problem at a field path relative to some enclosing object.
type fieldError struct{ path, msg string }

func fe(path, msg string) *fieldError { return &fieldError{path, msg} }

func (e *fieldError) String() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

func (e *fieldError) under(prefix string) *fieldError {
	return &fieldError{joinPath(prefix, e.path), e.msg}
}

func joinPath(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "" || strings.HasPrefix(p, "["):
		return prefix + p
	}
	return prefix + "." + p
}

// Parse decodes and validates a policy file. Unknown keys, duplicate keys, null values and
// trailing data are errors: a typo in a security policy must not silently mean "default".
// Every error wraps ErrInvalid.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, invalid(fmt.Sprintf("%d bytes is over the limit of %d", len(data), MaxSize))
	}
	// Windows editors like to start UTF-8 files with a byte order mark; JSON has no use for it.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if err := checkVersion(data); err != nil {
		return nil, err
	}
	if es := checkShape(data); len(es) > 0 {
		// Every problem at once: the shape's, then what validation finds in the rest.
		problems := make([]string, 0, len(es))
		for _, e := range es {
			problems = append(problems, e.String())
		}
		return nil, invalid(append(problems, validateLeniently(data, es)...)...)
	}
	data, ignored, err := dropNotBuilt(data)
	if err != nil {
		return nil, invalid(describeDecodeError(data, err))
	}
	p := Default()
	p.ignored = ignored
	if err := decodeStrict(data, p); err != nil {
		// checkShape catches what the decoder would refuse; this is a second line.
		return nil, invalid(describeDecodeError(data, err))
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// validateLeniently decodes what it can of a policy whose shape is wrong (values of the wrong
// type stay at their defaults) and returns validation's problems at paths the shape check did
// not already name, so a check lists every problem of the file in one go.
func validateLeniently(data []byte, shape []*fieldError) []string {
	data, _, err := dropNotBuilt(data)
	if err != nil {
		return nil
	}
	p := Default()
	_ = json.Unmarshal(data, p) // type errors are what the shape check reported
	var ie *InvalidError
	if err := p.Validate(); !errors.As(err, &ie) {
		return nil
	}
	var out []string
	for _, msg := range ie.Problems {
		named := false
		for _, e := range shape {
			if e.path != "" && strings.HasPrefix(msg, e.path) {
				named = true
			}
		}
		if !named {
			out = append(out, msg)
		}
	}
	return out
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the policy object")
	}
	return nil
}

// checkVersion looks at the version before anything else, so a newer policy is reported as
// newer rather than as a list of unknown keys.
func checkVersion(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return invalid("the policy must be a JSON object")
		}
		return invalid(describeDecodeError(data, err))
	}
	raw, ok := top["version"]
	if !ok {
		return invalid(fmt.Sprintf("version: missing (this foureyes understands version %d)", Version))
	}
	v, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
	switch {
	case err != nil:
		return invalid(fmt.Sprintf("version: %s is not a whole number", raw))
	case v > Version:
		return invalid(fmt.Sprintf("policy version %d is newer than this foureyes understands (it understands version %d): update foureyes", v, Version))
	case v < Version:
		return invalid(fmt.Sprintf("version: %d is not a policy version (this foureyes understands version %d)", v, Version))
	}
	return nil
}

func describeDecodeError(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		return fmt.Sprintf("not valid JSON at line %d, column %d: %v", line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: expected %s, got %s", te.Field, te.Type, te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "not valid JSON: unexpected end of file"
	}
	return err.Error()
}

func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

// checkShape walks the JSON alongside the Go type and reports, with the field path, the first
// key the type does not have (matched exactly: encoding/json would accept "Version"), a
// duplicate key, a null, or a value of the wrong JSON type.
func checkShape(data []byte) []*fieldError {
	dec := &shapeDec{Decoder: json.NewDecoder(bytes.NewReader(data))}
	dec.UseNumber()
	if e := walk(dec, reflect.TypeFor[Policy](), ""); e != nil {
		return append(dec.found, e)
	}
	if _, err := dec.Token(); err != io.EOF {
		return append(dec.found, fe("", "unexpected data after the policy object"))
	}
	return dec.found
}

// shapeDec is the decoder of one shape check. Problems a reader can skip over (an unknown or
// repeated key, a value of the wrong type) are collected in found and the walk goes on, so a
// check reports all of them; broken JSON stops it.
type shapeDec struct {
	*json.Decoder
	found []*fieldError
}

// skip records e and reads the rest of the value that began with tok.
func (dec *shapeDec) skip(e *fieldError, tok json.Token, path string) *fieldError {
	dec.found = append(dec.found, e)
	return skipValue(dec, tok, path)
}

func walk(dec *shapeDec, t reflect.Type, path string) *fieldError {
	tok, err := dec.Token()
	if err != nil {
		return fe(path, "not valid JSON: "+err.Error())
	}
	if tok == nil {
		return fe(path, "null is not allowed (leave the key out to use the default)")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == anyValue {
		return skipValue(dec, tok, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return dec.skip(mismatch(path, "an object", tok), tok, path)
		}
		fields := jsonFields(t)
		return walkObject(dec, path, func(key string) (reflect.Type, string, *fieldError) {
			ft, ok := fields[key]
			p := joinPath(path, key)
			if _, gone := NotBuilt[key]; gone && t == reflect.TypeFor[Policy]() {
				// Known, any value: Parse drops it and Warnings reports it.
				return anyValue, p, nil
			}
			if !ok {
				return nil, p, fe(p, "unknown key")
			}
			return ft, p, nil
		})
	case reflect.Map:
		if tok != json.Delim('{') {
			return dec.skip(mismatch(path, "an object", tok), tok, path)
		}
		return walkObject(dec, path, func(key string) (reflect.Type, string, *fieldError) {
			return t.Elem(), path + "[" + strconv.Quote(key) + "]", nil
		})
	case reflect.Slice:
		if tok != json.Delim('[') {
			return dec.skip(mismatch(path, "an array", tok), tok, path)
		}
		for i := 0; dec.More(); i++ {
			if e := walk(dec, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); e != nil {
				return e
			}
		}
		_, err := dec.Token() // ']'
		if err != nil {
			return fe(path, "not valid JSON: "+err.Error())
		}
		return nil
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return dec.skip(mismatch(path, "a string", tok), tok, path)
		}
	case reflect.Int:
		n, ok := tok.(json.Number)
		if !ok {
			return dec.skip(mismatch(path, "a whole number", tok), tok, path)
		}
		if _, err := strconv.ParseInt(string(n), 10, 32); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return dec.skip(fe(path, fmt.Sprintf("%s is far out of range", n)), tok, path)
			}
			return dec.skip(fe(path, fmt.Sprintf("%s is not a whole number", n)), tok, path)
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return dec.skip(mismatch(path, "true or false", tok), tok, path)
		}
	default:
		return fe(path, "internal error: no shape for "+t.String())
	}
	return nil
}

// anyValue stands for a value whose shape is not checked (a key of NotBuilt).
var anyValue = reflect.TypeFor[any]()

// skipValue reads the rest of a value that began with tok, refusing duplicate keys and nulls
// inside it as elsewhere.
func skipValue(dec *shapeDec, tok json.Token, path string) *fieldError {
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, path, func(key string) (reflect.Type, string, *fieldError) {
			return anyValue, joinPath(path, key), nil
		})
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if e := walk(dec, anyValue, fmt.Sprintf("%s[%d]", path, i)); e != nil {
				return e
			}
		}
		if _, err := dec.Token(); err != nil {
			return fe(path, "not valid JSON: "+err.Error())
		}
	}
	return nil
}

func walkObject(dec *shapeDec, path string, field func(key string) (reflect.Type, string, *fieldError)) *fieldError {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fe(path, "not valid JSON: "+err.Error())
		}
		key := tok.(string) // the decoder guarantees object keys are strings
		ft, p, e := field(key)
		if e == nil && seen[key] {
			e = fe(p, "duplicate key")
		}
		if e != nil {
			// Note it and read past the value: the next key may be wrong too.
			tok, err := dec.Token()
			if err != nil {
				return fe(p, "not valid JSON: "+err.Error())
			}
			if e := dec.skip(e, tok, p); e != nil {
				return e
			}
			continue
		}
		seen[key] = true
		if e := walk(dec, ft, p); e != nil {
			return e
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fe(path, "not valid JSON: "+err.Error())
	}
	return nil
}

func mismatch(path, want string, tok json.Token) *fieldError {
	got := "a string"
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			got = "an object"
		} else {
			got = "an array"
		}
	case json.Number:
		got = "the number " + string(v)
	case bool:
		got = strconv.FormatBool(v)
	}
	return fe(path, "expected "+want+", got "+got)
}

// jsonFields maps each JSON key of struct type t to its field type.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		if name, ok := jsonName(f); ok {
			m[name] = f.Type
		}
	}
	return m
}

func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || name == "" {
		return "", false
	}
	return name, true
}
