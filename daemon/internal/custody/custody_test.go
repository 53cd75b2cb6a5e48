package custody

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"foureyes/daemon/internal/api"
)

func TestKeys(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{ApproverKey("anna"), "approver/anna/totp"},
		{AccountPasswordKey("x:@ministry"), "account/x:@ministry/password"},
		{AccountTOTPKey("mastodon:@press@social.example"), "account/mastodon:@press@social.example/totp"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if ApproverKey("x") == AccountTOTPKey("x") || AccountPasswordKey("x") == AccountTOTPKey("x") {
		t.Error("key kinds collide")
	}
}

func TestSentinelCodes(t *testing.T) {
	for err, code := range map[error]api.Code{
		ErrNotFound:  api.CodeNotFound,
		ErrNoKeyring: api.CodeNoKeyring,
		ErrLocked:    api.CodeKeyringLocked,
		ErrTooLarge:  api.CodeTooLarge,
	} {
		wrapped := fmt.Errorf("engine: %w", fmt.Errorf("keyring get %q: %w", "k", err))
		if got := api.CodeOf(wrapped); got != code {
			t.Errorf("CodeOf(%v) = %q, want %q", err, got, code)
		}
		if !errors.Is(wrapped, err) || !errors.Is(wrapped, api.E(code)) {
			t.Errorf("%v: errors.Is fails through wrapping", err)
		}
	}
	if errors.Is(ErrLocked, ErrNoKeyring) || errors.Is(ErrNoKeyring, ErrLocked) {
		t.Error("sentinels must be distinct")
	}
}

// testStore runs the contract every Store must keep.
func testStore(t *testing.T, s Store, key func(string) string) {
	t.Helper()
	k := key("contract")
	if _, err := s.Get(k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: want ErrNotFound, got %v", err)
	}
	if err := s.Delete(k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete before Set: want ErrNotFound, got %v", err)
	}
	if err := s.Set(k, "first"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := s.Get(k); err != nil || got != "first" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := s.Set(k, "second"); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if got, err := s.Get(k); err != nil || got != "second" {
		t.Fatalf("Get after overwrite = %q, %v", got, err)
	}
	for name, secret := range map[string]string{
		"unicode": "pässwörd ✓ 秘密 🔑 \u00a0tab\tand\nnewline",
		"long":    strings.Repeat("0123456789abcdef", 128), // 2 KiB
		"spaces":  "  leading and trailing  ",
	} {
		kk := key(name)
		if err := s.Set(kk, secret); err != nil {
			t.Fatalf("Set %s secret: %v", name, err)
		}
		got, err := s.Get(kk)
		if err != nil || got != secret {
			t.Fatalf("%s secret did not survive: %q, %v", name, got, err)
		}
		if err := s.Delete(kk); err != nil {
			t.Fatalf("Delete %s: %v", name, err)
		}
	}
	if err := s.Delete(k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: want ErrNotFound, got %v", err)
	}
	for _, op := range []func() error{
		func() error { return s.Set("", "x") },
		func() error { _, err := s.Get(""); return err },
		func() error { return s.Delete("") },
	} {
		if err := op(); err == nil {
			t.Error("empty key accepted")
		}
	}
	if err := Probe(s); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if _, err := s.Get(probeKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("Probe left its canary behind: %v", err)
	}
	if err := Check(s); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestMemoryStore(t *testing.T) {
	testStore(t, NewMemory(), func(s string) string { return "test/" + s })
	var zero Memory
	if err := zero.Set("k", "v"); err != nil {
		t.Errorf("zero Memory: %v", err)
	}
}

func TestMemoryFail(t *testing.T) {
	m := NewMemory()
	if err := m.Set(ApproverKey("anna"), "SEED"); err != nil {
		t.Fatal(err)
	}
	m.Fail(ErrLocked)
	if _, err := m.Get(ApproverKey("anna")); !errors.Is(err, ErrLocked) {
		t.Errorf("Get while failing: %v", err)
	}
	if err := m.Set("k", "v"); !errors.Is(err, ErrLocked) {
		t.Errorf("Set while failing: %v", err)
	}
	if err := Probe(m); !errors.Is(err, ErrLocked) || api.CodeOf(err) != api.CodeKeyringLocked {
		t.Errorf("Probe while failing: %v", err)
	}
	if err := Check(m); !errors.Is(err, ErrLocked) || api.CodeOf(err) != api.CodeKeyringLocked {
		t.Errorf("Check while failing: %v", err)
	}
	m.Fail(nil)
	if got, err := m.Get(ApproverKey("anna")); err != nil || got != "SEED" {
		t.Errorf("after heal: %q, %v", got, err)
	}
	if keys := m.Keys(); len(keys) != 1 || keys[0] != "approver/anna/totp" {
		t.Errorf("Keys = %v", keys)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := NewMemory()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprintf("k%d", i%5)
			_ = m.Set(k, "v")
			_, _ = m.Get(k)
			_ = m.Delete(k)
			_ = m.Keys()
		}()
	}
	wg.Wait()
}

// lyingStore returns something other than what was stored.
type lyingStore struct{ Memory }

func (l *lyingStore) Get(key string) (string, error) { return "not what you stored", nil }

func TestProbeDetectsWrongValue(t *testing.T) {
	l := &lyingStore{}
	err := Probe(l)
	if err == nil || !strings.Contains(err.Error(), "different value") {
		t.Fatalf("Probe = %v", err)
	}
	if len(l.Keys()) != 0 {
		t.Error("Probe left its canary behind after a failure")
	}
}
