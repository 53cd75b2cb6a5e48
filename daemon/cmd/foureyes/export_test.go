package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/manifest"
)

// TestAuditExportShowsWholePost: `foureyes audit export` shows, for each approval, every
// attachment's name, size, type and sha256 with its alt text's digest, and the post it answers,
// in both formats. The lines are written as the engine writes them (engine's
// TestAuditRecordsWholePost checks that it does).
func TestAuditExportShowsWholePost(t *testing.T) {
	const (
		shaChart = "e1bffab6c69f6107ab33c30cea9fd36d2f710586eb49c270ae63031a5af406bf"
		url      = "https://x.com/i/status/1234567890"
	)
	altSum := digest.Sum("Bar chart of the 2026 budget")
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{
		"request_id": "r1", "account": "x:@ministry", "action": "reply", "approver": "anna", "text": "See page 12.",
		"digest": digest.Sum("See page 12."), "manifest_digest": strings.Repeat("ab", 32),
		"media":      []any{map[string]any{"name": "chart.png", "size": 48213, "type": "image/png", "sha256": shaChart, "alt_sha256": altSum}},
		"target_url": url, "target_author": "@someone",
	}
	if _, err := l.Append(audit.Event{User: "anna", Event: "approval", Fields: fields}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	export := func(format string) string {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		if code := run(e, []string{"audit", "export", "--format", format, "--file", path}); code != exitOK {
			t.Fatalf("audit export --format %s: exit %d: %s", format, code, errb.String())
		}
		return out.String()
	}

	rows, err := csv.NewReader(strings.NewReader(export("csv"))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	row := map[string]string{}
	for i, c := range rows[0] {
		row[c] = rows[1][i]
	}
	wantMedia := "chart.png (image/png, 48213 bytes) sha256 " + shaChart + " alt " + altSum
	if row["event"] != "approval" || row["media"] != wantMedia || row["target_url"] != url || row["target_author"] != "'@someone" ||
		row["manifest_digest"] != strings.Repeat("ab", 32) {
		t.Errorf("csv approval row: %v", row)
	}

	var lines []struct {
		Event  string
		Fields map[string]any
	}
	if err := json.Unmarshal([]byte(export("json")), &lines); err != nil || len(lines) != 1 {
		t.Fatalf("json export: %v", err)
	}
	media, _ := lines[0].Fields["media"].([]any)
	if len(media) != 1 || media[0].(map[string]any)["sha256"] != shaChart || lines[0].Fields["target_url"] != url {
		t.Errorf("json approval line: %v", lines[0].Fields)
	}
}

// TestRequestsShowWholePost: `foureyes requests` names, below the table, each request's
// attachments and the post it answers, so the approver reads everything the approval covers.
func TestRequestsShowWholePost(t *testing.T) {
	r := api.Request{ID: "r1", Account: "x:@ministry", Action: "reply", Text: "See page 12.", State: "pending", Requester: "staff",
		Media:  []manifest.Media{{SHA256: "e1bffab6c69f6107ab33c30cea9fd36d2f710586eb49c270ae63031a5af406bf", Size: 48213, Type: "image/png", Name: "chart.png"}},
		Target: &manifest.Target{URL: "https://x.com/i/status/1234567890", Author: "@someone"}}
	plain := api.Request{ID: "r2", Account: "x:@ministry", Action: "post", Text: "Nur Text", State: "pending", Requester: "staff"}
	var out bytes.Buffer
	if err := printRequests(&out, []api.Request{r, plain}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"r1: with 1 image: chart.png 48 KB sha256 e1bffab6c69f…\n",
		"r1: reply to @someone: https://x.com/i/status/1234567890\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("requests output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "r2:") {
		t.Errorf("a text-only post gets extra lines:\n%s", got)
	}
}
