package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var secret = []byte("s3cret-shared")

// fake is an in-process RADIUS server: answer decides, per received request, which datagrams
// go back.
type fake struct {
	conn *net.UDPConn
	got  atomic.Int32
}

func newFake(t *testing.T, answer func(req *request, user, password string) [][]byte) *fake {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{conn: conn}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, MaxPacket)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			f.got.Add(1)
			req, user, pw, err := decodeRequest(buf[:n], secret)
			if err != nil {
				t.Errorf("fake server: %v", err)
				continue
			}
			for _, b := range answer(req, user, pw) {
				_, _ = conn.WriteToUDP(b, from)
			}
		}
	}()
	return f
}

func (f *fake) addr() string { return f.conn.LocalAddr().String() }

// decodeRequest is the server's side: it checks the request's Message-Authenticator and
// recovers the password, independently of the client's encoder.
func decodeRequest(b []byte, secret []byte) (*request, string, string, error) {
	if len(b) < headerLen || b[0] != CodeAccessRequest || int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
		return nil, "", "", errors.New("not an Access-Request")
	}
	req := &request{id: b[1], raw: b}
	copy(req.auth[:], b[4:20])
	var user string
	var hidden []byte
	maAt := -1
	for i := headerLen; i < len(b); i += int(b[i+1]) {
		v := b[i+2 : i+int(b[i+1])]
		switch b[i] {
		case attrUserName:
			user = string(v)
		case attrUserPassword:
			hidden = v
		case attrMessageAuthenticator:
			maAt = i + 2
		}
	}
	if maAt < 0 {
		return nil, "", "", errors.New("no Message-Authenticator")
	}
	c := bytes.Clone(b)
	clear(c[maAt : maAt+16])
	m := hmac.New(md5.New, secret)
	m.Write(c)
	if !hmac.Equal(m.Sum(nil), b[maAt:maAt+16]) {
		return nil, "", "", errors.New("Message-Authenticator does not verify")
	}
	pw := make([]byte, len(hidden))
	prev := req.auth[:]
	for i := 0; i < len(hidden); i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		s := h.Sum(nil)
		for j := 0; j < 16; j++ {
			pw[i+j] = hidden[i+j] ^ s[j]
		}
		prev = hidden[i : i+16]
	}
	return req, user, string(bytes.TrimRight(pw, "\x00")), nil
}

func cfg(servers ...string) Config {
	return Config{Servers: servers, Secret: secret, NASIdentifier: "foureyes-test", Timeout: 200 * time.Millisecond, Retries: 1}
}

// otp answers like an OTP server that knows one right code.
func otp(right string) func(req *request, user, pw string) [][]byte {
	return func(req *request, user, pw string) [][]byte {
		if user == "anna" && pw == right {
			return [][]byte{encodeAnswer(CodeAccessAccept, req, secret, true)}
		}
		return [][]byte{encodeAnswer(CodeAccessReject, req, secret, true, []byte{attrReplyMessage, 7, 'w', 'r', 'o', 'n', 'g'})}
	}
}

func TestAcceptAndReject(t *testing.T) {
	f := newFake(t, otp("123456"))
	ok, err := Authenticate(context.Background(), cfg(f.addr()), "anna", "123456")
	if err != nil || !ok {
		t.Fatalf("right code: %v %v, want accept", ok, err)
	}
	ok, err = Authenticate(context.Background(), cfg(f.addr()), "anna", "654321")
	if err != nil || ok {
		t.Fatalf("wrong code: %v %v, want reject without error", ok, err)
	}
}

func TestChallengeIsARefusalNamedAsUnsupported(t *testing.T) {
	f := newFake(t, func(req *request, _, _ string) [][]byte {
		return [][]byte{encodeAnswer(CodeAccessChallenge, req, secret, true)}
	})
	ok, err := Authenticate(context.Background(), cfg(f.addr()), "anna", "123456")
	if ok || !errors.Is(err, ErrChallenge) || !strings.Contains(err.Error(), "not support") {
		t.Fatalf("challenge: %v %v", ok, err)
	}
}

// A forged or mis-keyed accept must never count: signed with another secret it is discarded,
// and the error names the shared secret.
func TestAnswerWithAnotherSecretIsNeverAnAccept(t *testing.T) {
	f := newFake(t, func(req *request, _, _ string) [][]byte {
		return [][]byte{encodeAnswer(CodeAccessAccept, req, []byte("other-secret"), true)}
	})
	ok, err := Authenticate(context.Background(), cfg(f.addr()), "anna", "123456")
	if ok || !errors.Is(err, ErrSecretMismatch) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("mis-keyed accept: %v %v", ok, err)
	}
	if !strings.Contains(err.Error(), "shared secret") {
		t.Errorf("error does not name the shared secret: %v", err)
	}
}

// The Response Authenticator alone is not enough: an accept whose Message-Authenticator is
// wrong or missing is discarded too.
func TestMessageAuthenticatorRequiredAndVerified(t *testing.T) {
	bad := newFake(t, func(req *request, _, _ string) [][]byte {
		a := encodeAnswer(CodeAccessAccept, req, secret, true)
		a[headerLen+2] ^= 1 // spoil the Message-Authenticator, then sign the packet again
		h := md5.New()
		h.Write(a[:4])
		h.Write(req.auth[:])
		h.Write(a[headerLen:])
		h.Write(secret)
		copy(a[4:headerLen], h.Sum(nil))
		return [][]byte{a}
	})
	ok, err := Authenticate(context.Background(), cfg(bad.addr()), "anna", "123456")
	if ok || !errors.Is(err, ErrSecretMismatch) {
		t.Fatalf("bad Message-Authenticator: %v %v", ok, err)
	}
	none := newFake(t, func(req *request, _, _ string) [][]byte {
		return [][]byte{encodeAnswer(CodeAccessAccept, req, secret, false)}
	})
	ok, err = Authenticate(context.Background(), cfg(none.addr()), "anna", "123456")
	if ok || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no Message-Authenticator") {
		t.Fatalf("missing Message-Authenticator: %v %v", ok, err)
	}
}

// Datagrams that are not the answer (another identifier, cut short, attributes that run past
// the end) are discarded, and the client keeps listening for the real answer.
func TestInvalidDatagramsAreDiscarded(t *testing.T) {
	for name, spoil := range map[string]func(req *request) []byte{
		"wrong identifier": func(req *request) []byte {
			r := *req
			r.id++
			return encodeAnswer(CodeAccessAccept, &r, secret, true)
		},
		"truncated": func(req *request) []byte {
			return encodeAnswer(CodeAccessAccept, req, secret, true)[:30]
		},
		"attribute too long": func(req *request) []byte {
			return encodeAnswer(CodeAccessAccept, req, secret, true, []byte{attrReplyMessage, 200, 'x'})
		},
		"header only": func(req *request) []byte { return []byte{CodeAccessAccept, req.id, 0, 4} },
	} {
		t.Run(name, func(t *testing.T) {
			// The invalid accept first, then the real reject: the result must be the reject.
			f := newFake(t, func(req *request, _, _ string) [][]byte {
				return [][]byte{spoil(req), encodeAnswer(CodeAccessReject, req, secret, true)}
			})
			ok, err := Authenticate(context.Background(), cfg(f.addr()), "anna", "123456")
			if ok || err != nil {
				t.Fatalf("got %v %v, want the real reject", ok, err)
			}
			// Alone, it is no answer at all.
			g := newFake(t, func(req *request, _, _ string) [][]byte { return [][]byte{spoil(req)} })
			ok, err = Authenticate(context.Background(), cfg(g.addr()), "anna", "123456")
			if ok || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "discarded") {
				t.Fatalf("got %v %v, want unavailable naming the discarded answer", ok, err)
			}
		})
	}
}

func TestInputOverRADIUSLimitsIsRefused(t *testing.T) {
	f := newFake(t, otp("123456"))
	for name, c := range map[string]struct {
		user, pw, nas string
	}{
		"user name":      {strings.Repeat("a", 254), "123456", "n"},
		"password":       {"anna", strings.Repeat("1", 129), "n"},
		"NAS-Identifier": {"anna", "123456", strings.Repeat("n", 254)},
		"empty user":     {"", "123456", "n"},
	} {
		conf := cfg(f.addr())
		conf.NASIdentifier = c.nas
		ok, err := Authenticate(context.Background(), conf, c.user, c.pw)
		if ok || err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v %v, want an input error", name, ok, err)
		}
	}
	if n := f.got.Load(); n != 0 {
		t.Errorf("the server received %d requests for input over the limits", n)
	}
	// At the limits it goes out (and the long password round-trips through the hiding).
	g := newFake(t, func(req *request, user, pw string) [][]byte {
		if len(user) == 253 && pw == strings.Repeat("7", 128) {
			return [][]byte{encodeAnswer(CodeAccessAccept, req, secret, true)}
		}
		return [][]byte{encodeAnswer(CodeAccessReject, req, secret, true)}
	})
	if ok, err := Authenticate(context.Background(), cfg(g.addr()), strings.Repeat("u", 253), strings.Repeat("7", 128)); !ok || err != nil {
		t.Fatalf("at the limits: %v %v", ok, err)
	}
}

func TestRetriesThenFailOver(t *testing.T) {
	silent := newFake(t, func(*request, string, string) [][]byte { return nil })
	good := newFake(t, otp("123456"))
	c := cfg(silent.addr(), good.addr())
	c.Retries = 2
	ok, err := Authenticate(context.Background(), c, "anna", "123456")
	if !ok || err != nil {
		t.Fatalf("fail-over: %v %v", ok, err)
	}
	if n := silent.got.Load(); n != 3 {
		t.Errorf("the silent server got %d tries, want 1 + 2 retries", n)
	}
}

func TestRefusedServerFailsOverAtOnce(t *testing.T) {
	down := closedPort(t)
	good := newFake(t, otp("123456"))
	c := cfg(down, good.addr())
	c.Timeout = time.Hour // a refused port must not wait for the time-out
	ok, err := Authenticate(context.Background(), c, "anna", "123456")
	if !ok || err != nil {
		t.Fatalf("fail-over from a closed port: %v %v", ok, err)
	}
}

func TestAllServersDown(t *testing.T) {
	silent := newFake(t, func(*request, string, string) [][]byte { return nil })
	down := closedPort(t)
	ok, err := Authenticate(context.Background(), cfg(down, silent.addr()), "anna", "123456")
	if ok || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrSecretMismatch) {
		t.Fatalf("all down: %v %v", ok, err)
	}
	for _, want := range []string{down + ": not listening", silent.addr() + ": no answer after 2 tries"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestNoServersOrTimeout(t *testing.T) {
	if _, err := Authenticate(context.Background(), Config{Secret: secret, Timeout: time.Second}, "a", "1"); err == nil {
		t.Error("no servers: no error")
	}
	if _, err := Authenticate(context.Background(), Config{Servers: []string{"127.0.0.1:1"}, Secret: secret}, "a", "1"); err == nil {
		t.Error("no time-out: no error")
	}
	if _, err := Authenticate(context.Background(), Config{Servers: []string{"127.0.0.1:1"}, Timeout: time.Second}, "a", "1"); err == nil {
		t.Error("no secret: no error")
	}
}

// Each request draws a fresh identifier and authenticator.
func TestRequestsAreFresh(t *testing.T) {
	var mu sync.Mutex
	var auths [][16]byte
	f := newFake(t, func(req *request, _, _ string) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		auths = append(auths, req.auth)
		return [][]byte{encodeAnswer(CodeAccessReject, req, secret, true)}
	})
	for i := 0; i < 2; i++ {
		if _, err := Authenticate(context.Background(), cfg(f.addr()), "anna", "1"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auths) != 2 || auths[0] == auths[1] || auths[0] == ([16]byte{}) {
		t.Fatalf("authenticators not fresh: %x", auths)
	}
}

// closedPort returns a loopback UDP address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	_ = c.Close()
	return addr
}
