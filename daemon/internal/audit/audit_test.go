package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestChainRoundTrip(t *testing.T) {
	l, path := openTemp(t, testOptions())
	if seq, hash := l.Head(); seq != 0 || hash != zeroHash {
		t.Fatalf("empty log head = %d %s", seq, hash)
	}
	var recs []Record
	for i := range 6 {
		recs = append(recs, mustAppend(t, l, sampleEvent(i)))
	}
	seq, head := l.Head()
	if seq != 6 || head != recs[5].Hash {
		t.Fatalf("head = %d %s, want 6 %s", seq, head, recs[5].Hash)
	}
	res, err := VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 6 || res.Head != head || !res.First.Equal(recs[0].Time) || !res.Last.Equal(recs[5].Time) {
		t.Errorf("result = %+v", res)
	}
	got := lines(t, path)
	for i, rec := range recs {
		if want := string(rec.Raw) + "\n"; string(got[i]) != want {
			t.Errorf("line %d = %q, want %q", i+1, got[i], want)
		}
		back, err := ParseRecord(rec.Raw)
		if err != nil {
			t.Fatalf("ParseRecord line %d: %v", i+1, err)
		}
		if back.Seq != rec.Seq || back.Hash != rec.Hash || back.Prev != rec.Prev || !back.Time.Equal(rec.Time) ||
			back.User != rec.User || back.Event != rec.Event || back.Severity != rec.Severity {
			t.Errorf("line %d read back as %+v, want %+v", i+1, back, rec)
		}
		if back.Fields[FieldText] != rec.Fields[FieldText] {
			t.Errorf("line %d text = %v, want %v", i+1, back.Fields[FieldText], rec.Fields[FieldText])
		}
	}
	if recs[0].Prev != zeroHash || recs[1].Prev != recs[0].Hash {
		t.Errorf("prev links wrong: %s %s", recs[0].Prev, recs[1].Prev)
	}
	if !strings.HasPrefix(string(recs[0].Raw), `{"seq":1,"time":"2026-11-23T09:00:00.001Z","user":"alice","event":"request","severity":"info","fields":{`) {
		t.Errorf("line 1 layout: %s", recs[0].Raw)
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("file mode = %v, want 0600", st.Mode().Perm())
		}
		if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
			t.Errorf("dir mode = %v, want 0700", st.Mode().Perm())
		}
	}
}

func TestReopenContinuesChain(t *testing.T) {
	opts := testOptions()
	l, path := openTemp(t, opts)
	for i := range 3 {
		mustAppend(t, l, sampleEvent(i))
	}
	seq, hash := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(sampleEvent(0)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append after Close: %v, want ErrUnavailable", err)
	}
	l2, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l2.Close() }()
	if s2, h2 := l2.Head(); s2 != seq || h2 != hash {
		t.Fatalf("reopened head = %d %s, want %d %s", s2, h2, seq, hash)
	}
	rec := mustAppend(t, l2, sampleEvent(3))
	if rec.Seq != 4 || rec.Prev != hash {
		t.Fatalf("next record = seq %d prev %s", rec.Seq, rec.Prev)
	}
	if res, err := VerifyFile(path); err != nil || res.Lines != 4 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

func TestOpenRefusesSecondWriter(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
	default:
		t.Skip("no flock here")
	}
	_, path := openTemp(t, testOptions())
	if l, err := Open(path, testOptions()); err == nil {
		_ = l.Close()
		t.Fatal("second Open of the same log succeeded")
	}
}

// tamperedLog builds a 6-line log and returns its lines (each with its newline).
func tamperedLog(t *testing.T) [][]byte {
	t.Helper()
	l, path := openTemp(t, testOptions())
	for i := range 6 {
		mustAppend(t, l, sampleEvent(i))
	}
	ls := lines(t, path)
	return ls[:len(ls)-1]
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(ls [][]byte) [][]byte
		wantLine uint64
		want     string
		torn     bool
	}{
		{"one byte of a middle line changed", func(ls [][]byte) [][]byte {
			i := bytes.Index(ls[2], []byte("Landtag"))
			ls[2][i] = 'l'
			return ls
		}, 3, "hash mismatch (line was changed)", false},
		{"line deleted", func(ls [][]byte) [][]byte {
			return append(ls[:3], ls[4:]...)
		}, 4, "prev does not match line 3's hash", false},
		{"two lines swapped", func(ls [][]byte) [][]byte {
			ls[1], ls[2] = ls[2], ls[1]
			return ls
		}, 2, "prev does not match line 1's hash", false},
		{"first line deleted", func(ls [][]byte) [][]byte {
			return ls[1:]
		}, 1, "prev of the first line is not 64 zeros", false},
		{"line duplicated", func(ls [][]byte) [][]byte {
			return append(ls[:4], ls[3:]...)
		}, 5, "prev does not match line 4's hash", false},
		{"truncated mid-line", func(ls [][]byte) [][]byte {
			ls[5] = ls[5][:len(ls[5])/2]
			return ls
		}, 6, "torn (no newline at end of file)", true},
		{"last newline missing", func(ls [][]byte) [][]byte {
			ls[5] = ls[5][:len(ls[5])-1]
			return ls
		}, 6, "torn (no newline at end of file)", true},
		{"empty line inserted", func(ls [][]byte) [][]byte {
			return append(ls[:2], append([][]byte{[]byte("\n")}, ls[2:]...)...)
		}, 3, "empty line", false},
		{"edited and rehashed line", func(ls [][]byte) [][]byte {
			// An editor who knows the format recomputes the edited line's hash.
			body := bytes.Replace(ls[2][:len(ls[2])-1-hashMember], []byte("Landtag"), []byte("Bundestag"), 1)
			sum := bodyHash(body, len(body))
			ls[2] = append(append(append(body, keyHash...), sum[:]...), '"', '}', '\n')
			return ls
		}, 4, "prev does not match line 3's hash", false},
		{"seq renumbered", func(ls [][]byte) [][]byte {
			ls[3] = bytes.Replace(ls[3], []byte(`{"seq":4,`), []byte(`{"seq":7,`), 1)
			return ls
		}, 4, "hash mismatch", false},
		{"prev in uppercase", func(ls [][]byte) [][]byte {
			start := len(ls[2]) - 1 - hashMember - prevMember + len(keyPrev)
			copy(ls[2][start:], bytes.ToUpper(ls[2][start:start+hashLen]))
			return ls
		}, 3, "malformed: prev is not 64 lowercase hex digits", false},
		{"prev not hex", func(ls [][]byte) [][]byte {
			ls[2][len(ls[2])-1-hashMember-2] = 'g'
			return ls
		}, 3, "malformed: prev is not 64 lowercase hex digits", false},
		{"garbage appended", func(ls [][]byte) [][]byte {
			return append(ls, []byte("hello\n"))
		}, 7, "malformed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Join(tt.edit(tamperedLog(t)), nil)
			_, err := Verify(bytes.NewReader(data))
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify: %v, want a *VerifyError", err)
			}
			if ve.Line != tt.wantLine || !strings.Contains(ve.Reason, tt.want) {
				t.Errorf("Verify: %v, want line %d: %s", err, tt.wantLine, tt.want)
			}
			if !errors.Is(err, ErrBroken) || errors.Is(err, ErrTorn) != tt.torn {
				t.Errorf("errors.Is: broken %v torn %v, want torn %v", errors.Is(err, ErrBroken), errors.Is(err, ErrTorn), tt.torn)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("message %q should start with the line", err)
			}
		})
	}
}

func TestVerifyEmpty(t *testing.T) {
	res, err := Verify(strings.NewReader(""))
	if err != nil || res.Lines != 0 || res.Head != zeroHash {
		t.Fatalf("Verify(empty) = %+v, %v", res, err)
	}
}

func TestTornLogOpenAndRepair(t *testing.T) {
	tests := []struct {
		name     string
		keep     int // whole lines kept
		tail     func(next []byte) []byte
		wantLine uint64
	}{
		{"cut mid-line", 4, func(next []byte) []byte { return next[:40] }, 5},
		{"cut just before the newline", 4, func(next []byte) []byte { return next[:len(next)-1] }, 5},
		{"zeros from a crash", 4, func([]byte) []byte { return make([]byte, 300) }, 5},
		{"first line torn", 0, func(next []byte) []byte { return next[:10] }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			src := tamperedLog(t)
			good := bytes.Join(src[:tt.keep], nil)
			torn := tt.tail(bytes.Clone(src[tt.keep]))
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(path, append(bytes.Clone(good), torn...), 0o600); err != nil {
				t.Fatal(err)
			}

			_, err := Open(path, opts)
			var te *TornError
			if !errors.As(err, &te) || !errors.Is(err, ErrTorn) {
				t.Fatalf("Open: %v, want a *TornError", err)
			}
			if te.Line != tt.wantLine || te.Offset != int64(len(good)) || te.Bytes != int64(len(torn)) {
				t.Errorf("TornError = %+v, want line %d offset %d bytes %d", te, tt.wantLine, len(good), len(torn))
			}
			if _, err := VerifyFile(path); err == nil {
				t.Errorf("VerifyFile passed a torn log")
			}

			rep, err := Repair(path, "admin", opts)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			side, err := os.ReadFile(rep.TornFile)
			if err != nil || !bytes.Equal(side, torn) {
				t.Fatalf("side file %s = %q (%v), want the torn bytes %q", rep.TornFile, side, err, torn)
			}
			if !strings.HasPrefix(rep.TornFile, path+".torn-") {
				t.Errorf("side file name %s", rep.TornFile)
			}
			res, err := VerifyFile(path)
			if err != nil {
				t.Fatalf("verify after repair: %v", err)
			}
			if res.Lines != uint64(tt.keep)+1 {
				t.Errorf("lines after repair = %d, want %d", res.Lines, tt.keep+1)
			}
			rec := rep.Record
			if rec.Event != "audit_repaired" || rec.Severity != SeverityHigh || rec.User != "admin" ||
				rec.Hash != res.Head || rec.Fields["bytes"] != json.Number(strconv.Itoa(len(torn))) {
				t.Errorf("repair record = %+v", rec)
			}

			again, err := Repair(path, "admin", opts)
			if err != nil || again.TornFile != "" {
				t.Errorf("second Repair = %+v, %v; want nothing to do", again, err)
			}
			l, err := Open(path, opts)
			if err != nil {
				t.Fatalf("Open after repair: %v", err)
			}
			_ = l.Close()
		})
	}
}

func TestOpenRefusesEditedLastLine(t *testing.T) {
	ls := tamperedLog(t)
	ls[5] = bytes.Replace(ls[5], []byte("x.com"), []byte("y.com"), 1)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, bytes.Join(ls, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, testOptions())
	if !errors.Is(err, ErrBroken) || errors.Is(err, ErrTorn) {
		t.Fatalf("Open: %v, want ErrBroken and not ErrTorn", err)
	}
	if _, err := Repair(path, "admin", testOptions()); err == nil {
		t.Fatalf("Repair accepted an edited log")
	}
}

func TestInjectionStaysInsideItsLine(t *testing.T) {
	l, path := openTemp(t, testOptions())
	evil := []string{
		"line one\nline two",
		"\r\n{\"seq\":2,\"time\":\"x\"}\n",
		`","hash":"` + strings.Repeat("0", 64) + `"}`,
		`"}` + "\n" + `{"seq":99`,
		"bad utf-8 \xff\xfe end",
		"separators \u2028 \u2029 and NUL \x00",
		"<script>&amp;</script>",
	}
	for _, s := range evil {
		mustAppend(t, l, Event{User: s, Event: "request", Fields: map[string]any{FieldText: s, s: s}})
	}
	ls := lines(t, path)
	if len(ls) != len(evil)+1 || len(ls[len(ls)-1]) != 0 {
		t.Fatalf("file has %d parts, want %d lines", len(ls)-1, len(evil))
	}
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("verify: %v", err)
	}
	for i, s := range evil {
		rec, err := ParseRecord(bytes.TrimSuffix(ls[i], []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		want := string([]rune(s)) // each invalid byte becomes U+FFFD
		if rec.User != want || rec.Fields[FieldText] != want || rec.Fields[want] != want {
			t.Errorf("line %d read back as %+v, want %q", i+1, rec, want)
		}
		if bytes.Count(ls[i], []byte(`"hash":`)) != 1 {
			t.Errorf("line %d has a second raw hash member: %s", i+1, ls[i])
		}
	}
}

func TestAppendRefuses(t *testing.T) {
	type withSeed struct {
		Seed string `json:"seed"`
	}
	tests := []struct {
		name   string
		e      Event
		secret bool
	}{
		{"code", Event{Event: "approval", Fields: map[string]any{"code": "123456"}}, true},
		{"otp", Event{Event: "approval", Fields: map[string]any{"otp": "123456"}}, true},
		{"password in capitals", Event{Event: "account_added", Fields: map[string]any{"Password": "x"}}, true},
		{"token nested", Event{Event: "blocked", Fields: map[string]any{"req": map[string]any{"token": "x"}}}, true},
		{"secret in a list", Event{Event: "blocked", Fields: map[string]any{"l": []any{map[string]any{"secret": 1}}}}, true},
		{"seed through a struct tag", Event{Event: "approver_enrolled", Fields: map[string]any{"a": withSeed{"JBSW"}}}, true},
		{"bad event name", Event{Event: "Approval!"}, false},
		{"empty event name", Event{}, false},
		{"bad severity", Event{Event: "lock", Severity: "critical"}, false},
		{"unencodable field", Event{Event: "lock", Fields: map[string]any{"c": make(chan int)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, path := openTemp(t, testOptions())
			mustAppend(t, l, sampleEvent(0))
			before, _ := os.ReadFile(path)
			_, err := l.Append(tt.e)
			if err == nil {
				t.Fatal("Append accepted it")
			}
			if errors.Is(err, ErrSecretField) != tt.secret {
				t.Errorf("Append: %v, want ErrSecretField %v", err, tt.secret)
			}
			after, _ := os.ReadFile(path)
			if seq, _ := l.Head(); seq != 1 || !bytes.Equal(before, after) {
				t.Errorf("refused event changed the log (seq %d)", seq)
			}
		})
	}
	t.Run("look-alike keys are fine", func(t *testing.T) {
		l, _ := openTemp(t, testOptions())
		mustAppend(t, l, Event{Event: "account_changed", Fields: map[string]any{"password_changed": true, "codes": 2}})
	})
}

// failingFile fails chosen operations of a real file.
type failingFile struct {
	file
	shortWrite bool // write half the line, then fail
	syncFails  int  // how many Syncs fail from now on
	failTrunc  bool
}

func (f *failingFile) WriteAt(b []byte, off int64) (int, error) {
	if f.shortWrite {
		n, _ := f.file.WriteAt(b[:len(b)/2], off)
		return n, errors.New("no space left on device")
	}
	return f.file.WriteAt(b, off)
}

func (f *failingFile) Sync() error {
	if f.syncFails > 0 {
		f.syncFails--
		return errors.New("input/output error")
	}
	return f.file.Sync()
}

func (f *failingFile) Truncate(size int64) error {
	if f.failTrunc {
		return errors.New("read-only file system")
	}
	return f.file.Truncate(size)
}

func TestAppendFailureLeavesNoPartialLine(t *testing.T) {
	tests := []struct {
		name     string
		fault    failingFile
		cutBack  bool // the partial line is gone from the file
		recovers bool // later appends work once the fault is gone
	}{
		{"short write", failingFile{shortWrite: true}, true, true},
		{"fsync fails once", failingFile{syncFails: 1}, true, true},
		// Whether the cut reached the disk is unknown: stop appending.
		{"fsync keeps failing", failingFile{syncFails: 2}, true, false},
		{"short write and cannot cut back", failingFile{shortWrite: true, failTrunc: true}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ff := &failingFile{}
			opts := testOptions()
			opts.wrap = func(f file) file { ff.file = f; return ff }
			l, path := openTemp(t, opts)
			mustAppend(t, l, sampleEvent(0))
			seq, hash := l.Head()
			before, _ := os.ReadFile(path)

			ff.shortWrite, ff.syncFails, ff.failTrunc = tt.fault.shortWrite, tt.fault.syncFails, tt.fault.failTrunc
			_, err := l.Append(sampleEvent(1))
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Append: %v, want ErrUnavailable", err)
			}
			if s, h := l.Head(); s != seq || h != hash {
				t.Errorf("head moved to %d %s", s, h)
			}
			after, _ := os.ReadFile(path)
			if tt.cutBack && !bytes.Equal(before, after) {
				t.Errorf("log changed:\n%s\nwant\n%s", after, before)
			}

			ff.shortWrite, ff.syncFails, ff.failTrunc = false, 0, false
			rec, err := l.Append(sampleEvent(2))
			if !tt.recovers {
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Append after a failure that could not be undone: %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil || rec.Seq != 2 || rec.Prev != hash {
				t.Fatalf("next Append = %+v, %v", rec, err)
			}
			if _, err := VerifyFile(path); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}
func TestConcurrentAppend(t *testing.T) {
	l, path := openTemp(t, testOptions())
	const workers, each = 50, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(sampleEvent(w*each + i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res, err := VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if seq, head := l.Head(); res.Lines != workers*each || seq != res.Lines || head != res.Head {
		t.Fatalf("verified %d lines head %s; log head %d %s", res.Lines, res.Head, seq, head)
	}
}

func TestEventsAreUsableNames(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range Events {
		if !validName(name) || seen[name] || !Known(name) {
			t.Errorf("event %q: valid %v, duplicate %v", name, validName(name), seen[name])
		}
		seen[name] = true
	}
	if Known("no_such_event") {
		t.Error("Known accepts an unknown name")
	}
}

func TestParseRecordRefusesDamage(t *testing.T) {
	l, _ := openTemp(t, testOptions())
	rec := mustAppend(t, l, sampleEvent(0))
	tests := []struct {
		name string
		line []byte
	}{
		{"empty", nil},
		{"not json", []byte("hello")},
		{"one byte changed", bytes.Replace(rec.Raw, []byte("alice"), []byte("alicf"), 1)},
		{"newline kept", append(bytes.Clone(rec.Raw), '\n')},
		{"uppercase hash", append(bytes.Clone(rec.Raw[:len(rec.Raw)-66]), []byte(strings.ToUpper(rec.Hash)+`"}`)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseRecord(tt.line); !errors.Is(err, ErrBroken) {
				t.Errorf("ParseRecord: %v, want ErrBroken", err)
			}
		})
	}
	if _, err := ParseRecord(rec.Raw); err != nil {
		t.Errorf("ParseRecord of a good line: %v", err)
	}
}

// A last line that ends in its newline was written whole: if it does not parse, somebody edited
// it, and Open must not offer to repair it away as a crash's trace.
func TestEditedLastLineIsBrokenNotTorn(t *testing.T) {
	src := tamperedLog(t)
	last := append(bytes.Clone(src[4][:60]), '\n')
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, append(bytes.Join(src[:4], nil), last...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, testOptions())
	if !errors.Is(err, ErrBroken) || errors.Is(err, ErrTorn) {
		t.Fatalf("Open: %v, want broken and not torn", err)
	}
}

// TestRecord checks that Record writes the line Append would, and refuses what Append refuses.
func TestRecord(t *testing.T) {
	tests := []struct {
		name      string
		user      string
		event     string
		severity  string
		fields    map[string]any
		wantSev   string
		wantError error // nil for a written line; errAny for an error of no sentinel
	}{
		{"info event", "alice", "request", "info", map[string]any{"account": "x:@ministry"}, "info", nil},
		{"severity defaults to info", "alice", "consume", "", nil, "info", nil},
		{"high event", "anna", "lock", "high", map[string]any{"reason": "by hand"}, "high", nil},
		{"secret field refused", "alice", "request", "info", map[string]any{"password": "x"}, "", ErrSecretField},
		{"bad event name refused", "alice", "Request!", "info", nil, "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := openTemp(t, testOptions())
			err := l.Record(tt.user, tt.event, tt.severity, tt.fields)
			seq, head := l.Head()
			if tt.wantError != nil {
				if err == nil || tt.wantError != errAny && !errors.Is(err, tt.wantError) {
					t.Fatalf("Record: %v, want %v", err, tt.wantError)
				}
				if seq != 0 {
					t.Errorf("a refused event moved the chain to %d", seq)
				}
				return
			}
			if err != nil {
				t.Fatalf("Record: %v", err)
			}
			ls := lines(t, l.Path())
			if len(ls) != 2 || len(ls[1]) != 0 || seq != 1 {
				t.Fatalf("log holds %q, head %d", ls, seq)
			}
			r, err := ParseRecord(bytes.TrimSuffix(ls[0], []byte("\n")))
			if err != nil || r.Hash != head {
				t.Fatalf("ParseRecord: %+v, %v; head %s", r, err, head)
			}
			if r.User != tt.user || r.Event != tt.event || r.Severity != tt.wantSev || len(r.Fields) != len(tt.fields) {
				t.Errorf("record = %+v, want %s %s %s %v", r, tt.user, tt.event, tt.wantSev, tt.fields)
			}
		})
	}
}

var errAny = errors.New("any error")
