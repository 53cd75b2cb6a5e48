package radius

import (
	"testing"
)

// FuzzParseAnswer: whatever arrives, parsing never panics, and nothing is believed unless it
// is an answer to the request signed with the secret.
func FuzzParseAnswer(f *testing.F) {
	req, err := encodeRequest(7, [16]byte{1, 2, 3}, secret, "anna", "123456", "nas")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeAnswer(CodeAccessAccept, req, secret, true))
	f.Add(encodeAnswer(CodeAccessReject, req, secret, true, []byte{attrReplyMessage, 4, 'n', 'o'}))
	f.Add(encodeAnswer(CodeAccessChallenge, req, secret, false))
	f.Add(encodeAnswer(CodeAccessAccept, req, []byte("other"), true))
	f.Add([]byte{2, 7, 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseAnswer(b, req, secret, true)
		if err != nil {
			return
		}
		// Believed: it must be exactly what a server holding the secret would send.
		if a.Code != CodeAccessAccept && a.Code != CodeAccessReject && a.Code != CodeAccessChallenge {
			t.Fatalf("believed code %d", a.Code)
		}
		if _, err := parseAnswer(b, req, []byte("another secret"), true); err == nil {
			t.Fatal("the same answer verifies with another secret")
		}
	})
}
