package engine

import (
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/manifest"
)

// addManifest puts what an approval covers besides the text into an audit line's fields: the
// manifest digest, each attachment's name, size, type, sha256 and the digest of its alt text,
// and the answered post's address and author. Never file bytes (the daemon never has them) and
// not the alt text itself (its digest is what the approval binds).
func addManifest(f map[string]any, md string, media []manifest.Media, target *manifest.Target) {
	f[audit.FieldManifestDigest] = md
	if len(media) > 0 {
		list := make([]any, 0, len(media))
		for _, m := range media {
			list = append(list, map[string]any{
				"name": m.Name, "size": m.Size, "type": m.Type, "sha256": m.SHA256,
				"alt_sha256": digest.Sum(m.Alt),
			})
		}
		f[audit.FieldMedia] = list
	}
	if target != nil {
		f[audit.FieldTargetURL] = target.URL
		if target.Author != "" {
			f[audit.FieldTargetAuthor] = target.Author
		}
	}
}

// cloneTarget copies t for a view the caller may keep.
func cloneTarget(t *manifest.Target) *manifest.Target {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}
