package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ExportOptions tune [ExportWith].
type ExportOptions struct {
	// Format is "csv" or "json".
	Format string
	// Force exports past a broken chain: lines that do not parse are skipped, and the first
	// verification failure is still returned once everything else is written.
	Force bool
	// BOM starts a CSV export with a UTF-8 byte order mark, which spreadsheet programs need to
	// show umlauts right.
	BOM bool
}

// CSVColumns are the columns of a CSV export, in order.
var CSVColumns = []string{
	"seq", "time", "user", "event", "severity",
	FieldAccount, FieldAction, FieldApprover, FieldRequester, FieldRequestID, FieldSessionID,
	FieldDigest, FieldText, FieldManifestDigest, FieldMedia, FieldTargetURL, FieldTargetAuthor,
	FieldMediaKept, "fields_json", "hash",
}

// Export writes the log read from r to w as "csv" or "json", verifying the chain as it goes:
// see [ExportWith].
func Export(r io.Reader, w io.Writer, format string) error {
	return ExportWith(r, w, ExportOptions{Format: format})
}

// ExportWith writes the log read from r to w.
//
// "csv" has the [CSVColumns]; the well-known fields get columns of their own and all fields are
// also kept as JSON. Cells that a spreadsheet would run as a formula (starting with = + - @, tab
// or CR) get a leading single quote.
//
// "json" is an array of the lines exactly as written, so an export can be verified again.
//
// The export stops at the first line that does not verify, returning a *[VerifyError], unless
// Force is set. What was written before stays in w, so write to a temporary file and keep it
// only on success.
func ExportWith(r io.Reader, w io.Writer, opts ExportOptions) error {
	var out exporter
	bw := bufio.NewWriterSize(w, 256<<10)
	switch opts.Format {
	case "csv":
		if opts.BOM {
			_, _ = bw.WriteString("\ufeff") // a bufio.Writer keeps its first error for Flush, which is checked
		}
		out = newCSVExporter(bw)
	case "json":
		out = &jsonExporter{w: bw}
	default:
		return fmt.Errorf("export format %q: want csv or json", opts.Format)
	}
	var (
		c     chain
		first *VerifyError
	)
	lr := newLineReader(r)
	for {
		line, nl, off, err := lr.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errLineTooLong) {
			// The reader cannot go on past a line it could not hold.
			err = &VerifyError{Line: c.lines + 1, Offset: off, Reason: errLineTooLong.Error()}
		}
		if err != nil {
			return fmt.Errorf("exporting audit log: %w", err)
		}
		p, verr := c.step(line, nl, off)
		if verr != nil {
			if !opts.Force {
				return verr
			}
			if first == nil {
				first = verr
			}
			// Past the first failure only each line's own shape still counts.
			c.lines++
			var reason string
			if p, reason = parseLine(line); reason != "" || !nl {
				continue
			}
		}
		rec, err := p.record(line)
		if err != nil {
			return fmt.Errorf("exporting line %d: %w", c.lines, err)
		}
		if err := out.write(rec, p.fields); err != nil {
			return fmt.Errorf("writing export: %w", err)
		}
	}
	if err := out.close(); err != nil {
		return fmt.Errorf("writing export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing export: %w", err)
	}
	if first != nil {
		return first
	}
	return nil
}

type exporter interface {
	// write exports rec; fields is its fields member exactly as written.
	write(rec Record, fields []byte) error
	close() error
}

type csvExporter struct {
	w   *csv.Writer
	row []string
}

func newCSVExporter(w io.Writer) *csvExporter {
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVColumns) // a csv.Writer reports write errors at Flush, which is checked
	return &csvExporter{w: cw, row: make([]string, len(CSVColumns))}
}

func (e *csvExporter) write(rec Record, fields []byte) error {
	row := append(e.row[:0],
		strconv.FormatUint(rec.Seq, 10), rec.Time.Format(time.RFC3339Nano), rec.User, rec.Event, rec.Severity)
	for _, k := range CSVColumns[5 : len(CSVColumns)-2] {
		if k == FieldMedia {
			row = append(row, mediaText(rec.Fields[k]))
			continue
		}
		row = append(row, fieldText(rec.Fields[k]))
	}
	row = append(row, string(fields), rec.Hash)
	for i, cell := range row {
		row[i] = defuse(cell)
	}
	return e.w.Write(row)
}

func (e *csvExporter) close() error {
	e.w.Flush()
	return e.w.Error()
}

// fieldText renders a field value for a cell of its own: strings as they are, lists of
// strings joined with ", ", anything else as JSON.
func fieldText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				b, _ := marshal(v)
				return string(b)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ", ")
	}
	b, _ := marshal(v)
	return string(b)
}

// mediaText renders the attachments of a post one per line, "name (type, size bytes) sha256
// HEX alt HEX", so that a reviewer can match a file to its digest without reading JSON. A value
// of another shape (a line written by hand) is shown as JSON.
func mediaText(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fieldText(v)
	}
	lines := make([]string, 0, len(list))
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return fieldText(v)
		}
		lines = append(lines, fmt.Sprintf("%s (%s, %s bytes) sha256 %s alt %s",
			fieldText(m["name"]), fieldText(m["type"]), fieldText(m["size"]), fieldText(m["sha256"]), fieldText(m["alt_sha256"])))
	}
	return strings.Join(lines, "\n")
}

// defuse keeps a spreadsheet from running a cell as a formula.
func defuse(cell string) string {
	if cell != "" && strings.IndexByte("=+-@\t\r", cell[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

type jsonExporter struct {
	w *bufio.Writer
	n int
}

func (e *jsonExporter) write(rec Record, _ []byte) error {
	sep := ",\n"
	if e.n == 0 {
		sep = "[\n"
	}
	e.n++
	_, _ = e.w.WriteString(sep) // kept by the bufio.Writer and returned by Flush
	_, err := e.w.Write(rec.Raw)
	return err
}

func (e *jsonExporter) close() error {
	if e.n == 0 {
		_, err := e.w.WriteString("[]\n")
		return err
	}
	_, err := e.w.WriteString("\n]\n")
	return err
}
