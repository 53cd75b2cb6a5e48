package engine

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/manifest"
)

const (
	shaChart = "e1bffab6c69f6107ab33c30cea9fd36d2f710586eb49c270ae63031a5af406bf"
	shaPhoto = "6e312f5d45f48a974de81caafb68aa33b81b0452f5be368570387828995e950c"
)

// replyWithImages is a reply with two images, as the extension asks for it.
func replyWithImages() api.NewRequest {
	return api.NewRequest{Account: "x:@ministry", Action: api.ActionReply, Text: "See page 12.",
		Media: []manifest.Media{
			{SHA256: shaChart, Size: 48213, Type: "image/png", Name: "chart.png", Alt: "Bar chart of the 2026 budget"},
			{SHA256: shaPhoto, Size: 1048576, Type: "image/jpeg", Name: "photo.jpg"},
		},
		Target: &manifest.Target{URL: "https://x.com/i/status/1234567890", Author: "@someone", Excerpt: "What about schools?"}}
}

func manifestOf(t *testing.T, n api.NewRequest) string {
	t.Helper()
	d, err := manifest.Manifest{Account: n.Account, Action: n.Action, Text: n.Text, Media: n.Media, Target: n.Target}.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestApprovalBindsWholePost: an approval of a reply with two images is spent only on that
// reply with those images in that order under that post, and a report of anything else is the
// publish_mismatch alarm, even when the text is the approved one.
func TestApprovalBindsWholePost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	f.ensureAccount("x:@ministry")
	n := replyWithImages()
	n.ManifestDigest = manifestOf(t, n)
	r, err := f.staff().CreateRequest(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if r.ManifestDigest != n.ManifestDigest || !reflect.DeepEqual(r.Media, n.Media) || !reflect.DeepEqual(r.Target, n.Target) {
		t.Fatalf("the request shows %s %+v %+v, want what was asked", r.ManifestDigest, r.Media, r.Target)
	}
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	s := ap.Session
	if s.ManifestDigest != r.ManifestDigest || len(s.Media) != 2 || s.Target == nil || s.Target.URL != n.Target.URL {
		t.Fatalf("the session binds %+v", s)
	}

	// The same text with the images swapped, with one image fewer, or under another post.
	swapped, fewer, other := replyWithImages(), replyWithImages(), replyWithImages()
	swapped.Media[0], swapped.Media[1] = swapped.Media[1], swapped.Media[0]
	fewer.Media = fewer.Media[:1]
	other.Target = &manifest.Target{URL: "https://x.com/i/status/999"}
	for _, wrong := range []api.NewRequest{swapped, fewer, other} {
		u := use(s, r.Digest)
		u.ManifestDigest = manifestOf(t, wrong)
		_, err := f.staff().Consume(ctx, u)
		wantCode(t, err, api.CodeDigestMismatch)
		if !strings.Contains(err.Error(), "attachments") {
			t.Errorf("the refusal does not say it was the attachments or the answered post: %v", err)
		}
	}
	if _, err := f.staff().Consume(ctx, use(s, r.Digest)); err != nil {
		t.Fatalf("the approved post after refused ones: %v", err)
	}
	err = f.staff().ReportPublished(ctx, s.ID, r.Digest, manifestOf(t, swapped))
	wantCode(t, err, api.CodeDigestMismatch)
	if err := f.staff().ReportPublished(ctx, s.ID, r.Digest, r.ManifestDigest); err != nil {
		t.Fatalf("the genuine report after a wrong one: %v", err)
	}
	if got := f.auditLines("publish_mismatch"); len(got) != 1 || got[0]["severity"] != "high" {
		t.Fatalf("publish_mismatch lines: %v", got)
	}
	if blocked := f.auditLines("blocked"); len(blocked) != 3 {
		t.Errorf("%d blocked lines for three wrong posts", len(blocked))
	}
}

// TestRequestManifestRefusals: a manifest digest the daemon does not reach is refused saying
// which digest; a bad attachment is refused naming it; neither makes a request.
func TestRequestManifestRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.ensureAccount("x:@ministry")
	n := replyWithImages()
	n.ManifestDigest = strings.Repeat("0", 64)
	_, err := f.staff().CreateRequest(ctx, n)
	wantCode(t, err, api.CodeDigestMismatch)
	if !strings.Contains(err.Error(), "manifest digest") {
		t.Errorf("the refusal does not say it was the manifest digest: %v", err)
	}
	n = replyWithImages()
	n.Media[1].SHA256 = "not a digest"
	_, err = f.staff().CreateRequest(ctx, n)
	wantCode(t, err, api.CodeBadRequest)
	if !strings.Contains(err.Error(), "media[1].sha256") {
		t.Errorf("the refusal does not name the attachment: %v", err)
	}
	if rs, _ := f.staff().ListRequests(ctx); len(rs) != 0 {
		t.Errorf("refused requests were kept: %+v", rs)
	}
	// A text-only request (the CLI) has a manifest digest too: no media, target "-".
	r := f.request("Nur Text")
	if want := manifestOf(t, api.NewRequest{Account: r.Account, Action: r.Action, Text: r.Text}); r.ManifestDigest != want {
		t.Errorf("text-only manifest digest %s, want %s", r.ManifestDigest, want)
	}
}

// TestAuditRecordsWholePost: the request and approval lines name every attachment (name,
// size, type, sha256, the alt text's digest) and the answered post, and the CSV export shows
// them per approval. The alt text and the excerpt are not copied into the trail.
func TestAuditRecordsWholePost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.enrol("anna", "")
	f.ensureAccount("x:@ministry")
	n := replyWithImages()
	r, err := f.staff().CreateRequest(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"request", "approval"} {
		lines := f.auditLines(ev)
		if len(lines) != 1 {
			t.Fatalf("%d %s lines", len(lines), ev)
		}
		fields := lines[0]["fields"].(map[string]any)
		media, _ := fields["media"].([]any)
		if len(media) != 2 || fields["manifest_digest"] != r.ManifestDigest ||
			fields["target_url"] != n.Target.URL || fields["target_author"] != "@someone" {
			t.Fatalf("%s line fields: %v", ev, fields)
		}
		first := media[0].(map[string]any)
		want := map[string]any{"name": "chart.png", "size": 48213.0, "type": "image/png", "sha256": shaChart,
			"alt_sha256": digest.Sum("Bar chart of the 2026 budget")}
		if !reflect.DeepEqual(first, want) {
			t.Errorf("%s line's first attachment = %v, want %v", ev, first, want)
		}
	}
	trail := readAudit(t, f)
	for _, never := range []string{"Bar chart of the 2026 budget", "What about schools?"} {
		if strings.Contains(trail, never) {
			t.Errorf("the trail copies %q", never)
		}
	}

	var out bytes.Buffer
	if err := audit.Export(openFile(t, filepath.Join(f.home, "audit.jsonl")), &out, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	var approvals int
	for _, row := range rows[1:] {
		if row[col["event"]] != "approval" {
			continue
		}
		approvals++
		wantMedia := "chart.png (image/png, 48213 bytes) sha256 " + shaChart + " alt " + digest.Sum("Bar chart of the 2026 budget") +
			"\nphoto.jpg (image/jpeg, 1048576 bytes) sha256 " + shaPhoto + " alt " + digest.Sum("")
		if row[col["media"]] != wantMedia || row[col["target_url"]] != n.Target.URL ||
			row[col["target_author"]] != "'@someone" || row[col["manifest_digest"]] != r.ManifestDigest {
			t.Errorf("approval row: media %q target %q author %q manifest %q", row[col["media"]], row[col["target_url"]], row[col["target_author"]], row[col["manifest_digest"]])
		}
	}
	if approvals != 1 {
		t.Fatalf("%d approval rows", approvals)
	}
}
