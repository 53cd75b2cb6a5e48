package bridge

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"foureyes/daemon/internal/api"
	"foureyes/shared/protocol"
)

// protocolFile reads a file of the shared protocol contract.
func protocolFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "protocol", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeAgreesWithExamples holds the decoder to the shared examples: it accepts every valid
// message to the daemon and answers every invalid one with the example's code.
func TestDecodeAgreesWithExamples(t *testing.T) {
	var f struct {
		Examples []struct {
			Name      string          `json:"name"`
			Direction string          `json:"direction"`
			Valid     bool            `json:"valid"`
			Code      string          `json:"code"`
			Message   json.RawMessage `json:"message"`
		} `json:"examples"`
	}
	if err := json.Unmarshal(protocolFile(t, "examples.json"), &f); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ex := range f.Examples {
		if ex.Direction != protocol.ToDaemon {
			continue
		}
		n++
		t.Run(ex.Name, func(t *testing.T) {
			_, err := Decode(ex.Message)
			if ex.Valid && err != nil {
				t.Errorf("Decode refused a valid example: %v", err)
			}
			if !ex.Valid && string(api.CodeOf(err)) != ex.Code {
				t.Errorf("Decode = %v, want code %q", err, ex.Code)
			}
		})
	}
	if n == 0 {
		t.Fatal("no examples to the daemon")
	}
}

// TestRepliesFitSchema runs every message type through a live connection and checks each raw
// reply, and a pushed event, against the shared schema.
func TestRepliesFitSchema(t *testing.T) {
	h := newHarness(t, nil)
	sess := api.Session{ID: "sess-1", RequestID: "req-1", Account: "mastodon:@press@social.example", Action: api.ActionPost,
		Digest: testDigest, ManifestDigest: testManifestDigest, Requester: "staff", ApprovedBy: []string{"anna"}, Issued: fakeTime, Expires: fakeTime.Add(10 * time.Minute), State: api.SessionActive}
	approved := fakeRequest("req-1", api.RequestApproved)
	approved.SessionID, approved.ApprovedBy = sess.ID, []string{"anna"}
	h.fb.approval = api.Approval{Request: approved, Session: &sess}
	h.fb.session = sess

	hh := mustHello(t, h, chromeA)
	ws, _, err := h.dial(t, chromeA)
	if err != nil {
		t.Fatal(err)
	}
	nonce := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	msgs := []string{
		`{"v":1,"id":1,"type":"hello","token":"` + hh.Token + `","nonce":"` + nonce + `"}`,
		`{"v":1,"id":2,"type":"ping"}`,
		`{"v":1,"id":3,"type":"status"}`,
		`{"v":1,"id":4,"type":"approvers"}`,
		`{"v":1,"id":5,"type":"accounts"}`,
		`{"v":1,"id":6,"type":"request","account":"mastodon:@press@social.example","action":"post","text":"Hello, world"}`,
		`{"v":1,"id":7,"type":"approve","request_id":"req-1","approver":"anna","code":"123456"}`,
		`{"v":1,"id":8,"type":"deny","request_id":"req-1","approver":"anna","code":"123456"}`,
		`{"v":1,"id":9,"type":"cancel","request_id":"req-1"}`,
		`{"v":1,"id":10,"type":"open","session_id":"sess-1","account":"x:@m","action":"post","digest":"` + testDigest + `","manifest_digest":"` + testDigest + `"}`,
		`{"v":1,"id":11,"type":"published","session_id":"sess-1","digest":"` + testDigest + `","manifest_digest":"` + testDigest + `"}`,
		`{"v":1,"id":12,"type":"blocked","host":"x.com","reason":"no session"}`,
		`{"v":1,"id":13,"type":"teleport"}`,
		`not json`,
	}
	for _, m := range msgs {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, reply, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if err := protocol.Validate(protocol.FromDaemon, reply); err != nil {
			t.Errorf("reply to %s\n%s\ndoes not fit the schema: %v", m, reply, err)
		}
	}
	h.fb.events <- api.Event{Kind: api.EventSession, Time: fakeTime, Session: &sess}
	_, ev, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.Validate(protocol.FromDaemon, ev); err != nil {
		t.Errorf("event %s does not fit the schema: %v", ev, err)
	}
}

// TestGrantVectorFile: the Go signer and verifier agree with the shared vectors.
func TestGrantVectorFile(t *testing.T) {
	var f struct {
		Seed    string `json:"seed"`
		Vectors []struct {
			Name   string `json:"name"`
			Grant  Grant  `json:"grant"`
			Signed string `json:"signed"`
		} `json:"vectors"`
		MustNotVerify []struct {
			Name  string `json:"name"`
			Grant Grant  `json:"grant"`
			Nonce string `json:"nonce"`
		} `json:"must_not_verify"`
	}
	if err := json.Unmarshal(protocolFile(t, "grant-vectors.json"), &f); err != nil {
		t.Fatal(err)
	}
	seed, err := base64.StdEncoding.DecodeString(f.Seed)
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	for _, v := range f.Vectors {
		got, err := v.Grant.SignedString()
		if err != nil || got != v.Signed {
			t.Errorf("%s: SignedString = %q, %v", v.Name, got, err)
		}
		s := api.Session{ID: v.Grant.SessionID, Account: v.Grant.Account, Action: v.Grant.Action, Digest: v.Grant.Digest,
			ManifestDigest: v.Grant.ManifestDigest, Expires: time.Unix(v.Grant.Expires, 0)}
		g, err := signGrant(key, s, v.Grant.Nonce)
		if err != nil || g != v.Grant {
			t.Errorf("%s: signGrant = %+v, %v; want %+v", v.Name, g, err, v.Grant)
		}
		if err := VerifyGrant(pub, v.Grant, v.Grant.Nonce); err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
	for _, v := range f.MustNotVerify {
		if err := VerifyGrant(pub, v.Grant, v.Nonce); !errors.Is(err, ErrBadGrant) {
			t.Errorf("%s: VerifyGrant = %v", v.Name, err)
		}
	}
}

// TestDecodeAgreesWithSchema holds the decoder to shared/protocol/messages.schema.json: every
// message to the daemon, from the shared examples and from the table below, is accepted by
// Decode exactly when the schema (protocol.Validate) accepts it.
func TestDecodeAgreesWithSchema(t *testing.T) {
	var f struct {
		Examples []struct {
			Name      string          `json:"name"`
			Direction string          `json:"direction"`
			Message   json.RawMessage `json:"message"`
		} `json:"examples"`
	}
	if err := json.Unmarshal(protocolFile(t, "examples.json"), &f); err != nil {
		t.Fatal(err)
	}
	type tc struct{ name, msg string }
	var tests []tc
	for _, ex := range f.Examples {
		if ex.Direction == protocol.ToDaemon {
			tests = append(tests, tc{"example " + ex.Name, string(ex.Message)})
		}
	}
	digest := strings.Repeat("ab", 32)
	media := func(members string) string { return "{" + members + "}" }
	nonce := strings.Repeat("A", 22)
	tests = append(tests, []tc{
		{"ping", `{"v":1,"id":0,"type":"ping"}`},
		{"hello", `{"v":1,"id":1,"type":"hello","token":"t","nonce":"` + nonce + `"}`},
		{"hello with empty token", `{"v":1,"id":1,"type":"hello","token":"","nonce":"` + nonce + `"}`},
		{"hello with short nonce", `{"v":1,"id":1,"type":"hello","token":"t","nonce":"AAAA"}`},
		{"hello with padded nonce", `{"v":1,"id":1,"type":"hello","token":"t","nonce":"` + nonce + `=="}`},
		{"hello without nonce", `{"v":1,"id":1,"type":"hello","token":"t"}`},
		{"hello with a nonce of 25 characters", `{"v":1,"id":1,"type":"hello","token":"t","nonce":"` + strings.Repeat("A", 25) + `"}`},
		{"not an object", `[]`},
		{"null", `null`},
		{"not JSON", `{"v":1,`},
		{"trailing data", `{"v":1,"id":1,"type":"ping"} {}`},
		{"no id", `{"v":1,"type":"ping"}`},
		{"negative id", `{"v":1,"id":-1,"type":"ping"}`},
		{"id over 2^53", `{"v":1,"id":9007199254740992,"type":"ping"}`},
		{"id with exponent", `{"v":1,"id":1e0,"type":"ping"}`},
		{"id with fraction", `{"v":1,"id":1.5,"type":"ping"}`},
		{"id as string", `{"v":1,"id":"1","type":"ping"}`},
		{"version 2", `{"v":2,"id":1,"type":"ping"}`},
		{"no version", `{"id":1,"type":"ping"}`},
		{"unknown type", `{"v":1,"id":1,"type":"teleport"}`},
		{"daemon's own type", `{"v":1,"id":1,"type":"grant"}`},
		{"unknown field", `{"v":1,"id":1,"type":"ping","extra":1}`},
		{"request", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello"}`},
		{"request with digest", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","digest":"` + digest + `"}`},
		{"request with upper-case digest", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","digest":"` + strings.ToUpper(digest) + `"}`},
		{"request with unknown action", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"delete","text":"Hello"}`},
		{"request with empty action", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"","text":"Hello"}`},
		{"request with empty account", `{"v":1,"id":2,"type":"request","account":"","action":"post","text":"Hello"}`},
		{"request with empty text", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":""}`},
		{"request without text", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post"}`},
		{"request with number text", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":5}`},
		{"request with null text", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":null}`},
		{"request with long account", `{"v":1,"id":2,"type":"request","account":"` + strings.Repeat("a", 257) + `","action":"post","text":"t"}`},
		{"approve", `{"v":1,"id":3,"type":"approve","request_id":"r","approver":"anna","code":"123456"}`},
		{"approve with long code", `{"v":1,"id":3,"type":"approve","request_id":"r","approver":"anna","code":"12345678901234567"}`},
		{"approve with empty code", `{"v":1,"id":3,"type":"approve","request_id":"r","approver":"anna","code":""}`},
		{"deny", `{"v":1,"id":3,"type":"deny","request_id":"r","approver":"anna","code":"123456"}`},
		{"cancel", `{"v":1,"id":4,"type":"cancel","request_id":"r"}`},
		{"cancel with empty id", `{"v":1,"id":4,"type":"cancel","request_id":""}`},
		{"open", `{"v":1,"id":5,"type":"open","session_id":"s","account":"x:@m","action":"repost","digest":"` + digest + `","manifest_digest":"` + digest + `"}`},
		{"open without digest", `{"v":1,"id":5,"type":"open","session_id":"s","account":"x:@m","action":"post","manifest_digest":"` + digest + `"}`},
		{"open without manifest digest", `{"v":1,"id":5,"type":"open","session_id":"s","account":"x:@m","action":"post","digest":"` + digest + `"}`},
		{"published", `{"v":1,"id":6,"type":"published","session_id":"s","digest":"` + digest + `","manifest_digest":"` + digest + `","url":"https://x.com/m/status/1"}`},
		{"published with short digest", `{"v":1,"id":6,"type":"published","session_id":"s","digest":"abc","manifest_digest":"` + digest + `"}`},
		{"published without manifest digest", `{"v":1,"id":6,"type":"published","session_id":"s","digest":"` + digest + `"}`},
		{"published with a short manifest digest", `{"v":1,"id":6,"type":"published","session_id":"s","digest":"` + digest + `","manifest_digest":"abc"}`},
		{"request with media and target", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"reply","text":"Hello","media":[` + media(`"sha256":"`+digest+`","size":5,"type":"image/png","name":"a.png","alt":"A"`) + `],"target":{"url":"https://x.com/i/status/1","author":"@a","excerpt":"e"},"manifest_digest":"` + digest + `"}`},
		{"request with media null", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"reply","text":"Hello","media":null}`},
		{"request with target null", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"reply","text":"Hello","target":null}`},
		{"request with ten attachments", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + strings.Repeat(media(`"sha256":"`+digest+`","size":5,"type":"image/png"`)+`,`, 9) + media(`"sha256":"`+digest+`","size":5,"type":"image/png"`) + `]}`},
		{"request with eleven attachments", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + strings.Repeat(media(`"sha256":"`+digest+`","size":5,"type":"image/png"`)+`,`, 10) + media(`"sha256":"`+digest+`","size":5,"type":"image/png"`) + `]}`},
		{"request with an upper-case file digest", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+strings.ToUpper(digest)+`","size":5,"type":"image/png"`) + `]}`},
		{"request with a file without size", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+digest+`","type":"image/png"`) + `]}`},
		{"request with a fractional size", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+digest+`","size":1.5,"type":"image/png"`) + `]}`},
		{"request with a negative size", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+digest+`","size":-1,"type":"image/png"`) + `]}`},
		{"request with an upper-case type", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+digest+`","size":1,"type":"image/PNG"`) + `]}`},
		{"request with a file name holding an escape", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+digest+`","size":1,"type":"image/png","name":"a\u001b[2J.png"`) + `]}`},
		{"request with the file's bytes", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+digest+`","size":1,"type":"image/png","bytes":"AA=="`) + `]}`},
		{"request with media not a list", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":{"sha256":"` + digest + `"}}`},
		{"request with a target over http", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"reply","text":"Hello","target":{"url":"http://x.com/i/status/1"}}`},
		{"request with a target url holding a space", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"reply","text":"Hello","target":{"url":"https://x.com/i/status/1 2"}}`},
		{"request with a target without url", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"reply","text":"Hello","target":{"author":"@a"}}`},
		{"request with a long author", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"reply","text":"Hello","target":{"url":"https://x.com/i/status/1","author":"` + strings.Repeat("a", 101) + `"}}`},
		{"request with a short manifest digest", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","manifest_digest":"abc"}`},
		{"blocked", `{"v":1,"id":7,"type":"blocked","host":"x.com","reason":"no session"}`},
		{"unrecognised", `{"v":1,"id":8,"type":"unrecognised","platform":"mastodon","host":"social.example","method":"POST","path":"/api/v1/statuses","tab":"12"}`},
		{"unrecognised without path and tab", `{"v":1,"id":8,"type":"unrecognised","platform":"x","host":"x.com","method":"POST"}`},
		{"unrecognised with a GET", `{"v":1,"id":8,"type":"unrecognised","platform":"x","host":"x.com","method":"GET"}`},
		{"unrecognised without platform", `{"v":1,"id":8,"type":"unrecognised","host":"x.com","method":"POST"}`},
		{"unrecognised with a reason", `{"v":1,"id":8,"type":"unrecognised","platform":"x","host":"x.com","method":"POST","reason":"r"}`},
		{"blocked with long host", `{"v":1,"id":7,"type":"blocked","host":"` + strings.Repeat("a", 254) + `","reason":"r"}`},
		{"a key given twice", `{"v":1,"id":5,"type":"open","session_id":"s","account":"x:@m","action":"post","action":"repost","digest":"` + digest + `","manifest_digest":"` + digest + `"}`},
		{"a member of an attachment given twice", `{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"Hello","media":[` + media(`"sha256":"`+digest+`","size":5,"size":6,"type":"image/png"`) + `]}`},
		{"a key of a nested object given twice", `{"v":1,"id":7,"type":"blocked","host":"x.com","reason":"r","reason":"s"}`},
	}...)
	// Where the two may differ, and why. The schema's pattern cannot say that a base64url text
	// of 4n+1 characters decodes to nothing; checkNonce can.
	// JSON Schema reads an object with a key given twice as if it had only the last value; the
	// decoder refuses the ambiguity.
	stricter := map[string]bool{
		"hello with a nonce of 25 characters":   true,
		"a key given twice":                     true,
		"a key of a nested object given twice":  true,
		"a member of an attachment given twice": true,
	}
	// decode is what the bridge does with a message before acting on it: Decode, and for hello
	// the nonce check of the connection.
	decode := func(data []byte) error {
		m, err := Decode(data)
		if err == nil && m.Type == TypeHello {
			err = checkNonce(m.Nonce)
		}
		return err
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schemaErr := protocol.Validate(protocol.ToDaemon, []byte(tt.msg))
			decodeErr := decode([]byte(tt.msg))
			if stricter[tt.name] {
				if schemaErr != nil || decodeErr == nil {
					t.Errorf("listed as accepted by the schema and refused by the decoder, got schema %v, decoder %v", schemaErr, decodeErr)
				}
				return
			}
			if (schemaErr == nil) != (decodeErr == nil) {
				t.Errorf("schema and decoder disagree on %s\nschema:  %v\ndecoder: %v", tt.msg, schemaErr, decodeErr)
			}
		})
	}
}

func TestDuplicateKey(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":"b","b":1}`, ""},
		{`{"a":"a","b":"a"}`, ""},
		{`{"a":{"x":1,"x":2}}`, "x"},
		{`{"a":[{"x":1},{"x":2}],"b":3}`, ""},
		{`{"a":[{"x":1,"x":2}]}`, "x"},
		{`{"a":{"b":1},"a":2}`, "a"},
		{`{"a":[1,"a",{"a":1}],"c":{"a":2}}`, ""},
	} {
		if got := duplicateKey([]byte(tt.json)); got != tt.want {
			t.Errorf("duplicateKey(%s) = %q, want %q", tt.json, got, tt.want)
		}
	}
	_, err := Decode([]byte(`{"v":1,"id":5,"type":"open","session_id":"s","account":"x:@m","action":"post","action":"repost"}`))
	if api.CodeOf(err) != api.CodeBadRequest || !strings.Contains(err.Error(), "action: given twice") {
		t.Fatalf("Decode of a key given twice: %v", err)
	}
}
