package bridge

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/manifest"
)

func TestValidFlow(t *testing.T) {
	h := newHarness(t, nil)
	sess := api.Session{ID: "sess-1", RequestID: "req-1", Account: "mastodon:@press@social.example", Action: api.ActionPost,
		Digest: testDigest, ManifestDigest: testManifestDigest, Issued: fakeTime, Expires: fakeTime.Add(10 * time.Minute), State: api.SessionActive}
	h.fb.approval = api.Approval{Request: api.Request{ID: "req-1", State: api.RequestApproved, SessionID: sess.ID}, Session: &sess}
	h.fb.session = sess

	ws, nonce := h.connect(t, chromeA)
	if h.s.Connected() != 1 {
		t.Errorf("Connected() = %d, want 1", h.s.Connected())
	}
	if got := h.fb.Callers(); len(got) != 1 || got[0] != (api.Caller{OSUser: "staff", UID: 1000, Via: "bridge"}) {
		t.Errorf("backend callers = %+v, want the owner over the bridge", got)
	}

	send(t, ws, map[string]any{"v": 1, "id": 2, "type": "status"})
	var st statusReply
	recvInto(t, ws, &st)
	if st.Type != "status" || st.ID != 2 || st.Status.Version != "test" || st.Status.Extensions != 1 || st.Status.BridgeAddr != h.s.Addr() {
		t.Errorf("status reply = %+v", st)
	}

	send(t, ws, map[string]any{"v": 1, "id": 3, "type": "request", "account": sess.Account, "action": "post", "text": "Hello, world"})
	var rr requestReply
	recvInto(t, ws, &rr)
	if rr.Type != "request" || rr.ID != 3 || rr.Request.ID != "req-1" || rr.Request.Text != "Hello, world" {
		t.Errorf("request reply = %+v", rr)
	}

	send(t, ws, map[string]any{"v": 1, "id": 4, "type": "approve", "request_id": "req-1", "approver": "anna", "code": "123456"})
	var ar approvalReply
	recvInto(t, ws, &ar)
	if ar.Type != "approval" || ar.ID != 4 || ar.Session == nil || ar.Grant == nil {
		t.Fatalf("approval reply = %+v", ar)
	}
	checkGrant(t, h.s.PublicKey(), *ar.Grant, nonce, sess)

	send(t, ws, map[string]any{"v": 1, "id": 5, "type": "open", "session_id": sess.ID, "account": sess.Account, "action": sess.Action, "digest": sess.Digest, "manifest_digest": sess.ManifestDigest})
	var gr grantReply
	recvInto(t, ws, &gr)
	if gr.Type != "grant" || gr.ID != 5 {
		t.Fatalf("open reply = %+v", gr)
	}
	checkGrant(t, h.s.PublicKey(), gr.Grant, nonce, sess)

	want := []string{"Status", "CreateRequest", "Approve", "Consume"}
	if got := h.fb.Calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("backend calls = %v, want %v", got, want)
	}
}

func checkGrant(t *testing.T, pub ed25519.PublicKey, g Grant, nonce string, s api.Session) {
	t.Helper()
	if g.SessionID != s.ID || g.Account != s.Account || g.Action != s.Action || g.Digest != s.Digest ||
		g.ManifestDigest != s.ManifestDigest || g.Expires != s.Expires.Unix() {
		t.Errorf("grant %+v does not describe session %+v", g, s)
	}
	if err := VerifyGrant(pub, g, nonce); err != nil {
		t.Errorf("VerifyGrant: %v", err)
	}
	other := testKey(9).Public().(ed25519.PublicKey)
	bad := []struct {
		name  string
		pub   ed25519.PublicKey
		g     Grant
		nonce string
	}{
		{"other nonce", pub, g, nonce16},
		{"nonce swapped in grant", pub, with(g, func(g *Grant) { g.Nonce = nonce16 }), nonce16},
		{"other digest", pub, with(g, func(g *Grant) { g.Digest = strings.Repeat("f", 64) }), nonce},
		{"other manifest", pub, with(g, func(g *Grant) { g.ManifestDigest = strings.Repeat("e", 64) }), nonce},
		{"other account", pub, with(g, func(g *Grant) { g.Account = "x:@evil" }), nonce},
		{"later expiry", pub, with(g, func(g *Grant) { g.Expires++ }), nonce},
		{"other key", other, g, nonce},
		{"truncated key", pub[:31], g, nonce},
		{"no sig", pub, with(g, func(g *Grant) { g.Sig = "" }), nonce},
	}
	for _, b := range bad {
		if err := VerifyGrant(b.pub, b.g, b.nonce); !errors.Is(err, ErrBadGrant) {
			t.Errorf("%s: VerifyGrant = %v, want ErrBadGrant", b.name, err)
		}
	}
}

// testDigest has the form of a content digest; the bridge checks only the form.
const testDigest = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

// testManifestDigest stands for a manifest digest: the bridge passes it on, the engine checks it.
const testManifestDigest = "6ac58868cd10187d15a011251df61f8443310ab7707a6e18b43f6750068b8a82"

// TestManifestPassedOn: the attachments, the answered post and the manifest digests reach the
// engine as the extension sent them, in a request, in the open that spends a session and in
// the publish report; and the reply shows the approver what the request holds.
func TestManifestPassedOn(t *testing.T) {
	h := newHarness(t, nil)
	h.fb.session = api.Session{ID: "sess-1", Account: "x:@m", Action: api.ActionReply, Digest: testDigest,
		ManifestDigest: testManifestDigest, Issued: fakeTime, Expires: fakeTime.Add(10 * time.Minute), State: api.SessionConsumed}
	ws, _ := h.connect(t, chromeA)
	chart := map[string]any{"sha256": testDigest, "size": 48213, "type": "image/png", "name": "chart.png", "alt": "Chart"}
	target := map[string]any{"url": "https://x.com/i/status/1234567890", "author": "@someone", "excerpt": "Why?"}
	send(t, ws, map[string]any{"v": 1, "id": 3, "type": "request", "account": "x:@m", "action": "reply", "text": "See page 12.",
		"media": []any{chart}, "target": target, "manifest_digest": testManifestDigest})
	var rr requestReply
	recvInto(t, ws, &rr)
	wantMedia := []manifest.Media{{SHA256: testDigest, Size: 48213, Type: "image/png", Name: "chart.png", Alt: "Chart"}}
	wantTarget := &manifest.Target{URL: "https://x.com/i/status/1234567890", Author: "@someone", Excerpt: "Why?"}
	got := h.fb.lastRequest
	if !reflect.DeepEqual(got.Media, wantMedia) || !reflect.DeepEqual(got.Target, wantTarget) || got.ManifestDigest != testManifestDigest {
		t.Errorf("request passed on as %+v", got)
	}
	if !reflect.DeepEqual(rr.Request.Media, wantMedia) || !reflect.DeepEqual(rr.Request.Target, wantTarget) {
		t.Errorf("request reply = %+v", rr.Request)
	}

	send(t, ws, map[string]any{"v": 1, "id": 5, "type": "open", "session_id": "sess-1", "account": "x:@m", "action": "reply",
		"digest": testDigest, "manifest_digest": testManifestDigest})
	var gr grantReply
	recvInto(t, ws, &gr)
	if u := h.fb.lastUse; u.ManifestDigest != testManifestDigest || u.Digest != testDigest {
		t.Errorf("use passed on as %+v", u)
	}

	send(t, ws, map[string]any{"v": 1, "id": 6, "type": "published", "session_id": "sess-1", "digest": testDigest, "manifest_digest": testManifestDigest})
	var ok simpleReply
	recvInto(t, ws, &ok)
	if p := h.fb.lastPublished; p != [3]string{"sess-1", testDigest, testManifestDigest} || ok.Type != TypeOK {
		t.Errorf("publish report passed on as %q, reply %+v", p, ok)
	}

	// Without the manifest digest, neither spends nor reports: the decoder names the field.
	for _, m := range []map[string]any{
		{"v": 1, "id": 7, "type": "open", "session_id": "sess-1", "account": "x:@m", "action": "reply", "digest": testDigest},
		{"v": 1, "id": 8, "type": "published", "session_id": "sess-1", "digest": testDigest},
	} {
		send(t, ws, m)
		var er errorReply
		recvInto(t, ws, &er)
		if er.Type != TypeError || er.Error.Code != api.CodeBadRequest || !strings.Contains(er.Error.Message, "manifest_digest") {
			t.Errorf("%s without manifest_digest: %+v", m["type"], er)
		}
	}
}

func with(g Grant, f func(*Grant)) Grant { f(&g); return g }

func TestGrantRefusesLineBreaks(t *testing.T) {
	key := testKey(1)
	s := api.Session{ID: "s1", Account: "x:@a\nb", Action: "post", Digest: "d", ManifestDigest: "m", Expires: fakeTime}
	if _, err := signGrant(key, s, nonce16); err == nil {
		t.Error("signed a grant whose account contains a line break")
	}
	s.Account, s.ManifestDigest = "x:@a", ""
	if _, err := signGrant(key, s, nonce16); err == nil || !strings.Contains(err.Error(), "manifest_digest") {
		t.Errorf("signed a grant without a manifest digest: %v", err)
	}
}

// TestGrantBindsManifest: a grant signed for the whole post A (a text with one image) does not
// verify as a grant for post B with the same text and another image, nor with the manifest
// line left out (the v1 string), so the gate cannot open for B on A's approval.
func TestGrantBindsManifest(t *testing.T) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	post := func(sha string) string {
		m := manifest.Manifest{Account: "x:@m", Action: api.ActionPost, Text: "Our annual report",
			Media: []manifest.Media{{SHA256: sha, Size: 48213, Type: "image/png", Name: "chart.png"}}}
		d, err := m.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := post(strings.Repeat("a", 64)), post(strings.Repeat("b", 64))
	if a == b {
		t.Fatal("two posts with different images have one manifest digest")
	}
	s := api.Session{ID: "s1", Account: "x:@m", Action: api.ActionPost, Digest: testDigest, ManifestDigest: a, Expires: fakeTime}
	g, err := signGrant(key, s, nonce16)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyGrant(pub, g, nonce16); err != nil {
		t.Fatalf("grant for A: %v", err)
	}
	forB := with(g, func(g *Grant) { g.ManifestDigest = b })
	if err := VerifyGrant(pub, forB, nonce16); !errors.Is(err, ErrBadGrant) {
		t.Errorf("grant for A verifies for B: %v", err)
	}
	// The same fields signed as v1 (no manifest line) are not a grant any more.
	v1 := strings.Join([]string{"foureyes-grant-v1", g.SessionID, g.Account, g.Action, g.Digest,
		strconv.FormatInt(g.Expires, 10), g.Nonce}, "\n")
	old := with(g, func(g *Grant) { g.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(v1))) })
	if err := VerifyGrant(pub, old, nonce16); !errors.Is(err, ErrBadGrant) {
		t.Errorf("a v1 signature verifies as a grant: %v", err)
	}
	if signed, _ := g.SignedString(); !strings.HasPrefix(signed, "foureyes-grant-v2\n") || !strings.Contains(signed, "\n"+a+"\n") {
		t.Errorf("signed string %q does not carry the v2 domain and the manifest digest", signed)
	}
}

func TestMessages(t *testing.T) {
	until := fakeTime.Add(15 * time.Minute)
	h := newHarness(t, nil)
	h.fb.approveErr = &api.Error{Code: api.CodeThrottled, Message: "too many failed codes for anna", Until: &until}
	h.fb.consumeErr = errors.New("disk on fire at /secret/path")
	ws, _ := h.connect(t, chromeA)

	tests := []struct {
		name     string
		raw      string
		wantType string
		wantCode string
		contains string // in the error message, or in the raw reply
	}{
		{"ping", `{"v":1,"id":7,"type":"ping"}`, "pong", "", `"id":7`},
		{"not json", `hello`, "error", "bad_request", "JSON object"},
		{"no id, no id in the reply", `{"v":1,"type":"ping"}`, "error", "bad_request", `{"v":1,"type":"error"`},
		{"id of a bad message echoed", `{"v":1,"id":77,"type":"ping","x":1}`, "error", "bad_request", `"id":77`},
		{"json array", `[1,2]`, "error", "bad_request", "JSON object"},
		{"null", `null`, "error", "bad_request", "JSON object"},
		{"trailing data", `{"v":1,"id":1,"type":"ping"} {}`, "error", "bad_request", "trailing"},
		{"unknown type", `{"v":1,"id":8,"type":"teleport"}`, "error", "unsupported", "teleport"},
		{"wrong version", `{"v":2,"id":9,"type":"status"}`, "error", "unsupported", "version 2"},
		{"version as string", `{"v":"1","id":9,"type":"status"}`, "error", "bad_request", "field v"},
		{"missing version", `{"id":9,"type":"status"}`, "error", "bad_request", "field v"},
		{"missing id", `{"v":1,"type":"status"}`, "error", "bad_request", "field id"},
		{"fractional id", `{"v":1,"id":1.5,"type":"status"}`, "error", "bad_request", "field id"},
		{"negative id", `{"v":1,"id":-1,"type":"status"}`, "error", "bad_request", "field id"},
		{"type not a string", `{"v":1,"id":1,"type":7}`, "error", "bad_request", "field type"},
		{"text not a string", `{"v":1,"id":10,"type":"request","account":"a","action":"post","text":5}`, "error", "bad_request", "field text"},
		{"missing text", `{"v":1,"id":10,"type":"request","account":"a","action":"post"}`, "error", "bad_request", "field text"},
		{"empty account", `{"v":1,"id":10,"type":"request","account":"","action":"post","text":"t"}`, "error", "bad_request", "field account"},
		{"unknown field", `{"v":1,"id":10,"type":"status","verbose":true}`, "error", "bad_request", "field verbose"},
		{"field of another type", `{"v":1,"id":10,"type":"cancel","request_id":"r","code":"1"}`, "error", "bad_request", "field code"},
		{"second hello", `{"v":1,"id":11,"type":"hello","token":"t","nonce":"n"}`, "error", "bad_request", "already"},
		{"binary-looking garbage", "\x00\x01\x02", "error", "bad_request", "JSON object"},
		{"throttled carries until", `{"v":1,"id":12,"type":"approve","request_id":"r","approver":"anna","code":"000000"}`,
			"error", "throttled", `"until":"` + until.Format(time.RFC3339) + `"`},
		{"internal error hides detail", `{"v":1,"id":13,"type":"open","session_id":"s","account":"x:@m","action":"post","digest":"` + testDigest + `","manifest_digest":"` + testDigest + `"}`, "error", "internal", "see its log"},
		{"approvers: the offered ones, id and name only", `{"v":1,"id":14,"type":"approvers"}`, "approvers", "",
			`"approvers":[{"id":"anna","name":"Anna Press"}]`},
		{"accounts without username", `{"v":1,"id":15,"type":"accounts"}`, "accounts", "",
			`"accounts":[{"id":"mastodon:@press@social.example","platform":"mastodon","handle":"@press@social.example","custody":"strict"}]`},
		{"deny", `{"v":1,"id":16,"type":"deny","request_id":"r","approver":"anna","code":"123456"}`, "request", "", `"state":"denied"`},
		{"cancel", `{"v":1,"id":17,"type":"cancel","request_id":"r"}`, "request", "", `"state":"cancelled"`},
		{"published", `{"v":1,"id":18,"type":"published","session_id":"s","digest":"` + testDigest + `","manifest_digest":"` + testDigest + `","url":"https://x.com/p/1"}`, "ok", "", `"id":18`},
		{"blocked", `{"v":1,"id":19,"type":"blocked","host":"x.com","reason":"no session"}`, "ok", "", `"id":19`},
		{"unrecognised", `{"v":1,"id":20,"type":"unrecognised","platform":"mastodon","host":"social.example","method":"POST","path":"/api/v1/statuses","tab":"7"}`, "ok", "", `"id":20`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, b, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m["type"] != tt.wantType || errorCode(m) != tt.wantCode {
				t.Errorf("reply %s: want type %s code %q", b, tt.wantType, tt.wantCode)
			}
			if !strings.Contains(string(b), tt.contains) {
				t.Errorf("reply %s does not contain %q", b, tt.contains)
			}
			if strings.Contains(string(b), "secret") {
				t.Errorf("reply leaks internal detail: %s", b)
			}
		})
	}
	// The unrecognised report reaches the backend with every member in its place.
	if !slices.Contains(h.fb.Calls(), "ReportUnrecognised mastodon social.example POST /api/v1/statuses 7") {
		t.Errorf("backend calls = %v, want the unrecognised report", h.fb.Calls())
	}
}

func TestOversizedMessage(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name string
		size int
	}{
		{"just over the limit", MaxMessageSize + 1},
		{"over the hard limit", hardReadLimit + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, _ := h.connect(t, chromeA)
			big := `{"v":1,"id":2,"type":"request","account":"a","action":"post","text":"` +
				strings.Repeat("x", tt.size) + `"}`
			err := ws.WriteMessage(websocket.TextMessage, []byte(big))
			if tt.size <= hardReadLimit {
				if err != nil {
					t.Fatal(err)
				}
				if r := recv(t, ws); errorCode(r) != "too_large" {
					t.Errorf("reply = %v, want too_large", r)
				}
				if code := expectClosed(t, ws); code != websocket.CloseMessageTooBig {
					t.Errorf("close code %d, want %d", code, websocket.CloseMessageTooBig)
				}
			} else {
				// Refused from the frame header on: the server may close while we still write.
				expectClosed(t, ws)
			}
			// The daemon carries on.
			ws2, _ := h.connect(t, chromeA)
			send(t, ws2, map[string]any{"v": 1, "id": 3, "type": "ping"})
			if r := recv(t, ws2); r["type"] != "pong" {
				t.Errorf("new connection after too_large: %v", r)
			}
		})
	}
	for _, c := range h.fb.Calls() {
		if c == "CreateRequest" {
			t.Error("an oversized request reached the backend")
		}
	}
}

func TestMessageAtLimitIsRead(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.connect(t, chromeA)
	head := `{"v":1,"id":2,"type":"ping","pad":"`
	msg := head + strings.Repeat("x", MaxMessageSize-len(head)-2) + `"}`
	if len(msg) != MaxMessageSize {
		t.Fatalf("built %d bytes", len(msg))
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	// Read whole, then refused for its unknown field: not too_large.
	if r := recv(t, ws); errorCode(r) != "bad_request" {
		t.Errorf("reply = %v, want bad_request", r)
	}
}

func TestEventsForwarded(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.connect(t, chromeA)
	sess := &api.Session{ID: "s1", State: api.SessionRevoked}
	// Not for the extension: dropped. Then the lock and a revoked session, in order.
	h.fb.events <- api.Event{Kind: api.EventThrottled, Time: fakeTime, Approver: "anna"}
	h.fb.events <- api.Event{Kind: api.EventLock, Time: fakeTime, Message: "locked by staff"}
	h.fb.events <- api.Event{Kind: api.EventSession, Time: fakeTime, Session: sess}

	var e1, e2 eventReply
	recvInto(t, ws, &e1)
	recvInto(t, ws, &e2)
	if e1.Type != "event" || e1.Event.Kind != api.EventLock || e1.Event.Message != "locked by staff" {
		t.Errorf("first event = %+v", e1)
	}
	if e2.Event.Kind != api.EventSession || e2.Event.Session == nil || e2.Event.Session.State != api.SessionRevoked {
		t.Errorf("second event = %+v", e2)
	}
}

func TestServerPings(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.timing.ping = 10 * time.Millisecond })
	ws, _ := h.connect(t, chromeA)
	pinged := make(chan struct{}, 1)
	ws.SetPingHandler(func(data string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(5 * time.Second):
		t.Fatal("no ping from the server")
	}
}

func TestSilentConnectionDropped(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.timing.ping = time.Hour // no pings, so no pongs: only our silence counts
		s.timing.read = 50 * time.Millisecond
	})
	ws, _ := h.connect(t, chromeA)
	if h.s.Connected() != 1 {
		t.Fatal("not connected")
	}
	expectClosed(t, ws)
	waitFor(t, func() bool { return h.s.Connected() == 0 })
}

func TestDecodeTable(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		code  api.Code
		field string // named in the error message
		want  Message
	}{
		{"request", `{"v":1,"id":3,"type":"request","account":"a","action":"post","text":"t","digest":"` + testDigest + `"}`, "", "",
			Message{V: 1, ID: 3, Type: "request", Account: "a", Action: "post", Text: "t", Digest: testDigest}},
		{"short digest", `{"v":1,"id":3,"type":"open","session_id":"s","account":"x:@m","action":"post","digest":"3f2a"}`, api.CodeBadRequest, "digest", Message{}},
		{"upper-case digest", `{"v":1,"id":3,"type":"open","session_id":"s","account":"x:@m","action":"post","digest":"` + strings.ToUpper(testDigest) + `"}`, api.CodeBadRequest, "digest", Message{}},
		{"blocked minimal", `{"v":1,"id":0,"type":"blocked","host":"x.com","reason":"r"}`, "", "",
			Message{V: 1, Type: "blocked", Host: "x.com", Reason: "r"}},
		{"max id", `{"v":1,"id":9007199254740991,"type":"ping"}`, "", "", Message{V: 1, ID: 1<<53 - 1, Type: "ping"}},
		{"id over 2^53", `{"v":1,"id":9007199254740992,"type":"ping"}`, api.CodeBadRequest, "id", Message{}},
		{"id exponent", `{"v":1,"id":1e3,"type":"ping"}`, api.CodeBadRequest, "id", Message{}},
		{"unknown type keeps id", `{"v":1,"id":5,"type":"x"}`, api.CodeUnsupported, "", Message{ID: 5}},
		{"digest null", `{"v":1,"id":5,"type":"open","session_id":"s","account":"x:@m","action":"post","digest":null}`, api.CodeBadRequest, "digest", Message{}},
		{"account object", `{"v":1,"id":5,"type":"request","account":{},"action":"post","text":"t"}`, api.CodeBadRequest, "account", Message{}},
		{"code too long", `{"v":1,"id":5,"type":"approve","request_id":"r","approver":"a","code":"12345678901234567"}`, api.CodeBadRequest, "code", Message{}},
		{"empty", ``, api.CodeBadRequest, "", Message{}},
		{"unknown action", `{"v":1,"id":5,"type":"request","account":"a","action":"delete","text":"t"}`, api.CodeBadRequest, "action", Message{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in))
			if got := api.CodeOf(err); got != tt.code {
				t.Fatalf("code = %q, want %q (%v)", got, tt.code, err)
			}
			if err != nil {
				if tt.field != "" && !strings.Contains(err.Error(), "field "+tt.field) {
					t.Errorf("error %q does not name field %s", err, tt.field)
				}
				if tt.want.ID != 0 && m.ID != tt.want.ID {
					t.Errorf("id = %d, want %d", m.ID, tt.want.ID)
				}
				return
			}
			if !reflect.DeepEqual(m, tt.want) {
				t.Errorf("Decode = %+v, want %+v", m, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"id":1,"type":"hello","token":"t","nonce":"n"}`,
		`{"v":1,"id":2,"type":"request","account":"a","action":"post","text":"t\u00e9","digest":"d"}`,
		`{"v":1,"id":3,"type":"blocked","host":"h","reason":"r","account":"a"}`,
		`{"v":1,"id":2,"type":"request","account":"a","action":"reply","text":"t","media":[{"sha256":"` + testDigest + `","size":1,"type":"image/png","name":"n","alt":"a"}],"target":{"url":"https://x.com/1"}}`,
		`{"v":2,"id":3,"type":"ping"}`,
		`{"v":1,"id":1.0,"type":"ping"}`,
		`{"v":1,"id":1,"type":"ping"}{}`,
		`{"v":1,"id":1,"type":"ping","type":"status"}`,
		"{\"v\":1,\"id\":1,\"type\":\"request\",\"account\":\"a\",\"action\":\"p\",\"text\":\"\xff\"}",
		`[]`, `null`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			e := api.AsError(err)
			if e.Code != api.CodeBadRequest && e.Code != api.CodeUnsupported {
				t.Fatalf("code %q for %q", e.Code, data)
			}
			return
		}
		specs, ok := messageFields[m.Type]
		if !ok || m.V != Version || m.ID < 0 || m.ID > maxSafeInteger {
			t.Fatalf("accepted %q as %+v", data, m)
		}
		if len(m.Media) > 0 || m.Target != nil {
			// Attachments and target are accepted only as the manifest's rules allow.
			if err := (manifest.Manifest{Account: "-", Action: "-", Media: m.Media, Target: m.Target}).Validate(); err != nil {
				t.Fatalf("accepted %q with a bad manifest: %v", data, err)
			}
		}
		for _, f := range specs {
			if f.structured {
				continue
			}
			v := *m.field(f.name)
			if f.required && v == "" || len(v) > f.max || v != "" && f.enum != nil && !slices.Contains(f.enum, v) ||
				v != "" && f.digest && !digest.Valid(v) {
				t.Fatalf("field %s = %q accepted in %q", f.name, v, data)
			}
		}
		// Whatever is accepted must survive a round trip through the protocol's own encoding.
		again, err := Decode(reencode(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %+v: %+v, %v", m, again, err)
		}
	})
}

// reencode writes m back as a protocol message with only its type's fields.
func reencode(m Message) []byte {
	obj := map[string]any{"v": m.V, "id": m.ID, "type": m.Type}
	names := []string{}
	for _, f := range messageFields[m.Type] {
		names = append(names, f.name)
	}
	sort.Strings(names)
	for _, n := range names {
		switch n {
		case "media":
			if m.Media != nil {
				obj[n] = m.Media
			}
			continue
		case "target":
			if m.Target != nil {
				obj[n] = m.Target
			}
			continue
		}
		if v := *m.field(n); v != "" {
			obj[n] = v
		}
	}
	b, _ := json.Marshal(obj)
	return b
}

func BenchmarkStatusRoundTrip(b *testing.B) {
	h := newHarness(b, nil)
	ws, _ := h.connect(b, chromeA)
	msg := []byte(`{"v":1,"id":2,"type":"status"}`)
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds()), "p99-ns")
}

// TestMediaPassedOn: a media message's bytes reach the backend decoded, with the request,
// the file's digest and the offset; the reply says when the file is stored. Bad chunks are
// refused before the backend sees them.
func TestMediaPassedOn(t *testing.T) {
	h := newHarness(t, nil)
	h.fb.mediaDone = true
	ws, _ := h.connect(t, chromeA)
	data := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, MaxMediaChunk/4)
	send(t, ws, map[string]any{"v": 1, "id": 3, "type": "media", "request_id": "r1", "sha256": testDigest, "offset": 65536,
		"data": base64.StdEncoding.EncodeToString(data)})
	var ok mediaReply
	recvInto(t, ws, &ok)
	if ok.Type != TypeOK || ok.ID != 3 || !ok.Done {
		t.Fatalf("reply = %+v", ok)
	}
	h.fb.mu.Lock()
	got := slices.Clone(h.fb.media)
	h.fb.mu.Unlock()
	if len(got) != 1 || got[0].RequestID != "r1" || got[0].SHA256 != testDigest || got[0].Offset != 65536 || !bytes.Equal(got[0].Data, data) {
		t.Fatalf("backend got %+v", got)
	}
	for _, bad := range []map[string]any{
		{"v": 1, "id": 4, "type": "media", "request_id": "r1", "sha256": testDigest, "offset": 0, "data": "not base64!"},
		{"v": 1, "id": 5, "type": "media", "request_id": "r1", "sha256": testDigest, "offset": 1.5, "data": "AAAA"},
		{"v": 1, "id": 6, "type": "media", "request_id": "r1", "sha256": "ABC", "offset": 0, "data": "AAAA"},
		{"v": 1, "id": 7, "type": "media", "request_id": "r1", "sha256": testDigest, "offset": 0, "data": "AAA"},
	} {
		send(t, ws, bad)
		var er errorReply
		recvInto(t, ws, &er)
		if er.Type != TypeError || er.Error.Code != api.CodeBadRequest {
			t.Errorf("%v: %+v", bad, er)
		}
	}
	if n := len(h.fb.Calls()); h.fb.Calls()[n-1] != "KeepMedia" || strings.Count(strings.Join(h.fb.Calls(), ","), "KeepMedia") != 1 {
		t.Errorf("calls = %v: a bad chunk reached the backend", h.fb.Calls())
	}
}
