package bridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/manifest"
	"foureyes/daemon/internal/textclip"
)

// Version is the protocol version every message carries in "v".
const Version = 1

// MaxMessageSize is the largest message, in bytes, either side may send over the WebSocket.
const MaxMessageSize = 64 << 10

// maxSafeInteger is the largest integer JavaScript represents exactly: message ids stay below it.
const maxSafeInteger = 1<<53 - 1

// Message types the extension sends.
const (
	TypeHello     = "hello"
	TypePing      = "ping"
	TypeStatus    = "status"
	TypeApprovers = "approvers"
	TypeAccounts  = "accounts"
	TypeRequest   = "request"
	TypeApprove   = "approve"
	TypeDeny      = "deny"
	TypeCancel    = "cancel"
	TypeOpen      = "open"
	TypePublished = "published"
	TypeBlocked   = "blocked"
	// TypeUnrecognised reports a publishing request only the network gate stopped.
	TypeUnrecognised = "unrecognised"
	// TypeCredentials asks for a session's account credentials to sign the browser in; the
	// reply has the same type.
	TypeCredentials = "credentials"
	// TypeSignedOut reports that the browser was signed out after a session.
	TypeSignedOut = "signed_out"
	// TypeRotation asks for a rotate session's current and new password; the reply has the
	// same type.
	TypeRotation = "rotation"
	// TypeRotated reports how the password change went on the platform.
	TypeRotated = "rotated"
	// TypePrivatePost asks whether a post from a private account may go out.
	TypePrivatePost = "private_post"
	// TypeMedia hands over part of a file attached to a pending request, for the daemon's
	// media store (policy keep_media); the reply is ok, with done once the file is stored.
	TypeMedia = "media"
)

// MaxMediaChunk is the most bytes of a file one media message carries (before base64), so
// that the message stays under [MaxMessageSize].
const MaxMediaChunk = 32 << 10

// Message types only the daemon sends.
const (
	TypePong     = "pong"
	TypeApproval = "approval"
	TypeGrant    = "grant"
	TypeOK       = "ok"
	TypeError    = "error"
	TypeEvent    = "event"
)

// fieldSpec is one string field a message type may carry.
type fieldSpec struct {
	name     string
	required bool
	max      int      // longest value in bytes
	enum     []string // when set, the only values allowed
	digest   bool     // a content digest: 64 lower-case hex digits
	// structured: not a string but the manifest's media list or target object, decoded
	// strictly (unknown members refused); the rules check the values and name the member.
	structured bool
	// integer: not a string but a whole number from 0 to 2^53-1 (a media chunk's offset).
	integer bool
	// base64: standard base64 with padding (a media chunk's bytes).
	base64 bool
}

// messageFields lists, per type, every field besides the envelope ("v", "id", "type"). A field
// not listed for a type is refused, so a typo in the extension fails loudly instead of being
// ignored.
var messageFields = map[string][]fieldSpec{
	TypeHello: {
		{name: "token", required: true, max: 128},
		{name: "nonce", required: true, max: 128},
	},
	TypePing:      nil,
	TypeStatus:    nil,
	TypeApprovers: nil,
	TypeAccounts:  nil,
	TypeRequest: {
		{name: "account", required: true, max: 256},
		{name: "action", required: true, max: 32, enum: api.Actions},
		{name: "text", required: true, max: MaxMessageSize},
		{name: "digest", max: 128, digest: true},
		{name: "manifest_digest", max: 128, digest: true},
		{name: "media", structured: true},
		{name: "target", structured: true},
	},
	TypeApprove: {
		{name: "request_id", required: true, max: 128},
		{name: "approver", required: true, max: 128},
		{name: "code", required: true, max: 16},
	},
	TypeDeny: {
		{name: "request_id", required: true, max: 128},
		{name: "approver", required: true, max: 128},
		{name: "code", required: true, max: 16},
	},
	TypeCancel: {
		{name: "request_id", required: true, max: 128},
	},
	TypeOpen: {
		{name: "session_id", required: true, max: 128},
		{name: "account", required: true, max: 256},
		{name: "action", required: true, max: 32, enum: api.Actions},
		{name: "digest", required: true, max: 128, digest: true},
		{name: "manifest_digest", required: true, max: 128, digest: true},
	},
	TypePublished: {
		{name: "session_id", required: true, max: 128},
		{name: "digest", required: true, max: 128, digest: true},
		{name: "manifest_digest", required: true, max: 128, digest: true},
		{name: "url", max: 2048},
	},
	TypeBlocked: {
		{name: "host", required: true, max: 253},
		{name: "reason", required: true, max: 1024},
		{name: "account", max: 256},
		{name: "digest", max: 128, digest: true},
	},
	TypeCredentials: {
		{name: "session_id", required: true, max: 128},
		{name: "account", required: true, max: 256},
		{name: "host", required: true, max: 253},
	},
	TypeSignedOut: {
		{name: "session_id", required: true, max: 128},
		{name: "account", required: true, max: 256},
		{name: "host", required: true, max: 253},
		{name: "result", required: true, max: 16, enum: []string{"ok", "failed"}},
		{name: "error", max: 1024},
	},
	TypePrivatePost: {
		{name: "platform", required: true, max: 64},
		{name: "host", required: true, max: 253},
		{name: "handle", required: true, max: 256},
	},
	TypeRotation: {
		{name: "session_id", required: true, max: 128},
		{name: "account", required: true, max: 256},
		{name: "host", required: true, max: 253},
	},
	TypeRotated: {
		{name: "session_id", required: true, max: 128},
		{name: "account", required: true, max: 256},
		{name: "host", required: true, max: 253},
		{name: "result", required: true, max: 16, enum: []string{"ok", "failed"}},
		{name: "error", max: 1024},
	},
	TypeMedia: {
		{name: "request_id", required: true, max: 128},
		{name: "sha256", required: true, max: 128, digest: true},
		{name: "offset", required: true, integer: true},
		// Standard base64 with padding of at most MaxMediaChunk bytes; absent for an empty file.
		{name: "data", max: (MaxMediaChunk + 2) / 3 * 4, base64: true},
	},
	TypeUnrecognised: {
		{name: "platform", required: true, max: 64},
		{name: "host", required: true, max: 253},
		{name: "method", required: true, max: 16, enum: []string{"POST", "PUT", "PATCH", "DELETE"}},
		{name: "path", max: 2048},
		{name: "tab", max: 16},
	},
}

// Message is one decoded message from the extension. Only the fields of its Type are set.
type Message struct {
	V    int
	ID   int64
	Type string

	Token   string // hello
	Nonce   string // hello
	Account string // request, open, blocked, credentials, signed_out
	Action  string // request, open
	Text    string // request
	Digest  string // request, open, published, blocked
	// ManifestDigest is the whole post's digest (request: optional; open, published: required).
	ManifestDigest string           // request, open, published
	Media          []manifest.Media // request
	Target         *manifest.Target // request
	RequestID      string           // approve, deny, cancel
	Approver       string           // approve, deny
	Code           string           // approve, deny
	SessionID      string           // open, published, credentials, signed_out
	URL            string           // published
	Host           string           // blocked, unrecognised, credentials, signed_out
	Reason         string           // blocked
	Platform       string           // unrecognised
	Method         string           // unrecognised
	Path           string           // unrecognised
	Tab            string           // unrecognised
	Result         string           // signed_out, rotated
	Error          string           // signed_out, rotated
	Handle         string           // private_post
	SHA256         string           // media
	Offset         int64            // media
	Data           string           // media: base64 as sent; see [Message.MediaChunk]
}

// MediaChunk is a media message's bytes: its data decoded from standard base64.
func (m *Message) MediaChunk() (api.MediaChunk, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(m.Data)
	if err != nil {
		return api.MediaChunk{}, api.Errorf(api.CodeBadRequest, "field data: must be standard base64 with padding")
	}
	if len(b) > MaxMediaChunk {
		return api.MediaChunk{}, api.Errorf(api.CodeBadRequest, "field data: more than %d bytes", MaxMediaChunk)
	}
	return api.MediaChunk{RequestID: m.RequestID, SHA256: m.SHA256, Offset: m.Offset, Data: b}, nil
}

// field returns where the string field called name is kept.
func (m *Message) field(name string) *string {
	switch name {
	case "token":
		return &m.Token
	case "nonce":
		return &m.Nonce
	case "account":
		return &m.Account
	case "action":
		return &m.Action
	case "text":
		return &m.Text
	case "digest":
		return &m.Digest
	case "manifest_digest":
		return &m.ManifestDigest
	case "request_id":
		return &m.RequestID
	case "approver":
		return &m.Approver
	case "code":
		return &m.Code
	case "session_id":
		return &m.SessionID
	case "url":
		return &m.URL
	case "host":
		return &m.Host
	case "reason":
		return &m.Reason
	case "platform":
		return &m.Platform
	case "method":
		return &m.Method
	case "path":
		return &m.Path
	case "tab":
		return &m.Tab
	case "handle":
		return &m.Handle
	case "result":
		return &m.Result
	case "error":
		return &m.Error
	case "sha256":
		return &m.SHA256
	case "data":
		return &m.Data
	}
	return nil
}

// Decode parses one message from the extension and checks it against the protocol: a JSON
// object, "v" equal to [Version], a known "type", an integer "id", and exactly the string fields
// that type allows. It returns the message as far as it could be read even on error (so a reply
// can carry the id; ID is -1 if none could be read), and an *api.Error: unsupported for another version or an unknown type,
// bad_request naming the field for anything else.
func Decode(data []byte) (Message, error) {
	m := Message{ID: -1} // -1 until an id was read: errors then carry none
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return m, api.Errorf(api.CodeBadRequest, "message is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return m, api.Errorf(api.CodeBadRequest, "trailing data after the message")
	}
	// Two values for one key would be read as the last one here and perhaps as the first one by
	// whoever logs or checks the message: refuse the ambiguity.
	if k := duplicateKey(data); k != "" {
		return m, api.Errorf(api.CodeBadRequest, "field %s: given twice", textclip.Clip(k, 40))
	}

	// The id first, so every later error can be answered under it.
	if r, ok := raw["id"]; ok {
		id, err := decodeInt(r)
		if err != nil || id < 0 || id > maxSafeInteger {
			return m, api.Errorf(api.CodeBadRequest, "field id: must be an integer from 0 to 2^53-1")
		}
		m.ID = id
	} else {
		return m, api.Errorf(api.CodeBadRequest, "field id: missing")
	}

	r, ok := raw["v"]
	if !ok {
		return m, api.Errorf(api.CodeBadRequest, "field v: missing")
	}
	v, err := decodeInt(r)
	if err != nil {
		return m, api.Errorf(api.CodeBadRequest, "field v: must be an integer")
	}
	if v != Version {
		return m, api.Errorf(api.CodeUnsupported, "protocol version %d is not supported: this daemon speaks version %d", v, Version)
	}
	m.V = int(v)

	r, ok = raw["type"]
	if !ok {
		return m, api.Errorf(api.CodeBadRequest, "field type: missing")
	}
	if err := json.Unmarshal(r, &m.Type); err != nil {
		return m, api.Errorf(api.CodeBadRequest, "field type: must be a string")
	}
	specs, known := messageFields[m.Type]
	if !known {
		typ := m.Type
		m.Type = ""
		return m, api.Errorf(api.CodeUnsupported, "message type %q is not supported", textclip.Clip(typ, 40))
	}

	allowed := make(map[string]fieldSpec, len(specs))
	for _, f := range specs {
		allowed[f.name] = f
	}
	// Sorted, so the same bad message always names the same field.
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch name {
		case "v", "id", "type":
			continue
		}
		f, ok := allowed[name]
		if !ok {
			return m, api.Errorf(api.CodeBadRequest, "field %s: not allowed in a %s message", textclip.Clip(name, 40), m.Type)
		}
		if f.structured {
			if err := m.decodeStructured(name, raw[name]); err != nil {
				return m, err
			}
			continue
		}
		if f.integer {
			n, err := decodeInt(raw[name])
			if err != nil || n < 0 || n > maxSafeInteger {
				return m, api.Errorf(api.CodeBadRequest, "field %s: must be an integer from 0 to 2^53-1", name)
			}
			m.Offset = n // the only integer field
			continue
		}
		var s string
		if err := json.Unmarshal(raw[name], &s); err != nil {
			return m, api.Errorf(api.CodeBadRequest, "field %s: must be a string", name)
		}
		if !utf8.ValidString(s) {
			return m, api.Errorf(api.CodeBadRequest, "field %s: must be valid UTF-8", name)
		}
		if len(s) > f.max {
			return m, api.Errorf(api.CodeBadRequest, "field %s: longer than %d bytes", name, f.max)
		}
		if f.enum != nil && s != "" && !slices.Contains(f.enum, s) {
			return m, api.Errorf(api.CodeBadRequest, "field %s: must be one of %s", name, strings.Join(f.enum, ", "))
		}
		if f.digest && !digest.Valid(s) { // present means a digest: the schema refuses "" too
			return m, api.Errorf(api.CodeBadRequest, "field %s: must be 64 lower-case hex digits (SHA-256)", name)
		}
		if f.base64 {
			if _, err := base64.StdEncoding.Strict().DecodeString(s); err != nil {
				return m, api.Errorf(api.CodeBadRequest, "field %s: must be standard base64 with padding", name)
			}
		}
		*m.field(name) = s
	}
	for _, f := range specs {
		if !f.required {
			continue
		}
		if _, ok := raw[f.name]; !ok {
			return m, api.Errorf(api.CodeBadRequest, "field %s: missing", f.name)
		}
		if f.structured || f.integer {
			continue
		}
		if *m.field(f.name) == "" {
			return m, api.Errorf(api.CodeBadRequest, "field %s: must not be empty", f.name)
		}
	}
	return m, nil
}

// wireMedia is one attachment as it arrives: size is a pointer so that a missing size is told
// from a file of 0 bytes.
type wireMedia struct {
	SHA256 string `json:"sha256"`
	Size   *int64 `json:"size"`
	Type   string `json:"type"`
	Name   string `json:"name"`
	Alt    string `json:"alt"`
}

// decodeStructured reads the request's media list or target object strictly (unknown members
// refused, size a whole number) and checks their values by the manifest's rules, so that a bad
// attachment is refused naming it ("field media[1].sha256: ...") before anything is asked.
func (m *Message) decodeStructured(name string, r json.RawMessage) error {
	what := "a list of {sha256, size, type, name, alt} objects"
	if name == "target" {
		what = "an object {url, author, excerpt}"
	}
	// A string inside must be UTF-8 as every string field must; JSON decoding would otherwise
	// replace bad bytes quietly and the approver would see another name.
	if !utf8.Valid(r) {
		return api.Errorf(api.CodeBadRequest, "field %s: must be valid UTF-8", name)
	}
	if string(bytes.TrimSpace(r)) == "null" {
		// As for every other field: absent is absent, null is a mistake.
		return api.Errorf(api.CodeBadRequest, "field %s: must be %s, not null", name, what)
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.DisallowUnknownFields()
	var err error
	switch name {
	case "media":
		var list []wireMedia
		if err = dec.Decode(&list); err == nil {
			m.Media = make([]manifest.Media, 0, len(list))
			for i, f := range list {
				if f.Size == nil {
					return api.Errorf(api.CodeBadRequest, "field media[%d].size: missing", i)
				}
				m.Media = append(m.Media, manifest.Media{SHA256: f.SHA256, Size: *f.Size, Type: f.Type, Name: f.Name, Alt: f.Alt})
			}
		}
	case "target":
		err = dec.Decode(&m.Target)
	default:
		err = fmt.Errorf("no such structured field")
	}
	if err != nil {
		return api.Errorf(api.CodeBadRequest, "field %s: must be %s (%s)", name, what, textclip.Clip(err.Error(), 120))
	}
	// The values, by the manifest's rules (account and action are checked as fields of their
	// own, so stand-ins are given here).
	var fe *manifest.FieldError
	check := manifest.Manifest{Account: "-", Action: "-", Media: m.Media, Target: m.Target}
	if err := check.Validate(); errors.As(err, &fe) {
		return api.Errorf(api.CodeBadRequest, "field %s: %s", fe.Field, fe.Reason)
	} else if err != nil {
		return api.Errorf(api.CodeBadRequest, "field %s: %v", name, err)
	}
	return nil
}

// duplicateKey returns a key that appears twice in one object of data (at any depth), or "".
// data is valid JSON (the caller decoded it already).
func duplicateKey(data []byte) string {
	type frame struct {
		object  bool
		wantKey bool // in an object: the next token is a key
		seen    map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	// valueDone notes that the enclosing object's value ended: a key comes next.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				top := stack[n-1]
				if top.seen[k] {
					return k
				}
				top.seen[k] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, seen: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// decodeInt reads a JSON number that must be an integer ("1", not "1.0" or "1e0").
func decodeInt(r json.RawMessage) (int64, error) {
	var n int64
	if err := json.Unmarshal(r, &n); err != nil {
		return 0, err
	}
	return n, nil
}

// Reply envelopes. Every reply is one JSON object with "v", "type" and, when it answers a
// message, that message's "id".

// wireError is the "error" member of an error reply.
type wireError struct {
	Code    api.Code `json:"code"`
	Message string   `json:"message"`
	Until   string   `json:"until,omitempty"` // RFC 3339, throttled only
}

type errorReply struct {
	V     int       `json:"v"`
	ID    *int64    `json:"id,omitempty"`
	Type  string    `json:"type"`
	Error wireError `json:"error"`
}

// toWireError turns any error into the protocol's error object. Internal errors keep their
// detail out of the reply: it goes to the log instead.
func toWireError(err error) wireError {
	e := api.AsError(err)
	w := wireError{Code: e.Code, Message: e.Message}
	if e.Code == api.CodeInternal {
		w.Message = "internal error in the foureyes daemon: see its log"
	}
	if w.Message == "" {
		w.Message = string(e.Code)
	}
	if e.Code == api.CodeThrottled && e.Until != nil {
		w.Until = e.Until.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return w
}

// ClientPolicy is the part of the policy the extension needs, sent in the hello reply.
type ClientPolicy struct {
	// Platforms lists the platform ids (from the shared platform table) to gate. Empty means
	// every platform in the table: the extension fails closed.
	Platforms []string `json:"platforms"`
	// MastodonInstances lists the hosts of the Mastodon instances the organisation posts on.
	MastodonInstances []string `json:"mastodon_instances"`
	// PrivateAccounts is the policy for private accounts on governed platforms: block,
	// allow or allow_outside_hours (the extension asks with private_post each time).
	PrivateAccounts string `json:"private_accounts"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type helloReply struct {
	V       int          `json:"v"`
	ID      int64        `json:"id"`
	Type    string       `json:"type"`
	Version string       `json:"version"`
	Policy  ClientPolicy `json:"policy"`
}

// AccountInfo is what the extension learns about an account.
type AccountInfo struct {
	ID       string `json:"id"`
	Platform string `json:"platform"`
	Handle   string `json:"handle"`
	// Custody is strict (signed in only inside a posting session) or gated.
	Custody string `json:"custody"`
}

// ApproverInfo is what the extension learns about an approver.
type ApproverInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type simpleReply struct {
	V    int    `json:"v"`
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

// mediaReply answers a media message: ok, and done once the whole file is in the store.
type mediaReply struct {
	V    int    `json:"v"`
	ID   int64  `json:"id"`
	Type string `json:"type"`
	Done bool   `json:"done"`
}

type statusReply struct {
	V      int        `json:"v"`
	ID     int64      `json:"id"`
	Type   string     `json:"type"`
	Status api.Status `json:"status"`
}

type approversReply struct {
	V         int            `json:"v"`
	ID        int64          `json:"id"`
	Type      string         `json:"type"`
	Approvers []ApproverInfo `json:"approvers"`
}

type accountsReply struct {
	V        int           `json:"v"`
	ID       int64         `json:"id"`
	Type     string        `json:"type"`
	Accounts []AccountInfo `json:"accounts"`
}

type requestReply struct {
	V       int         `json:"v"`
	ID      int64       `json:"id"`
	Type    string      `json:"type"`
	Request api.Request `json:"request"`
}

type approvalReply struct {
	V       int          `json:"v"`
	ID      int64        `json:"id"`
	Type    string       `json:"type"`
	Request api.Request  `json:"request"`
	Session *api.Session `json:"session,omitempty"`
	Grant   *Grant       `json:"grant,omitempty"`
}

type grantReply struct {
	V     int    `json:"v"`
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	Grant Grant  `json:"grant"`
}

// wireEvent is a state change pushed to the extension.
type wireEvent struct {
	Kind    string       `json:"kind"`
	Time    time.Time    `json:"time"`
	Request *api.Request `json:"request,omitempty"`
	Session *api.Session `json:"session,omitempty"`
	Message string       `json:"message,omitempty"`
}

type eventReply struct {
	V     int       `json:"v"`
	Type  string    `json:"type"`
	Event wireEvent `json:"event"`
}

// encode marshals a reply. Our reply types cannot fail to marshal; a failure is a bug.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bridge: encoding %T: %v", v, err))
	}
	return b
}

// credentialsReply carries a session's account credentials to the extension (§2.5). It is
// never logged.
type credentialsReply struct {
	V        int    `json:"v"`
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	Username string `json:"username"`
	Password string `json:"password"`
	Code     string `json:"code,omitempty"`
}

// rotationReply carries a rotate session's passwords to the extension. It is never logged.
type rotationReply struct {
	V           int    `json:"v"`
	ID          int64  `json:"id"`
	Type        string `json:"type"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	NewPassword string `json:"new_password"`
}
