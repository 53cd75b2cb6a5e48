package custody

import (
	"fmt"
	"sort"
	"sync"
)

// Memory is a Store in memory, for tests of the packages that use custody. The zero value is
// ready to use.
type Memory struct {
	mu      sync.Mutex
	secrets map[string]string
	fail    error
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{} }

// Set stores secret under key.
func (m *Memory) Set(key, secret string) error {
	if err := checkKey("set", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return fmt.Errorf("keyring set %q: %w", key, m.fail)
	}
	if m.secrets == nil {
		m.secrets = map[string]string{}
	}
	m.secrets[key] = secret
	return nil
}

// Get returns the secret under key.
func (m *Memory) Get(key string) (string, error) {
	if err := checkKey("get", key); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return "", fmt.Errorf("keyring get %q: %w", key, m.fail)
	}
	s, ok := m.secrets[key]
	if !ok {
		return "", fmt.Errorf("keyring get %q: %w", key, ErrNotFound)
	}
	return s, nil
}

// Delete removes the secret under key.
func (m *Memory) Delete(key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return fmt.Errorf("keyring delete %q: %w", key, m.fail)
	}
	if _, ok := m.secrets[key]; !ok {
		return fmt.Errorf("keyring delete %q: %w", key, ErrNotFound)
	}
	delete(m.secrets, key)
	return nil
}

// Fail makes every later call return err (such as ErrLocked or ErrNoKeyring), so tests can
// check that callers fail closed. Fail(nil) heals the store; the secrets are kept.
func (m *Memory) Fail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// Keys returns the stored keys, sorted.
func (m *Memory) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.secrets))
	for k := range m.secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
