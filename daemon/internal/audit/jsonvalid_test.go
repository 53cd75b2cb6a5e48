package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var jsonCases = []struct {
	in   string
	want bool
}{
	{`{}`, true},
	{`{"a":1}`, true},
	{`{ "a" : [1, -2.5e+3, 0, 0.1E-2, true, false, null, "x\u00fc\n", {"b":{}}] }`, true},
	{`{"a":"\ud83d\ude00"}`, true},
	{`{"a":"\u00FC\u00fC"}`, true},
	{``, false},
	{`[]`, false},
	{` {}`, false},
	{`{} `, false},
	{`{"a":1,}`, false},
	{`{"a"}`, false},
	{`{"a":01}`, false},
	{`{"a":-}`, false},
	{`{"a":1.}`, false},
	{`{"a":1e}`, false},
	{`{"a":tru}`, false},
	{`{"a":"` + "\t" + `"}`, false},
	{`{"a":"\x"}`, false},
	{`{"a":"\u12"}`, false},
	{`{"a":"\u00g0"}`, false},
	{`{"a":[1 2]}`, false},
	{`{a:1}`, false},
	{`{"a":1}{}`, false},
	{`{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, false},
}

func TestValidJSONObject(t *testing.T) {
	for _, tt := range jsonCases {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			if got := validJSONObject([]byte(tt.in)); got != tt.want {
				t.Errorf("validJSONObject(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzValidJSONObject holds the fast validator to encoding/json's verdict.
func FuzzValidJSONObject(f *testing.F) {
	for _, tt := range jsonCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return
		}
		want := json.Valid(b) && len(b) > 0 && b[0] == '{' && b[len(b)-1] == '}'
		if got := validJSONObject(b); got != want {
			t.Fatalf("validJSONObject(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}
