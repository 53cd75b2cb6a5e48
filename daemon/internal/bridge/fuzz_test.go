package bridge

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/shared/protocol"
)

// FuzzGrant signs grants of fuzzed fields and checks them: a grant verifies exactly when the
// daemon could sign it, for its own nonce and key only, and any change to a signed field or
// the signature makes it fail. Forged grants (fuzzed signatures) never verify.
func FuzzGrant(f *testing.F) {
	f.Add("s1", "x:@m", "post", strings.Repeat("a", 64), strings.Repeat("c", 64), int64(1700000000), "n1", "sig", "n1")
	f.Add("s\n1", "x:@m", "post", "d", "m", int64(-1), "n", "", "n")
	f.Add("s1", "x:@m", "post", "d", "", int64(1), "n", "", "n")
	f.Add("", "", "", "", "", int64(0), "", "AAAA", "")
	seed := make([]byte, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 1)).Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, id, account, action, dg, mdg string, expires int64, nonce, sig, connNonce string) {
		forged := Grant{SessionID: id, Account: account, Action: action, Digest: dg, ManifestDigest: mdg, Expires: expires, Nonce: nonce, Sig: sig}
		if VerifyGrant(pub, forged, connNonce) == nil {
			t.Fatalf("a forged grant verifies: %+v", forged)
		}
		s := api.Session{ID: id, Account: account, Action: action, Digest: dg, ManifestDigest: mdg, Expires: time.Unix(expires, 0)}
		g, err := signGrant(key, s, nonce)
		if err != nil {
			if _, serr := forged.SignedString(); serr == nil {
				t.Fatalf("signing failed for fields that make a signed string: %v", err)
			}
			return
		}
		if err := VerifyGrant(pub, g, nonce); err != nil {
			t.Fatalf("a signed grant does not verify: %v", err)
		}
		if VerifyGrant(other, g, nonce) == nil {
			t.Fatal("a grant verifies under another key")
		}
		if connNonce != nonce && VerifyGrant(pub, g, connNonce) == nil {
			t.Fatal("a grant verifies for another connection's nonce")
		}
		for _, mut := range []func(*Grant){
			func(g *Grant) { g.SessionID += "x" },
			func(g *Grant) { g.Account += "x" },
			func(g *Grant) { g.Action += "x" },
			func(g *Grant) { g.Digest += "x" },
			func(g *Grant) { g.ManifestDigest += "x" },
			func(g *Grant) { g.ManifestDigest, g.Digest = g.Digest, g.ManifestDigest },
			func(g *Grant) { g.Expires++ },
			func(g *Grant) { g.Sig = sig },
		} {
			m := g
			mut(&m)
			if m != g && VerifyGrant(pub, m, nonce) == nil {
				t.Fatalf("a changed grant verifies: %+v", m)
			}
		}
	})
}

// FuzzDecodeAgainstSchema holds the bridge to the shared schema: every message it accepts is
// valid under messages.schema.json (to_daemon), as the extension's own check sees it. A hello's
// nonce is checked after decoding (checkNonce, stricter than the schema's pattern), so a hello
// counts as accepted only if its nonce passes too.
func FuzzDecodeAgainstSchema(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"id":1,"type":"hello","token":"t","nonce":"AAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"v":1,"id":2,"type":"request","account":"x:@m","action":"post","text":"t","digest":"` + strings.Repeat("a", 64) + `"}`,
		`{"v":1,"id":3,"type":"blocked","host":"h","reason":"r"}`,
		`{"v":1,"id":4,"type":"ping"}`,
		`{"v":1,"id":5,"type":"consume","session_id":"s","account":"x:@m","action":"post","digest":"` + strings.Repeat("b", 64) + `"}`,
		`{"v":1,"id":6,"type":"media","request_id":"r","sha256":"` + strings.Repeat("c", 64) + `","offset":32768,"data":"iVBORw=="}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil || m.Type == TypeHello && checkNonce(m.Nonce) != nil {
			return
		}
		if err := protocol.Validate(protocol.ToDaemon, data); err != nil {
			t.Fatalf("the bridge accepts %q, which the schema refuses: %v", data, err)
		}
	})
}
