package engine

import (
	"context"
	"path/filepath"
	"slices"
	"strings"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/manifest"
	"foureyes/daemon/internal/mediastore"
	"foureyes/daemon/internal/rules"
)

// KeepMedia receives part of a file attached to the caller's pending request (policy
// keep_media). The request's manifest says which files there are and how large; the store
// checks the bytes against it. Writing happens outside the engine's lock: a file may be large.
func (v *staffView) KeepMedia(ctx context.Context, c api.MediaChunk) (bool, error) {
	e := v.e
	var size int64
	var limit int
	err := e.run(v.c, func(t *tx) error {
		if err := e.policyOK(); err != nil {
			return err
		}
		if !e.pol.KeepMedia {
			return api.Errorf(api.CodeBadRequest, "the policy does not keep copies of attached files (keep_media is off): nothing to hand over")
		}
		r, err := e.request(c.RequestID)
		if err != nil {
			return err
		}
		if r.Requester != v.c.OSUser {
			return api.Errorf(api.CodeNotPermitted, "request %s is %s's: only its requester hands over its files", r.ID, r.Requester)
		}
		if r.State != rules.Pending {
			return api.Errorf(api.CodeAlreadyUsed, "request %s is %s: its files are no longer received", r.ID, r.State)
		}
		i := slices.IndexFunc(r.Media, func(m manifest.Media) bool { return m.SHA256 == c.SHA256 })
		if i < 0 {
			return api.Errorf(api.CodeBadRequest, "no file with sha256 %s is attached to request %s", c.SHA256, r.ID)
		}
		size, limit = r.Media[i].Size, e.pol.KeepMediaMaxBytes
		return nil
	})
	if err != nil {
		return false, err
	}
	done, err := e.media.Put(c.RequestID, c.SHA256, size, int64(limit), c.Offset, c.Data)
	if err != nil {
		return false, api.Errorf(api.CodeMediaNotKept, "%v: nothing was approved; send the file again, or tell IT if the store cannot be written", err)
	}
	return done, nil
}

// mediaToKeep lists the files of r the store does not hold yet, when the policy keeps copies and
// r still waits for approval. Callers hold mu.
func (e *Engine) mediaToKeep(r *rules.Request) []string {
	if e.pol == nil || !e.pol.KeepMedia || r.State != rules.Pending {
		return nil
	}
	var out []string
	for _, m := range r.Media {
		if !e.media.Has(m.SHA256) && !slices.Contains(out, m.SHA256) {
			out = append(out, m.SHA256)
		}
	}
	return out
}

// checkMediaTooLarge refuses, at request, a post with a file larger than the policy keeps a copy
// of: under keep_media no session is issued for a post whose files could not be shown
// afterwards, so it is better refused before anyone approves it. Callers hold mu.
func (e *Engine) checkMediaTooLarge(media []manifest.Media) error {
	if e.pol == nil || !e.pol.KeepMedia {
		return nil
	}
	for _, m := range media {
		if m.Size > int64(e.pol.KeepMediaMaxBytes) {
			return api.Errorf(api.CodeMediaNotKept, "%s is %d bytes; the policy keeps copies of attached files up to %d bytes (keep_media_max_bytes), so it cannot be posted: attach a smaller file, or ask IT to raise the limit",
				m.Name, m.Size, e.pol.KeepMediaMaxBytes)
		}
	}
	return nil
}

// checkMediaKept refuses an approval while a file of r is not in the store, when the policy keeps
// copies. Callers hold mu.
func (e *Engine) checkMediaKept(r *rules.Request) error {
	if missing := e.mediaToKeep(r); len(missing) > 0 {
		return api.Errorf(api.CodeMediaNotKept, "the policy keeps a copy of every attached file (keep_media), and the daemon has not received %d of them (%s): the browser hands them over with the request; make the request again",
			len(missing), strings.Join(missing, ", "))
	}
	return nil
}

// addMediaKept records in an approval's audit line that copies of the files are in the store,
// under their SHA-256 (<state dir>/media/<sha256>).
func (e *Engine) addMediaKept(f map[string]any, r *rules.Request) {
	if e.pol == nil || !e.pol.KeepMedia || len(r.Media) == 0 {
		return
	}
	list := make([]string, 0, len(r.Media))
	for _, m := range r.Media {
		list = append(list, m.SHA256)
	}
	f[audit.FieldMediaKept] = strings.Join(list, ",")
}

// openMediaStore opens the store under home; a store that cannot be read is logged by the
// caller and refuses every copy (fail closed) when the policy asks for copies.
func openMediaStore(home string) (*mediastore.Store, error) {
	return mediastore.Open(filepath.Join(home, mediastore.Dir))
}
