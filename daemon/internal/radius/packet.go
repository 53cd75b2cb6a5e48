// Package radius is a small RADIUS client (RFC 2865) for one job: asking the organisation's OTP
// server whether an approver's code is right. It sends an Access-Request with User-Name,
// User-Password (the code, hidden with the shared secret), NAS-Identifier and a
// Message-Authenticator (RFC 3579), and believes an answer only when its Response Authenticator
// and Message-Authenticator verify with the shared secret: a forged or mis-keyed answer is an
// error, never an accept. Standard library only.
package radius

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
)

// Packet codes (RFC 2865 §3).
const (
	CodeAccessRequest   = 1
	CodeAccessAccept    = 2
	CodeAccessReject    = 3
	CodeAccessChallenge = 11
)

// Attribute types used here.
const (
	attrUserName             = 1
	attrUserPassword         = 2
	attrReplyMessage         = 18
	attrNASIdentifier        = 32
	attrMessageAuthenticator = 80
)

const (
	headerLen = 20
	// MaxPacket is the largest packet RFC 2865 allows.
	MaxPacket = 4096
	// maxAttrValue is the most an attribute's value can hold (its length octet counts itself
	// and the type).
	maxAttrValue = 253
	// maxPassword is User-Password's limit before hiding (RFC 2865 §5.2).
	maxPassword = 128
)

// Errors of a single answer. Each wraps ErrBadAnswer: the answer is discarded, not believed.
var (
	ErrBadAnswer        = errors.New("the RADIUS answer is not valid")
	ErrAuthenticator    = fmt.Errorf("%w: its Response Authenticator does not verify with the shared secret", ErrBadAnswer)
	ErrMessageAuth      = fmt.Errorf("%w: its Message-Authenticator does not verify with the shared secret", ErrBadAnswer)
	ErrNoMessageAuth    = fmt.Errorf("%w: it carries no Message-Authenticator", ErrBadAnswer)
	errWrongIdentifier  = fmt.Errorf("%w: its identifier is not the request's", ErrBadAnswer)
	errTruncated        = fmt.Errorf("%w: truncated", ErrBadAnswer)
	errBadLength        = fmt.Errorf("%w: its length field is out of range", ErrBadAnswer)
	errBadAttribute     = fmt.Errorf("%w: an attribute runs past the end of the packet or is shorter than 2 octets", ErrBadAnswer)
	errUnexpectedCode   = fmt.Errorf("%w: not an Access-Accept, Access-Reject or Access-Challenge", ErrBadAnswer)
	errTwoMessageAuths  = fmt.Errorf("%w: more than one Message-Authenticator", ErrBadAnswer)
	errMessageAuthShape = fmt.Errorf("%w: its Message-Authenticator is not 16 octets", ErrBadAnswer)
)

// request is an encoded Access-Request and what checking its answer needs.
type request struct {
	id   byte
	auth [16]byte
	raw  []byte
}

// encodeRequest builds an Access-Request. auth is the random Request Authenticator.
func encodeRequest(id byte, auth [16]byte, secret []byte, user, password, nas string) (*request, error) {
	switch {
	case user == "":
		return nil, errors.New("the RADIUS user name is empty")
	case len(user) > maxAttrValue:
		return nil, fmt.Errorf("the RADIUS user name is %d bytes, over RADIUS's limit of %d", len(user), maxAttrValue)
	case len(nas) > maxAttrValue:
		return nil, fmt.Errorf("the NAS-Identifier is %d bytes, over RADIUS's limit of %d", len(nas), maxAttrValue)
	case len(password) > maxPassword:
		return nil, fmt.Errorf("the password is %d bytes, over RADIUS's limit of %d", len(password), maxPassword)
	case len(secret) == 0:
		return nil, errors.New("the RADIUS shared secret is empty")
	}
	var b bytes.Buffer
	b.Write([]byte{CodeAccessRequest, id, 0, 0})
	b.Write(auth[:])
	// Message-Authenticator first, as the Blast-RADIUS advice has it: a forger cannot then
	// steer the MD5 state before it.
	b.Write([]byte{attrMessageAuthenticator, 18})
	maAt := b.Len()
	b.Write(make([]byte, 16))
	writeAttr(&b, attrUserName, []byte(user))
	writeAttr(&b, attrUserPassword, hidePassword(secret, auth, password))
	if nas != "" {
		writeAttr(&b, attrNASIdentifier, []byte(nas))
	}
	raw := b.Bytes()
	binary.BigEndian.PutUint16(raw[2:4], uint16(len(raw)))
	mac := hmac.New(md5.New, secret)
	mac.Write(raw) // the Message-Authenticator field is still zero, as RFC 3579 §3.2 says
	copy(raw[maAt:], mac.Sum(nil))
	return &request{id: id, auth: auth, raw: raw}, nil
}

func writeAttr(b *bytes.Buffer, typ byte, v []byte) {
	b.WriteByte(typ)
	b.WriteByte(byte(len(v) + 2))
	b.Write(v)
}

// hidePassword hides password as RFC 2865 §5.2 says: padded with zeros to a multiple of 16,
// each block XORed with MD5(secret + the previous cipher block), the first with the Request
// Authenticator.
func hidePassword(secret []byte, auth [16]byte, password string) []byte {
	n := (len(password) + 15) / 16 * 16
	if n == 0 {
		n = 16
	}
	out := make([]byte, n)
	copy(out, password)
	prev := auth[:]
	for i := 0; i < n; i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		sum := h.Sum(nil)
		for j := 0; j < 16; j++ {
			out[i+j] ^= sum[j]
		}
		prev = out[i : i+16]
	}
	return out
}

// Answer is a verified answer.
type Answer struct {
	Code byte
	// ReplyMessage is the server's Reply-Message attributes joined, for the log (may be empty).
	ReplyMessage string
}

// parseAnswer checks an answer to req and returns it. The packet must be long enough for its
// length field (octets after it are padding, RFC 2865 §3), carry req's identifier, have
// well-formed attributes, a Response Authenticator that verifies with secret, and a
// Message-Authenticator that verifies (required unless requireMA is false).
func parseAnswer(b []byte, req *request, secret []byte, requireMA bool) (Answer, error) {
	if len(b) < headerLen {
		return Answer{}, errTruncated
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > MaxPacket {
		return Answer{}, errBadLength
	}
	if len(b) < n {
		return Answer{}, errTruncated
	}
	b = b[:n]
	if b[1] != req.id {
		return Answer{}, errWrongIdentifier
	}
	code := b[0]
	if code != CodeAccessAccept && code != CodeAccessReject && code != CodeAccessChallenge {
		return Answer{}, errUnexpectedCode
	}
	// ResponseAuth = MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
	h := md5.New()
	h.Write(b[:4])
	h.Write(req.auth[:])
	h.Write(b[headerLen:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), b[4:headerLen]) {
		return Answer{}, ErrAuthenticator
	}
	var reply []string
	maAt := -1
	for i := headerLen; i < n; {
		if n-i < 2 {
			return Answer{}, errBadAttribute
		}
		l := int(b[i+1])
		if l < 2 || i+l > n {
			return Answer{}, errBadAttribute
		}
		switch b[i] {
		case attrMessageAuthenticator:
			if maAt >= 0 {
				return Answer{}, errTwoMessageAuths
			}
			if l != 18 {
				return Answer{}, errMessageAuthShape
			}
			maAt = i + 2
		case attrReplyMessage:
			reply = append(reply, string(b[i+2:i+l]))
		}
		i += l
	}
	if maAt < 0 {
		if requireMA {
			return Answer{}, ErrNoMessageAuth
		}
	} else {
		// RFC 3579 §3.2: over the answer with the Request Authenticator in place of the
		// Response Authenticator and the Message-Authenticator zeroed.
		c := bytes.Clone(b)
		copy(c[4:headerLen], req.auth[:])
		clear(c[maAt : maAt+16])
		mac := hmac.New(md5.New, secret)
		mac.Write(c)
		if !hmac.Equal(mac.Sum(nil), b[maAt:maAt+16]) {
			return Answer{}, ErrMessageAuth
		}
	}
	return Answer{Code: code, ReplyMessage: joinReply(reply)}, nil
}

func joinReply(parts []string) string {
	var b bytes.Buffer
	for _, p := range parts {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
	}
	return b.String()
}

// encodeAnswer builds a signed answer to req: what a server does. Tests and the fuzz target use
// it; the client never sends answers.
func encodeAnswer(code byte, req *request, secret []byte, withMA bool, attrs ...[]byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{code, req.id, 0, 0})
	b.Write(req.auth[:])
	maAt := -1
	if withMA {
		b.Write([]byte{attrMessageAuthenticator, 18})
		maAt = b.Len()
		b.Write(make([]byte, 16))
	}
	for _, a := range attrs {
		b.Write(a)
	}
	raw := b.Bytes()
	binary.BigEndian.PutUint16(raw[2:4], uint16(len(raw)))
	if withMA {
		mac := hmac.New(md5.New, secret)
		mac.Write(raw) // Request Authenticator in place, Message-Authenticator zero
		copy(raw[maAt:], mac.Sum(nil))
	}
	h := md5.New()
	h.Write(raw)
	h.Write(secret)
	copy(raw[4:headerLen], h.Sum(nil))
	return raw
}
