package policy

import (
	"fmt"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	base := `{"version":1,"default_approvers":["anna"],"accounts":{"x:@m":{"approvers":["ben","carla"]}},
	  "posting_hours":{"time_zone":"Europe/Berlin","days":["mon","tue"],"start":"08:00","end":"18:00","outside":"refuse"},
	  "author_mark":{"required":true,"pattern":"\\^[A-Z]{2}$"},"audit":{"syslog":true},"mastodon_instances":["social.example"]}`
	parse := func(t *testing.T, s string) *Policy {
		t.Helper()
		p, err := Parse([]byte(s))
		if err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
		return p
	}
	with := func(old, new string) string { return strings.Replace(base, old, new, 1) }
	tests := []struct {
		name    string
		new     string
		key     string
		weakens bool
	}{
		{"syslog off", with(`"syslog":true`, `"syslog":false`), "audit.syslog", true},
		{"more failures allowed", with(`"version":1,`, `"version":1,"throttle":{"max_failures":10},`), "throttle.max_failures", true},
		{"fewer failures allowed", with(`"version":1,`, `"version":1,"throttle":{"max_failures":3},`), "throttle.max_failures", false},
		{"shorter lock-out", with(`"version":1,`, `"version":1,"throttle":{"lockout_seconds":10},`), "throttle.lockout_seconds", true},
		{"a second default approver", with(`"default_approvers":["anna"]`, `"default_approvers":["anna","carla"]`), "default_approvers", true},
		{"anyone may approve", with(`"default_approvers":["anna"]`, `"default_approvers":["*"]`), "default_approvers", true},
		{"fewer approvers for an account", with(`{"approvers":["ben","carla"]}`, `{"approvers":["ben"]}`), "accounts.x:@m.approvers", false},
		{"another approver for an account", with(`{"approvers":["ben","carla"]}`, `{"approvers":["ben","dora"]}`), "accounts.x:@m.approvers", true},
		{"the account falls back to the default", with(`"accounts":{"x:@m":{"approvers":["ben","carla"]}},`, ``), "accounts.x:@m.approvers", true},
		{"posting hours gone", with(`"posting_hours":{"time_zone":"Europe/Berlin","days":["mon","tue"],"start":"08:00","end":"18:00","outside":"refuse"},`, ``), "posting_hours", true},
		{"posting hours narrower", with(`"end":"18:00"`, `"end":"17:00"`), "posting_hours", false},
		{"posting hours on a new day", with(`["mon","tue"]`, `["mon","tue","sat"]`), "posting_hours", true},
		{"two approvers instead of refusing", with(`"outside":"refuse"`, `"outside":"two_approvers"`), "posting_hours", true},
		{"author mark no longer required", with(`"required":true`, `"required":false`), "author_mark", true},
		{"a governed instance dropped", with(`"mastodon_instances":["social.example"]`, `"mastodon_instances":[]`), "mastodon_instances", true},
		{"longer sessions", with(`"version":1,`, `"version":1,"session_ttl_seconds":3600,`), "session_ttl_seconds", true},
		{"copies of attached files kept", with(`"version":1,`, `"version":1,"keep_media":true,`), "keep_media", false},
		{"a wider code window", with(`"version":1,`, `"version":1,"totp_skew_steps":3,`), "totp_skew_steps", true},
		{"a new extension id", with(`"version":1,`, `"version":1,"extension_ids":["abcdefghijklmnopabcdefghijklmnop"],`), "extension_ids", true},
	}
	old := parse(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := Diff(old, parse(t, tt.new))
			var found bool
			for _, c := range cs {
				if c.Key == tt.key {
					found = true
					if c.Weakens != tt.weakens {
						t.Errorf("%s: weakens = %v, want %v (%+v)", c.Key, c.Weakens, tt.weakens, c)
					}
				}
			}
			if !found {
				t.Fatalf("no change of %s in %+v", tt.key, cs)
			}
			if Weakened(cs) != tt.weakens && tt.weakens {
				t.Errorf("Weakened = %v", Weakened(cs))
			}
		})
	}
	// Keeping no more copies, or copies of smaller files only, weakens what the trail proves.
	keeping := parse(t, with(`"version":1,`, `"version":1,"keep_media":true,`))
	for name, p := range map[string]*Policy{"off": old, "smaller": parse(t, with(`"version":1,`, `"version":1,"keep_media":true,"keep_media_max_bytes":1024,`))} {
		if !Weakened(Diff(keeping, p)) {
			t.Errorf("keep_media %s: not a weakening: %+v", name, Diff(keeping, p))
		}
	}
	if cs := Diff(old, parse(t, base)); len(cs) != 0 {
		t.Errorf("the same policy differs: %+v", cs)
	}
	if Digest(old) == Digest(parse(t, with(`"syslog":true`, `"syslog":false`))) || len(Digest(old)) != 64 {
		t.Error("digests of different policies are alike, or not SHA-256")
	}
	if cs := Diff(nil, old); len(cs) != 1 || cs[0].Key != "policy" {
		t.Errorf("from no policy: %+v", cs)
	}
}

// The collector: its default queue bound, the name its certificate must carry, and which
// changes are an alarm (the copy sent elsewhere, or nowhere, or another CA trusted).
func TestCollectorPolicy(t *testing.T) {
	parse := func(t *testing.T, s string) *Policy {
		t.Helper()
		p, err := Parse([]byte(s))
		if err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
		return p
	}
	base := `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514","ca_file":"/etc/foureyes/ca.pem"%s}}}`
	p := parse(t, fmt.Sprintf(base, ""))
	c := p.Audit.Collector
	if c == nil || c.QueueMaxMiB != DefaultCollectorQueueMiB || c.VerifyName() != "logs.example.org" {
		t.Fatalf("collector %+v", c)
	}
	for _, tt := range []struct {
		name, extra string
		weakens     bool
	}{
		{"queue bound", `,"queue_max_mib":8`, false},
		{"client certificate", `,"client_cert_file":"/c.pem","client_key_file":"/k.pem"`, false},
		{"other name", `,"server_name":"collector.example.org"`, true},
	} {
		cs := Diff(p, parse(t, fmt.Sprintf(base, tt.extra)))
		if len(cs) != 1 || cs[0].Key != "audit.collector" || cs[0].Weakens != tt.weakens {
			t.Errorf("%s: %+v", tt.name, cs)
		}
	}
	moved := parse(t, `{"version":1,"audit":{"collector":{"address":"logs.other.example:6514","ca_file":"/etc/foureyes/ca.pem"}}}`)
	none := parse(t, `{"version":1}`)
	if !Weakened(Diff(p, moved)) || !Weakened(Diff(p, none)) || Weakened(Diff(none, p)) {
		t.Fatalf("moving or removing the collector is an alarm, adding one is not: %+v %+v %+v", Diff(p, moved), Diff(p, none), Diff(none, p))
	}
}
