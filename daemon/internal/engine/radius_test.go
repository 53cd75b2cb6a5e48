package engine

import (
	"context"
	"errors"
	"net"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/clock"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/policy"
)

// silentServer is a RADIUS server that receives and never answers; got says when a request came.
func silentServer(t *testing.T) (addr string, got chan struct{}) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	got = make(chan struct{}, 8)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := c.ReadFromUDP(buf); err != nil {
				return
			}
			got <- struct{}{}
		}
	}()
	return c.LocalAddr().String(), got
}

func radiusFixture(t *testing.T, servers ...string) *fixture {
	t.Helper()
	pol := policy.Default()
	pol.ApproverCodes = policy.ApproverCodesRadius
	pol.Radius = &policy.Radius{Servers: servers, TimeoutSeconds: 1, Retries: 0, NASIdentifier: "foureyes-test", ReplayWindowSeconds: 300}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, home: t.TempDir(), clk: clock.NewFake(t0), store: &memStore{m: map[string]string{}}, pol: pol}
	f.start()
	if err := f.admin().SetRadiusSecret(context.Background(), "s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin().EnrollApprover(context.Background(), api.NewApprover{ID: "anna", Name: "Anna", RadiusUser: "anna"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// While the OTP server is being asked, the engine's lock is free: the tray, the bridge and every
// other caller go on.
func TestOTPServerIsAskedOutsideTheLock(t *testing.T) {
	addr, got := silentServer(t)
	f := radiusFixture(t, addr)
	done := make(chan error, 1)
	go func() {
		_, err := f.admin().ConfirmApprover(context.Background(), "anna", "123456")
		done <- err
	}()
	<-got // the request is on the wire, and nobody answers
	if _, err := f.admin().ListApprovers(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("the check ended before the server could answer: %v", err)
	default:
	}
	if err := <-done; api.CodeOf(err) != api.CodeCodeCheckUnavailable {
		t.Fatalf("no answer: %v, want code_check_unavailable", err)
	}
	if as, _ := f.admin().ListApprovers(context.Background()); as[0].Confirmed || as[0].Failures != 0 {
		t.Fatalf("after no answer: %+v", as[0])
	}
}

// Without their audit lines, neither the shared secret nor a failed check leaves a trace.
func TestRadiusAuditFailureChangesNothing(t *testing.T) {
	addr, _ := silentServer(t)
	f := radiusFixture(t, addr)
	f.audit.fail.Store(true)
	if err := f.admin().SetRadiusSecret(context.Background(), "other"); api.CodeOf(err) != api.CodeAuditUnavailable {
		t.Fatalf("secret without its line: %v", err)
	}
	if v, err := f.store.Get(custody.RadiusSecretKey); err != nil || v != "s3cret" {
		t.Fatalf("secret after the failed change: %q %v", v, err)
	}
	if _, err := f.admin().ConfirmApprover(context.Background(), "anna", "123456"); api.CodeOf(err) != api.CodeAuditUnavailable {
		t.Fatalf("unavailable without its line: %v", err)
	}
}

func TestRadiusSecretInput(t *testing.T) {
	f := radiusFixture(t, "127.0.0.1:1812")
	for _, s := range []string{"", "\n", string(make([]byte, 129))} {
		if err := f.admin().SetRadiusSecret(context.Background(), s); api.CodeOf(err) != api.CodeBadRequest {
			t.Errorf("secret of %d bytes: %v", len(s), err)
		}
	}
}

// A seed approver under a radius policy, or a RADIUS approver under a local one, cannot approve:
// the error says what to do.
func TestApproverKindMustMatchPolicy(t *testing.T) {
	f := radiusFixture(t, "127.0.0.1:1812")
	ctx := context.Background()
	if _, err := f.admin().EnrollApprover(ctx, api.NewApprover{ID: "ben", Name: "Ben", By: api.Authority{Approver: "anna", Code: "123456"}}); api.CodeOf(err) != api.CodeBadRequest {
		t.Fatalf("enrol without --radius-user under radius: %v", err)
	}
	f.eng.locked(func() { f.eng.pol.ApproverCodes = policy.ApproverCodesLocal })
	_, err := f.admin().ConfirmApprover(ctx, "anna", "123456")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeCodeCheckUnavailable {
		t.Fatalf("RADIUS approver under a local policy: %v", err)
	}
}
