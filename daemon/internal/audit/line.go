package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"foureyes/daemon/internal/digest"
)

const (
	hashLen = digest.Size // the chain's hashes are SHA-256 in lowercase hex, like content digests
	// maxLine bounds one line, so that a reader never has to hold an unbounded line. It is far
	// above any post a platform accepts.
	maxLine = 4 << 20
)

// zeroHash is the prev of the first line.
var zeroHash = strings.Repeat("0", hashLen)

// The fixed parts of a line. The tail (prev and hash) has a fixed length, which is what lets a
// reader find the hashed body and prev without parsing the fields.
const (
	keySeq      = `{"seq":`
	keyTime     = `,"time":`
	keyUser     = `,"user":`
	keyEvent    = `,"event":`
	keySeverity = `,"severity":`
	keyFields   = `,"fields":`
	keyPrev     = `,"prev":"`
	keyHash     = `,"hash":"`
	prevMember  = len(keyPrev) + hashLen + 1 // ,"prev":"<hex>"
	hashMember  = len(keyHash) + hashLen + 2 // ,"hash":"<hex>"}
)

// timeFormat is RFC 3339 with nanoseconds, always in UTC.
const timeFormat = time.RFC3339Nano

// marshal encodes v as compact JSON without HTML escaping, so that texts with & or < stay
// readable. encoding/json escapes control characters, U+2028 and U+2029, and replaces invalid
// UTF-8, so the result never contains a raw newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// encodeFields encodes fields and decodes them back, which yields what a reader of the log will
// see (numbers as json.Number, structs as maps) and lets the secret check see every key,
// whatever Go type carried it.
func encodeFields(fields map[string]any) ([]byte, map[string]any, error) {
	if len(fields) == 0 {
		return []byte("{}"), map[string]any{}, nil
	}
	raw, err := marshal(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding fields: %w", err)
	}
	decoded, err := decodeFields(raw)
	if err != nil {
		return nil, nil, err
	}
	if path := secretKey(decoded, ""); path != "" {
		return nil, nil, fmt.Errorf("field %q: %w", path, ErrSecretField)
	}
	return raw, decoded, nil
}

func decodeFields(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding fields: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// secretKey returns the path of the first key in v that names a secret, or "".
func secretKey(v any, path string) string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			for _, s := range SecretKeys {
				if strings.EqualFold(k, s) {
					return p
				}
			}
			if found := secretKey(x, p); found != "" {
				return found
			}
		}
	case []any:
		for i, x := range v {
			if found := secretKey(x, fmt.Sprintf("%s[%d]", path, i)); found != "" {
				return found
			}
		}
	}
	return ""
}

// validName reports whether s is a usable event name: [a-z0-9_], starting with a letter, at
// most 64 bytes. Names stay plain so that forwarded summaries need no quoting.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// appendLine appends the complete line (with its newline) to dst and returns the extended
// slice and the line's hash.
func appendLine(dst []byte, seq uint64, t time.Time, user, event, severity string, fields []byte, prev string) ([]byte, string, error) {
	u, err := marshal(user)
	if err != nil {
		return nil, "", fmt.Errorf("encoding user: %w", err)
	}
	start := len(dst)
	dst = append(dst, keySeq...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, keyTime...)
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, timeFormat)
	dst = append(dst, '"')
	dst = append(dst, keyUser...)
	dst = append(dst, u...)
	dst = append(dst, keyEvent...)
	dst = append(dst, '"')
	dst = append(dst, event...) // validName keeps it free of anything needing escapes
	dst = append(dst, '"')
	dst = append(dst, keySeverity...)
	dst = append(dst, '"')
	dst = append(dst, severity...)
	dst = append(dst, '"')
	dst = append(dst, keyFields...)
	dst = append(dst, fields...)
	dst = append(dst, keyPrev...)
	dst = append(dst, prev...)
	dst = append(dst, '"')
	sum := bodyHash(dst[start:], len(dst)-start)
	dst = append(dst, keyHash...)
	dst = append(dst, sum[:]...)
	dst = append(dst, '"', '}', '\n')
	return dst, string(sum[:]), nil
}

// bodyHash returns the hex hash of line[:end] followed by "}".
func bodyHash(line []byte, end int) [hashLen]byte {
	h := sha256.New()
	h.Write(line[:end])
	h.Write([]byte{'}'})
	var sum [sha256.Size]byte
	var out [hashLen]byte
	hex.Encode(out[:], h.Sum(sum[:0]))
	return out
}

// reasonHashMismatch is the reason given for a line whose bytes do not match its hash.
const reasonHashMismatch = "hash mismatch (line was changed)"

// parsed is what a reader needs of one line. The slices point into the line.
type parsed struct {
	seq    uint64
	time   time.Time
	user   []byte // JSON string with quotes
	fields []byte // JSON object
	prev   []byte // hex
	hash   []byte // hex
	event  []byte
	sev    []byte
}

// parseLine checks that line (without its newline) has the exact shape of an audit line and
// that its hash matches its bytes. It returns a reason for people on failure.
func parseLine(line []byte) (parsed, string) {
	var p parsed
	if len(line) == 0 {
		return p, "empty line"
	}
	if len(line) > maxLine {
		return p, fmt.Sprintf("line longer than %d bytes", maxLine)
	}
	if !utf8.Valid(line) {
		return p, "not valid UTF-8"
	}
	tail := len(line) - hashMember
	mid := tail - prevMember
	if mid < len(keySeq) || !bytes.HasPrefix(line, []byte(keySeq)) {
		return p, "malformed: not an audit line"
	}
	if !bytes.HasPrefix(line[tail:], []byte(keyHash)) || line[len(line)-2] != '"' || line[len(line)-1] != '}' {
		return p, `malformed: does not end with the "hash" member`
	}
	// The hash is compared with the computed one at the end, which also checks its form.
	p.hash = line[tail+len(keyHash) : len(line)-2]
	if !bytes.HasPrefix(line[mid:], []byte(keyPrev)) || line[tail-1] != '"' {
		return p, `malformed: no "prev" member before "hash"`
	}
	p.prev = line[mid+len(keyPrev) : tail-1]
	if !digest.Valid(p.prev) {
		return p, "malformed: prev is not 64 lowercase hex digits"
	}

	i := len(keySeq)
	start := i
	for i < mid && line[i] >= '0' && line[i] <= '9' {
		p.seq = p.seq*10 + uint64(line[i]-'0')
		i++
	}
	if n := i - start; n == 0 || n > 19 || (line[start] == '0') {
		return p, "malformed: seq is not a positive integer"
	}
	var ok bool
	var s []byte
	if s, i, ok = member(line, i, mid, keyTime); !ok {
		return p, `malformed: no "time" after "seq"`
	}
	t, err := time.Parse(timeFormat, string(s[1:len(s)-1]))
	if err != nil || s[len(s)-2] != 'Z' {
		return p, "malformed: time is not RFC 3339 in UTC"
	}
	p.time = t
	if p.user, i, ok = member(line, i, mid, keyUser); !ok {
		return p, `malformed: no "user" after "time"`
	}
	if s, i, ok = member(line, i, mid, keyEvent); !ok {
		return p, `malformed: no "event" after "user"`
	}
	p.event = s[1 : len(s)-1]
	if !validName(string(p.event)) {
		return p, "malformed: bad event name"
	}
	if s, i, ok = member(line, i, mid, keySeverity); !ok {
		return p, `malformed: no "severity" after "event"`
	}
	p.sev = s[1 : len(s)-1]
	if string(p.sev) != SeverityInfo && string(p.sev) != SeverityHigh {
		return p, "malformed: severity is neither info nor high"
	}
	if !bytes.HasPrefix(line[i:mid], []byte(keyFields)) {
		return p, `malformed: no "fields" after "severity"`
	}
	p.fields = line[i+len(keyFields) : mid]
	if !validJSONObject(p.fields) {
		return p, "malformed: fields are not a JSON object"
	}
	if sum := bodyHash(line, tail); !bytes.Equal(sum[:], p.hash) {
		return p, reasonHashMismatch
	}
	return p, ""
}

// member expects key at line[i:] followed by a JSON string that ends before limit, and returns
// the string with its quotes and the index after it.
func member(line []byte, i, limit int, key string) ([]byte, int, bool) {
	if !bytes.HasPrefix(line[i:limit], []byte(key)) {
		return nil, i, false
	}
	i += len(key)
	end, ok := scanString(line[:limit], i)
	if !ok {
		return nil, i, false
	}
	return line[i:end], end, true
}

// scanString returns the index after the JSON string that starts at b[i].
func scanString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for i++; i < len(b); i++ {
		c := b[i]
		if strPlain[c] {
			continue
		}
		switch {
		case c == '"':
			return i + 1, true
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !hexDigit[b[i+1]] || !hexDigit[b[i+2]] || !hexDigit[b[i+3]] || !hexDigit[b[i+4]] {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		default: // a control character
			return i, false
		}
	}
	return i, false
}

// hexDigit marks the bytes 0-9, a-f and A-F, the digits of a \u escape.
var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

// record turns a parsed line into a Record.
func (p parsed) record(line []byte) (Record, error) {
	var user string
	if err := json.Unmarshal(p.user, &user); err != nil {
		return Record{}, fmt.Errorf("decoding user: %w", err)
	}
	fields, err := decodeFields(p.fields)
	if err != nil {
		return Record{}, err
	}
	return Record{
		Seq:      p.seq,
		Time:     p.time,
		User:     user,
		Event:    string(p.event),
		Severity: string(p.sev),
		Fields:   fields,
		Prev:     string(p.prev),
		Hash:     string(p.hash),
		Raw:      line,
	}, nil
}

// ParseRecord parses one line of the log (without its newline) and checks its shape and its
// own hash. It cannot check the chain; use [Verify] for that.
func ParseRecord(line []byte) (Record, error) {
	p, reason := parseLine(line)
	if reason != "" {
		return Record{}, fmt.Errorf("parsing audit line: %s: %w", reason, ErrBroken)
	}
	return p.record(bytes.Clone(line))
}
