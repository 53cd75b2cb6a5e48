package bridge

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
		Digest: testDigest, Requester: "staff", ApprovedBy: []string{"anna"}, Issued: fakeTime, Expires: fakeTime.Add(10 * time.Minute), State: api.SessionActive}
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
		`{"v":1,"id":10,"type":"open","session_id":"sess-1","account":"x:@m","action":"post","digest":"` + testDigest + `"}`,
		`{"v":1,"id":11,"type":"published","session_id":"sess-1","digest":"` + testDigest + `"}`,
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
			Expires: time.Unix(v.Grant.Expires, 0)}
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
