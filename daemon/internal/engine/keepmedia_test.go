package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/manifest"
	"foureyes/daemon/internal/mediastore"
)

// poster is an attached file's bytes, as the browser read them.
var poster = bytes.Repeat([]byte("\x89PNG poster of the open day "), 4000)

func shaOf(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func postWithFile(b []byte) api.NewRequest {
	return api.NewRequest{Account: "x:@ministry", Action: api.ActionPost, Text: "Our poster for the open day",
		Media: []manifest.Media{{SHA256: shaOf(b), Size: int64(len(b)), Type: "image/png", Name: "poster.png"}}}
}

// keepingFixture is a laptop whose policy keeps copies of attached files.
func keepingFixture(t *testing.T, maxBytes int) *fixture {
	f := newFixture(t)
	f.pol.KeepMedia = true
	f.pol.KeepMediaMaxBytes = maxBytes
	f.start()
	f.enrol("anna", "")
	f.ensureAccount("x:@ministry")
	return f
}

// send hands b over as the extension does: chunks of 32 KiB in order.
func send(f *fixture, requestID, sha string, b []byte) (bool, error) {
	mk := f.staff().(api.MediaKeeper)
	var done bool
	for off := 0; off < len(b); off += 32 << 10 {
		end := min(off+32<<10, len(b))
		var err error
		if done, err = mk.KeepMedia(context.Background(), api.MediaChunk{RequestID: requestID, SHA256: sha, Offset: int64(off), Data: b[off:end]}); err != nil {
			return false, err
		}
	}
	return done, nil
}

// TestKeepMediaBeforeApproval: under keep_media an approval issues no session until the store
// holds every attached file, checked against the manifest; then the approval's audit lines say
// which copies were kept, and the copy has exactly the bytes the browser had.
func TestKeepMediaBeforeApproval(t *testing.T) {
	f := keepingFixture(t, 1<<20)
	ctx := context.Background()
	sha := shaOf(poster)
	r, err := f.staff().CreateRequest(ctx, postWithFile(poster))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.MediaToKeep) != 1 || r.MediaToKeep[0] != sha {
		t.Fatalf("media_to_keep = %v, want [%s]", r.MediaToKeep, sha)
	}
	code := f.codeFor("anna", f.clk.Now())
	_, err = f.staff().Approve(ctx, r.ID, "anna", code)
	wantCode(t, err, api.CodeMediaNotKept)
	if !strings.Contains(err.Error(), sha) {
		t.Errorf("the refusal does not name the missing file: %v", err)
	}

	// Other bytes of the same length: refused, nothing stored.
	forged := bytes.Clone(poster)
	forged[100] ^= 0xff
	_, err = send(f, r.ID, sha, forged)
	wantCode(t, err, api.CodeMediaNotKept)
	if !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("the refusal does not say the hash differs: %v", err)
	}
	store := filepath.Join(f.home, mediastore.Dir)
	if _, err := os.Stat(filepath.Join(store, sha)); !os.IsNotExist(err) {
		t.Fatalf("a copy with the wrong bytes is in the store: %v", err)
	}

	if done, err := send(f, r.ID, sha, poster); err != nil || !done {
		t.Fatalf("handing over the file: %v, %v", done, err)
	}
	got, err := os.ReadFile(filepath.Join(store, sha))
	if err != nil || !bytes.Equal(got, poster) {
		t.Fatalf("the stored copy differs from the file (%v)", err)
	}
	if fi, err := os.Stat(filepath.Join(store, sha)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("copy mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	// The refusal above spent nothing: the same code approves now.
	ap, err := f.staff().Approve(ctx, r.ID, "anna", code)
	if err != nil || ap.Session == nil {
		t.Fatalf("approval after the copy was kept: %+v, %v", ap, err)
	}
	for _, ev := range []string{"approval", "session_issued"} {
		lines := f.auditLines(ev)
		if len(lines) != 1 {
			t.Fatalf("%d %s lines", len(lines), ev)
		}
		if got := lines[0]["fields"].(map[string]any)["media_kept"]; got != sha {
			t.Errorf("%s line: media_kept = %v, want %s", ev, got, sha)
		}
	}

	// The request is decided: its files are no longer received.
	_, err = send(f, r.ID, sha, poster)
	wantCode(t, err, api.CodeAlreadyUsed)
}

func TestKeepMediaRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("file over keep_media_max_bytes is refused at request", func(t *testing.T) {
		f := keepingFixture(t, 4096)
		_, err := f.staff().CreateRequest(ctx, postWithFile(poster))
		wantCode(t, err, api.CodeMediaNotKept)
		if !strings.Contains(err.Error(), "keep_media_max_bytes") || !strings.Contains(err.Error(), "poster.png") {
			t.Errorf("the refusal does not name the file and the key: %v", err)
		}
	})
	t.Run("store not writable: nothing approved", func(t *testing.T) {
		f := keepingFixture(t, 1<<20)
		// The store's place is taken by a file, so no copy can be written, whoever runs the test.
		if err := os.WriteFile(filepath.Join(f.home, mediastore.Dir), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := f.staff().CreateRequest(ctx, postWithFile(poster))
		if err != nil {
			t.Fatal(err)
		}
		_, err = send(f, r.ID, shaOf(poster), poster)
		wantCode(t, err, api.CodeMediaNotKept)
		if !strings.Contains(err.Error(), filepath.Join(f.home, mediastore.Dir)) {
			t.Errorf("the refusal does not name the store: %v", err)
		}
		_, err = f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
		wantCode(t, err, api.CodeMediaNotKept)
		if n := len(f.auditLines("session_issued")); n != 0 {
			t.Errorf("%d sessions issued without a copy", n)
		}
	})
	t.Run("a file not in the request", func(t *testing.T) {
		f := keepingFixture(t, 1<<20)
		r, err := f.staff().CreateRequest(ctx, postWithFile(poster))
		if err != nil {
			t.Fatal(err)
		}
		other := []byte("another image")
		_, err = send(f, r.ID, shaOf(other), other)
		wantCode(t, err, api.CodeBadRequest)
	})
	t.Run("another user's request", func(t *testing.T) {
		f := keepingFixture(t, 1<<20)
		r, err := f.staff().CreateRequest(ctx, postWithFile(poster))
		if err != nil {
			t.Fatal(err)
		}
		mk := f.eng.Staff(api.Caller{OSUser: "ben", Via: "bridge"}).(api.MediaKeeper)
		_, err = mk.KeepMedia(ctx, api.MediaChunk{RequestID: r.ID, SHA256: shaOf(poster), Data: poster[:10]})
		wantCode(t, err, api.CodeNotPermitted)
	})
	t.Run("keep_media off: nothing is received, nothing needed", func(t *testing.T) {
		f := newFixture(t)
		f.enrol("anna", "")
		f.ensureAccount("x:@ministry")
		r, err := f.staff().CreateRequest(ctx, postWithFile(poster))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.MediaToKeep) != 0 {
			t.Errorf("media_to_keep = %v without keep_media", r.MediaToKeep)
		}
		_, err = send(f, r.ID, shaOf(poster), poster)
		wantCode(t, err, api.CodeBadRequest)
		ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
		if err != nil || ap.Session == nil {
			t.Fatalf("approval without keep_media: %v", err)
		}
		if _, ok := f.auditLines("approval")[0]["fields"].(map[string]any)["media_kept"]; ok {
			t.Error("media_kept recorded without keep_media")
		}
		if _, err := os.Stat(filepath.Join(f.home, mediastore.Dir)); !os.IsNotExist(err) {
			t.Errorf("a media store was created without keep_media: %v", err)
		}
	})
}
