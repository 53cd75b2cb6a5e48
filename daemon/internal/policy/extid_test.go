package policy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The default policy must allow the extension this repository ships, under the IDs the browsers
// will give it: Chromium's from the manifest's key, Firefox's from its gecko id.
func TestDefaultExtensionIDsMatchManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "extension", "unpacked", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Key      string `json:"key"`
		Settings struct {
			Gecko struct {
				ID string `json:"id"`
			} `json:"gecko"`
		} `json:"browser_specific_settings"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(m.Key)
	if err != nil {
		t.Fatalf("manifest key: %v", err)
	}
	sum := sha256.Sum256(der)
	id := []byte(hex.EncodeToString(sum[:16]))
	for i, c := range id { // Chromium writes the hex digits 0-f as the letters a-p
		if c <= '9' {
			id[i] = 'a' + c - '0'
		} else {
			id[i] = 'a' + 10 + c - 'a'
		}
	}
	if string(id) != DefaultExtensionID {
		t.Errorf("manifest key gives extension ID %s, DefaultExtensionID is %s", id, DefaultExtensionID)
	}
	if m.Settings.Gecko.ID != DefaultFirefoxExtensionID {
		t.Errorf("manifest gecko id %q, DefaultFirefoxExtensionID is %q", m.Settings.Gecko.ID, DefaultFirefoxExtensionID)
	}
}
