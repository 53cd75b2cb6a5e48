package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func exportLog(t *testing.T) []byte {
	t.Helper()
	l, path := openTemp(t, testOptions())
	for _, e := range []Event{
		{User: "alice", Event: "request", Fields: map[string]any{
			FieldAccount: "x:@land", FieldAction: "post", FieldRequestID: "r1", FieldDigest: "d1",
			FieldText: "=HYPERLINK(\"http://evil\",\"klick\")\nzweite Zeile, mit \"Zitat\""}},
		{User: "@presse", Event: "approval", Fields: map[string]any{
			FieldAccount: "x:@land", FieldRequestID: "r1", FieldApprover: []string{"presse1", "presse2"},
			FieldRequester: "alice", FieldText: "+49 30 1234", "count": 2}},
		{User: "-bob", Event: "blocked", Severity: SeverityHigh, Fields: map[string]any{"host": "x.com"}},
	} {
		mustAppend(t, l, e)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExportCSV(t *testing.T) {
	log := exportLog(t)
	var out bytes.Buffer
	if err := Export(bytes.NewReader(log), &out, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("reading the export back: %v", err)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(CSVColumns, ",") {
		t.Fatalf("rows = %q", rows)
	}
	col := func(row []string, name string) string {
		for i, c := range CSVColumns {
			if c == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	tests := []struct {
		row       int
		col, want string
	}{
		{1, "seq", "1"},
		{1, "time", "2026-11-23T09:00:00.001Z"},
		{1, FieldText, "'=HYPERLINK(\"http://evil\",\"klick\")\nzweite Zeile, mit \"Zitat\""},
		{1, FieldAccount, "x:@land"},
		{1, FieldAction, "post"},
		{1, FieldDigest, "d1"},
		{2, "user", "'@presse"},
		{2, FieldApprover, "presse1, presse2"},
		{2, FieldRequester, "alice"},
		{2, FieldText, "'+49 30 1234"},
		{3, "user", "'-bob"},
		{3, "severity", "high"},
		{3, FieldText, ""},
	}
	for _, tt := range tests {
		if got := col(rows[tt.row], tt.col); got != tt.want {
			t.Errorf("row %d %s = %q, want %q", tt.row, tt.col, got, tt.want)
		}
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(col(rows[2], "fields_json")), &fields); err != nil || fields["count"] != 2.0 {
		t.Errorf("fields_json = %q (%v)", col(rows[2], "fields_json"), err)
	}
	recs := bytes.Split(bytes.TrimSpace(log), []byte("\n"))
	last, _ := ParseRecord(recs[2])
	if col(rows[3], "hash") != last.Hash {
		t.Errorf("hash column = %s, want %s", col(rows[3], "hash"), last.Hash)
	}
}

func TestExportJSONIsVerifiableAgain(t *testing.T) {
	log := exportLog(t)
	var out bytes.Buffer
	if err := Export(bytes.NewReader(log), &out, "json"); err != nil {
		t.Fatal(err)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &arr); err != nil {
		t.Fatalf("export is not a JSON array: %v\n%s", err, out.Bytes())
	}
	var again []byte
	for _, raw := range arr {
		again = append(append(again, raw...), '\n')
	}
	if !bytes.Equal(again, log) {
		t.Fatalf("array elements are not the lines as written")
	}
	if _, err := Verify(bytes.NewReader(again)); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if err := Export(strings.NewReader(""), &out, "json"); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("empty export = %q, %v", out.String(), err)
	}
}

func TestExportBrokenChain(t *testing.T) {
	ls := bytes.SplitAfter(exportLog(t), []byte("\n"))
	broken := bytes.Join([][]byte{ls[0], ls[2], []byte("junk\n")}, nil) // line 2 removed, junk added

	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			err := Export(bytes.NewReader(broken), &out, format)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Line != 2 {
				t.Fatalf("Export: %v, want line 2 to fail", err)
			}

			out.Reset()
			err = ExportWith(bytes.NewReader(broken), &out, ExportOptions{Format: format, Force: true})
			if !errors.As(err, &ve) || ve.Line != 2 {
				t.Fatalf("forced Export: %v, want the line 2 failure reported", err)
			}
			// Both parseable lines are there, the junk is not.
			if n := strings.Count(out.String(), `"event":"`); format == "json" && n != 2 {
				t.Errorf("forced json export has %d records:\n%s", n, out.String())
			}
			if format == "csv" {
				rows, err := csv.NewReader(&out).ReadAll()
				if err != nil || len(rows) != 3 {
					t.Errorf("forced csv export: %d rows, %v", len(rows), err)
				}
			}
		})
	}
}

func TestExportOptions(t *testing.T) {
	var out bytes.Buffer
	if err := Export(strings.NewReader(""), &out, "xml"); err == nil {
		t.Error("unknown format accepted")
	}
	out.Reset()
	if err := ExportWith(strings.NewReader(""), &out, ExportOptions{Format: "csv", BOM: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "\ufeffseq,time,") {
		t.Errorf("csv with BOM starts %q", out.String()[:12])
	}
}

func TestDefuse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := defuse(tt.in); got != tt.want {
				t.Errorf("defuse(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
