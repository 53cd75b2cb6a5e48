package bridge

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"foureyes/daemon/internal/api"
)

// grantDomain starts every signed grant, so a signature over a grant can never be mistaken for
// a signature over anything else the daemon key might one day sign. v2 added the manifest digest
// (the whole post); the daemon no longer signs v1, and a v1 verifier cannot accept a v2 string
// since the first line differs.
const grantDomain = "foureyes-grant-v2"

// Grant is the daemon's signed statement that a session allows one publish of the post with
// ManifestDigest (text Digest, attachments, answered post) on Account. The extension opens its gate only for a grant that verifies against the
// daemon key it learnt from the native host and carries its own connection nonce. See
// shared/protocol/PROTOCOL.md §3.
type Grant struct {
	SessionID string `json:"session_id"`
	Account   string `json:"account"`
	Action    string `json:"action"`
	Digest    string `json:"digest"`
	// ManifestDigest is the digest of the whole post the session was approved for
	// (package manifest): the text, each attached file, the answered, quoted or reposted post.
	ManifestDigest string `json:"manifest_digest"`
	// Expires is the session's expiry in Unix seconds: an integer, so that both sides write it
	// the same way into the signed string.
	Expires int64  `json:"expires"`
	Nonce   string `json:"nonce"`
	// Sig is the Ed25519 signature over [Grant.SignedString], standard base64 with padding.
	Sig string `json:"sig"`
}

// SignedString returns the exact bytes the signature covers:
//
//	foureyes-grant-v2\n<session_id>\n<account>\n<action>\n<digest>\n<manifest_digest>\n<expires>\n<nonce>
//
// with no trailing newline. It fails if a field is empty or contains a line break, since then the
// string would not say unambiguously what was signed.
func (g Grant) SignedString() (string, error) {
	fields := []struct{ name, value string }{
		{"session_id", g.SessionID},
		{"account", g.Account},
		{"action", g.Action},
		{"digest", g.Digest},
		{"manifest_digest", g.ManifestDigest},
		{"nonce", g.Nonce},
	}
	for _, f := range fields {
		if f.value == "" {
			return "", fmt.Errorf("grant field %s is empty", f.name)
		}
		if strings.ContainsAny(f.value, "\r\n") {
			return "", fmt.Errorf("grant field %s contains a line break", f.name)
		}
	}
	return strings.Join([]string{
		grantDomain, g.SessionID, g.Account, g.Action, g.Digest, g.ManifestDigest,
		strconv.FormatInt(g.Expires, 10), g.Nonce,
	}, "\n"), nil
}

// signGrant makes the grant for session s on a connection whose hello carried nonce.
func signGrant(key ed25519.PrivateKey, s api.Session, nonce string) (Grant, error) {
	g := Grant{
		SessionID:      s.ID,
		Account:        s.Account,
		Action:         s.Action,
		Digest:         s.Digest,
		ManifestDigest: s.ManifestDigest,
		Expires:        s.Expires.Unix(),
		Nonce:          nonce,
	}
	msg, err := g.SignedString()
	if err != nil {
		return Grant{}, fmt.Errorf("signing grant for session %q: %w", s.ID, err)
	}
	g.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(msg)))
	return g, nil
}

// ErrBadGrant is returned by [VerifyGrant] for any grant that must not open the gate.
var ErrBadGrant = errors.New("grant does not verify")

// VerifyGrant reports whether g is a grant signed by pub for the connection nonce: nil if so,
// else an error wrapping [ErrBadGrant]. It does not look at the time: the caller also checks
// that g.Expires is in the future and that g.Digest and g.ManifestDigest are the digests of the
// text and of the whole post it is about to send.
func VerifyGrant(pub ed25519.PublicKey, g Grant, nonce string) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key is %d bytes, want %d", ErrBadGrant, len(pub), ed25519.PublicKeySize)
	}
	if nonce == "" || g.Nonce != nonce {
		return fmt.Errorf("%w: nonce is not this connection's", ErrBadGrant)
	}
	msg, err := g.SignedString()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadGrant, err)
	}
	sig, err := base64.StdEncoding.DecodeString(g.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: sig is not %d bytes of standard base64", ErrBadGrant, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, []byte(msg), sig) {
		return fmt.Errorf("%w: bad signature", ErrBadGrant)
	}
	return nil
}
