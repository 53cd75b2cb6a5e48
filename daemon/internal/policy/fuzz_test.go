package policy

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"version":1}`,
		`{"version":2}`,
		`{"version":1,"accounts":{"x:@A":{"approvers":["anna"]},"x:@a":{}}}`,
		`{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:00","end":"24:00"}}`,
		`{"version":1,"author_mark":{"pattern":"\\^[A-Z]{2,3}$"}}`,
		`{"version":1,"mastodon_instances":["Social.Example"]}`,
		`{"version":1,"throttle":{"max_consecutive_failures":100},"custody":"strict","editorial_sites":["cms.example"]}`,
		`{"version":1,"default_approvers":null}`,
		`{"version":1,"Version":1}`,
		`[`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join(sharedDir, "examples", "policy-*.json"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			return
		}
		checkRoundTrip(t, p)
	})
}
