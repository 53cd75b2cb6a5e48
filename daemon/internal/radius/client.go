package radius

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// Config says where and how to ask.
type Config struct {
	// Servers are tried in order, host:port each; the next one only when one gives no verified
	// answer.
	Servers []string
	Secret  []byte
	// NASIdentifier names this client to the server (left out when empty).
	NASIdentifier string
	// Timeout is how long one try waits for an answer.
	Timeout time.Duration
	// Retries is how many times a request is sent again to the same server after a try
	// without answer, before the next server.
	Retries int
}

var (
	// ErrUnavailable: no server gave an answer that verifies.
	ErrUnavailable = errors.New("no RADIUS server answered")
	// ErrSecretMismatch: a server answered, but its answer did not verify with the shared
	// secret: the secrets differ (or the answer was forged).
	ErrSecretMismatch = errors.New("the RADIUS server's answer does not verify with the shared secret")
	// ErrChallenge: the server wants a second round (Access-Challenge), which this client does
	// not take part in.
	ErrChallenge = errors.New("the RADIUS server answered with Access-Challenge (challenge-response), which foureyes does not support")
)

// UnavailableError says, server by server, why no answer counted. It wraps ErrUnavailable, and
// ErrSecretMismatch as well when some server's answer failed to verify.
type UnavailableError struct {
	Servers  []string // what happened at each server, in order
	Mismatch bool     // some answer did not verify with the secret
}

func (e *UnavailableError) Error() string {
	head := ErrUnavailable.Error()
	if e.Mismatch {
		head = ErrSecretMismatch.Error() + " (check the shared secret, foureyes radius secret)"
	}
	return head + ": " + strings.Join(e.Servers, "; ")
}

// Is matches ErrUnavailable always and ErrSecretMismatch when an answer failed to verify.
func (e *UnavailableError) Is(target error) bool {
	return target == ErrUnavailable || (e.Mismatch && target == ErrSecretMismatch)
}

// Authenticate asks the servers whether password is right for user. It returns true for an
// Access-Accept and false for an Access-Reject, both verified; an error otherwise (no verified
// answer from any server, a challenge, bad input): never an accept.
func Authenticate(ctx context.Context, c Config, user, password string) (bool, error) {
	if len(c.Servers) == 0 {
		return false, errors.New("no RADIUS servers are configured")
	}
	if c.Timeout <= 0 {
		return false, errors.New("the RADIUS time-out must be positive")
	}
	var auth [16]byte
	var idb [1]byte
	if _, err := rand.Read(auth[:]); err != nil {
		return false, fmt.Errorf("drawing the Request Authenticator: %w", err)
	}
	if _, err := rand.Read(idb[:]); err != nil {
		return false, fmt.Errorf("drawing the request identifier: %w", err)
	}
	// One request for every try and every server: a retransmission carries the same identifier
	// and authenticator (RFC 2865 §2.5), so a server that already answered answers alike.
	req, err := encodeRequest(idb[0], auth, c.Secret, user, password, c.NASIdentifier)
	if err != nil {
		return false, err
	}
	ue := &UnavailableError{}
	for _, addr := range c.Servers {
		a, why, mismatch, err := ask(ctx, c, addr, req)
		if err != nil {
			return false, err
		}
		if why != "" {
			ue.Servers = append(ue.Servers, addr+": "+why)
			ue.Mismatch = ue.Mismatch || mismatch
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch a.Code {
		case CodeAccessAccept:
			return true, nil
		case CodeAccessReject:
			return false, nil
		default:
			return false, fmt.Errorf("%s: %w", addr, ErrChallenge)
		}
	}
	return false, ue
}

// ask sends req to one server, 1+Retries times, and returns the first verified answer, or why
// there was none (mismatch: an answer came that did not verify with the secret). err is set
// only for a failure that no other server would change.
func ask(ctx context.Context, c Config, addr string, req *request) (a Answer, why string, mismatch bool, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return Answer{}, "cannot reach it: " + err.Error(), false, nil
	}
	defer func() { _ = conn.Close() }()
	buf := make([]byte, MaxPacket+1)
	var bad error
	for try := 0; try <= c.Retries; try++ {
		if _, err := conn.Write(req.raw); err != nil {
			return Answer{}, "sending failed: " + err.Error(), false, nil
		}
		deadline := time.Now().Add(c.Timeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return Answer{}, "", false, fmt.Errorf("setting the read deadline: %w", err)
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					// The host said nothing listens on that port (ICMP): no point in retrying.
					return Answer{}, "not listening (connection refused)", false, nil
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return Answer{}, "receiving failed: " + err.Error(), false, nil
			}
			ans, perr := parseAnswer(buf[:n], req, c.Secret, true)
			if perr != nil {
				// Anyone can send a datagram to our port: discard it and keep listening for
				// the real answer (RFC 2865 §3 says to discard invalid answers silently).
				bad = perr
				if errors.Is(perr, ErrAuthenticator) || errors.Is(perr, ErrMessageAuth) {
					mismatch = true
				}
				continue
			}
			return ans, "", false, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	why = fmt.Sprintf("no answer after %d tries of %s", c.Retries+1, c.Timeout)
	switch {
	case bad != nil:
		why += "; discarded an answer: " + bad.Error()
	default:
		// FreeRADIUS drops, without answering, a request whose Message-Authenticator does not
		// verify: silence can also mean a wrong shared secret.
		why += " (server down, unreachable, or it drops our requests because the shared secret differs)"
	}
	if ctx.Err() != nil {
		why += ": " + ctx.Err().Error()
	}
	return Answer{}, why, mismatch, nil
}
