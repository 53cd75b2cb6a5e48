package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

// auditLines reads the trail's lines of one event kind.
func (f *fixture) auditLines(event string) []map[string]any {
	f.t.Helper()
	fh, err := os.Open(filepath.Join(f.home, "audit.jsonl"))
	if err != nil {
		f.t.Fatal(err)
	}
	defer func() { _ = fh.Close() }()
	var out []map[string]any
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			f.t.Fatal(err)
		}
		if l["event"] == event {
			out = append(out, l)
		}
	}
	return out
}

// A publishing request only the network gate stopped is a high-severity line for IT; a page
// repeating it gets one line per tab, platform and host a minute, and a line that could not
// be written is written by the next report.
func TestReportUnrecognised(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := api.Unrecognised{Platform: "mastodon", Host: "Social.Example", Method: "POST", Path: "/api/v1/statuses", Tab: "7"}

	wantCode(t, f.staff().ReportUnrecognised(ctx, api.Unrecognised{Host: "social.example", Method: "POST"}), api.CodeBadRequest)

	f.audit.fail.Store(true)
	wantCode(t, f.staff().ReportUnrecognised(ctx, u), api.CodeAuditUnavailable)
	f.audit.fail.Store(false)
	if n := len(f.auditLines("platform_unrecognised")); n != 0 {
		t.Fatalf("%d lines written while the trail failed", n)
	}
	// The failed line did not count against the limit.
	for range 10 {
		if err := f.staff().ReportUnrecognised(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	lines := f.auditLines("platform_unrecognised")
	if len(lines) != 1 {
		t.Fatalf("%d lines for one tab within a minute, want 1", len(lines))
	}
	l := lines[0]
	fields := l["fields"].(map[string]any)
	if l["severity"] != "high" || fields["platform"] != "mastodon" || fields["host"] != "social.example" ||
		fields["method"] != "POST" || fields["path"] != "/api/v1/statuses" || fields["transport"] != "bridge" {
		t.Fatalf("line = %v", l)
	}
	f.clk.Advance(time.Minute)
	if err := f.staff().ReportUnrecognised(ctx, u); err != nil {
		t.Fatal(err)
	}
	lines = f.auditLines("platform_unrecognised")
	if len(lines) != 2 || lines[1]["fields"].(map[string]any)["suppressed"] != float64(9) {
		t.Fatalf("after a minute: %v, want a second line counting the 9 reports left out", lines)
	}
	f.verifyAudit()
}
