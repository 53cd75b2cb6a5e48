package bridge

import (
	"crypto/subtle"
	"strings"
)

const (
	chromeScheme = "chrome-extension://"
	mozScheme    = "moz-extension://"
)

// IsChromeID reports whether id has the form of a Chrome/Edge extension ID: 32 letters a-p.
func IsChromeID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 'a' || id[i] > 'p' {
			return false
		}
	}
	return true
}

// isChromeOrigin reports whether origin is exactly chrome-extension://ID, as a browser sends it
// in the Origin header (no trailing slash, no path).
func isChromeOrigin(origin string) bool {
	id, ok := strings.CutPrefix(origin, chromeScheme)
	return ok && IsChromeID(id)
}

// isMozOrigin reports whether origin is exactly moz-extension://UUID with a lower-case UUID, the
// form Firefox uses for an extension's per-profile origin.
func isMozOrigin(origin string) bool {
	u, ok := strings.CutPrefix(origin, mozScheme)
	return ok && isUUID(u)
}

// IsExtensionOrigin reports whether origin is a well-formed chrome-extension:// or
// moz-extension:// origin. It says nothing about whether that extension is allowed.
func IsExtensionOrigin(origin string) bool {
	return isChromeOrigin(origin) || isMozOrigin(origin)
}

// IsMozOrigin reports whether origin is a well-formed moz-extension://UUID origin.
func IsMozOrigin(origin string) bool { return isMozOrigin(origin) }

// isUUID reports whether s is a lower-case 8-4-4-4-12 hex UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
