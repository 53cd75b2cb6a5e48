// Package manifest defines the post manifest: what an approval covers (account, action, text,
// every attached file and the post it answers) and the digest a posting session binds.
//
// The extension computes the same digest (extension/unpacked/lib/manifest.js); both sides are
// pinned by shared/vectors/manifest.json. The digest is the lowercase hex SHA-256 of the UTF-8
// bytes of these lines joined with LF (no trailing LF):
//
//	foureyes-post/1
//	account <account>
//	action <action>
//	text <content digest of the text>
//	target <target url, or - when there is none>
//	media <number of attachments>
//	<sha256 of the file> <content digest of the alt text>   (one line per attachment, in order)
//
// A file's name, size and type and the target's author and excerpt describe the post to the
// approver and in the audit trail; they are not in the digest, because the bytes and the alt text
// are what is published. Invalid input is refused with an error naming the field, never hashed.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"foureyes/daemon/internal/digest"
)

// Version is the first line of the canonical lines; a change to the rules gets a new one.
const Version = "foureyes-post/1"

// Limits of the manifest's fields, in characters (Unicode code points) unless said otherwise.
const (
	MaxMedia   = 10
	MaxName    = 255
	MaxAlt     = 2000
	MaxURL     = 512
	MaxAuthor  = 100
	MaxExcerpt = 500
)

// NoTarget stands for the target url in the canonical lines when a post answers none.
const NoTarget = "-"

// Media is one attached file, in attachment order.
type Media struct {
	// SHA256 is the lowercase hex SHA-256 of the exact bytes the user attached.
	SHA256 string `json:"sha256"`
	// Size is the file's length in bytes.
	Size int64 `json:"size"`
	// Type is the MIME type, lowercase; application/octet-stream when the browser gave none.
	Type string `json:"type"`
	// Name is the file name as the browser gave it (display and audit only).
	Name string `json:"name"`
	// Alt is the alt text; missing and empty are the same.
	Alt string `json:"alt,omitempty"`
}

// Target is the post a reply or quote answers, or the post a repost reposts.
type Target struct {
	// URL is the post's canonical address as the platform table defines it.
	URL string `json:"url"`
	// Author and Excerpt are what the page showed (display only).
	Author  string `json:"author,omitempty"`
	Excerpt string `json:"excerpt,omitempty"`
}

// Manifest is the whole post an approver approves.
type Manifest struct {
	Account string  `json:"account"`
	Action  string  `json:"action"`
	Text    string  `json:"text"`
	Media   []Media `json:"media,omitempty"`
	Target  *Target `json:"target,omitempty"`
}

// FieldError is a refusal that names the field at fault, e.g. "media[1].sha256".
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "manifest " + e.Field + ": " + e.Reason }

// ErrInvalid is matched by every [FieldError] with errors.Is.
var ErrInvalid = errors.New("invalid manifest")

// Is makes errors.Is(err, ErrInvalid) hold for every field error.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func bad(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// mimeType is the form of a type: lowercase, as the browser reports it after lowercasing.
var mimeType = regexp.MustCompile(`^[a-z]+/[a-z0-9.+-]+$`)

// Validate checks every field against the rules; the first fault is returned as a [*FieldError].
func (m Manifest) Validate() error {
	if err := word("account", m.Account); err != nil {
		return err
	}
	if err := word("action", m.Action); err != nil {
		return err
	}
	if len(m.Media) > MaxMedia {
		return bad("media", "%d attachments, at most %d", len(m.Media), MaxMedia)
	}
	for i, f := range m.Media {
		field := "media[" + strconv.Itoa(i) + "]"
		if !digest.Valid(f.SHA256) {
			return bad(field+".sha256", "must be 64 lowercase hex characters")
		}
		if f.Size < 0 {
			return bad(field+".size", "must not be negative")
		}
		if !mimeType.MatchString(f.Type) {
			return bad(field+".type", "%q is not a lowercase MIME type", clip(f.Type))
		}
		if n := utf8.RuneCountInString(f.Name); n > MaxName {
			return bad(field+".name", "%d characters, at most %d", n, MaxName)
		}
		if strings.IndexFunc(f.Name, unicode.IsControl) >= 0 {
			return bad(field+".name", "contains a control character")
		}
		if n := utf8.RuneCountInString(f.Alt); n > MaxAlt {
			return bad(field+".alt", "%d characters, at most %d", n, MaxAlt)
		}
	}
	if t := m.Target; t != nil {
		if n := utf8.RuneCountInString(t.URL); n > MaxURL {
			return bad("target.url", "%d characters, at most %d", n, MaxURL)
		}
		if !strings.HasPrefix(t.URL, "https://") || len(t.URL) == len("https://") {
			return bad("target.url", "must be an https address")
		}
		if !utf8.ValidString(t.URL) || strings.IndexFunc(t.URL, spaceOrControl) >= 0 {
			return bad("target.url", "contains white space or a control character")
		}
		if n := utf8.RuneCountInString(t.Author); n > MaxAuthor {
			return bad("target.author", "%d characters, at most %d", n, MaxAuthor)
		}
		if n := utf8.RuneCountInString(t.Excerpt); n > MaxExcerpt {
			return bad("target.excerpt", "%d characters, at most %d", n, MaxExcerpt)
		}
	}
	return nil
}

// word checks a field that becomes the rest of a canonical line: present, one word, printable.
func word(field, s string) error {
	if s == "" {
		return bad(field, "missing")
	}
	if !utf8.ValidString(s) {
		return bad(field, "is not UTF-8")
	}
	if strings.IndexFunc(s, spaceOrControl) >= 0 {
		return bad(field, "contains white space or a control character")
	}
	return nil
}

func spaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// clip keeps an error message short when a field is long.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Lines returns the canonical lines joined with LF, the bytes the digest is taken over.
func (m Manifest) Lines() (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	target := NoTarget
	if m.Target != nil {
		target = m.Target.URL
	}
	var b strings.Builder
	b.WriteString(Version)
	b.WriteString("\naccount " + m.Account)
	b.WriteString("\naction " + m.Action)
	b.WriteString("\ntext " + digest.Sum(m.Text))
	b.WriteString("\ntarget " + target)
	b.WriteString("\nmedia " + strconv.Itoa(len(m.Media)))
	for _, f := range m.Media {
		b.WriteString("\n" + f.SHA256 + " " + digest.Sum(f.Alt))
	}
	return b.String(), nil
}

// Digest returns the manifest digest: lowercase hex SHA-256 of [Manifest.Lines].
func (m Manifest) Digest() (string, error) {
	lines, err := m.Lines()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(lines))
	return hex.EncodeToString(h[:]), nil
}
