package policy

import (
	"errors"
	"foureyes/daemon/internal/rules"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, policy, want string
	}{
		// Format.
		{"not json", `{"version":1,`, "not valid JSON"},
		{"syntax error position", "{\"version\":1,\n  \"description\": strict}", "line 2, column"},
		{"empty", ``, "not valid JSON"},
		{"array", `[1]`, "must be a JSON object"},
		{"string", `"x"`, "must be a JSON object"},
		{"null document", `null`, "version: missing"},
		{"trailing data", `{"version":1} {"version":1}`, "not valid JSON"},
		{"trailing garbage", `{"version":1} x`, "not valid JSON"},
		{"too large", `{"version":1,"description":"` + strings.Repeat("a", MaxSize) + `"}`, "over the limit of 1048576"},

		// Version.
		{"no version", `{}`, "version: missing (this foureyes understands version 1)"},
		{"newer version", `{"version":2}`, "policy version 2 is newer than this foureyes understands"},
		{"newer version with new keys", `{"version":2,"quorum":3}`, "policy version 2 is newer than this foureyes understands"},
		{"version zero", `{"version":0}`, "version: 0 is not a policy version"},
		{"version string", `{"version":"1"}`, `version: "1" is not a whole number`},
		{"version fraction", `{"version":1.5}`, "version: 1.5 is not a whole number"},

		// Shape.
		{"unknown key", `{"version":1,"custodian":"x"}`, "custodian: unknown key"},
		{"unknown key wrong case", `{"version":1,"Custody":"strict"}`, "Custody: unknown key"},
		{"unknown nested key", `{"version":1,"throttle":{"max_failure":3}}`, "throttle.max_failure: unknown key"},
		{"unknown account key", `{"version":1,"accounts":{"x:@a":{"aprovers":["a"]}}}`, `accounts["x:@a"].aprovers: unknown key`},
		{"audit remote not yet", `{"version":1,"audit":{"remote":{}}}`, "audit.remote: unknown key"},
		{"duplicate key", `{"version":1,"description":"a","description":"b"}`, "description: duplicate key"},
		{"duplicate account", `{"version":1,"accounts":{"x:@a":{},"x:@a":{}}}`, `accounts["x:@a"]: duplicate key`},
		{"null", `{"version":1,"default_approvers":null}`, "default_approvers: null is not allowed"},
		{"null nested", `{"version":1,"throttle":{"max_failures":null}}`, "throttle.max_failures: null is not allowed"},
		{"null posting hours", `{"version":1,"posting_hours":null}`, "posting_hours: null is not allowed"},
		{"string for int", `{"version":1,"bridge_port":"47321"}`, "bridge_port: expected a whole number, got a string"},
		{"exponent for int", `{"version":1,"bridge_port":4e4}`, "bridge_port: 4e4 is not a whole number"},
		{"float for int", `{"version":1,"bridge_port":47321.5}`, "bridge_port: 47321.5 is not a whole number"},
		{"huge int", `{"version":1,"bridge_port":99999999999999999999}`, "bridge_port: 99999999999999999999 is far out of range"},
		{"object for string", `{"version":1,"description":{}}`, "description: expected a string, got an object"},
		{"string for list", `{"version":1,"extension_ids":"khjidfhbpkegedbcgmbanfcppfhpdnkp"}`, "extension_ids: expected an array, got a string"},
		{"number in list", `{"version":1,"default_approvers":[1]}`, "default_approvers[0]: expected a string, got the number 1"},
		{"bool for object", `{"version":1,"throttle":true}`, "throttle: expected an object, got true"},
		{"string for bool", `{"version":1,"audit":{"syslog":"yes"}}`, "audit.syslog: expected true or false, got a string"},
		{"collector without CA", `{"version":1,"audit":{"collector":{"address":"logs.example.org:6514"}}}`, "audit.collector.ca_file: missing: the absolute path of a PEM file"},
		{"collector without port", `{"version":1,"audit":{"collector":{"address":"logs.example.org","ca_file":"/etc/ca.pem"}}}`, `audit.collector.address: "logs.example.org" is not host:port`},
		{"collector bad port", `{"version":1,"audit":{"collector":{"address":"logs.example.org:0","ca_file":"/etc/ca.pem"}}}`, `audit.collector.address: port "0" is not a number from 1 to 65535`},
		{"collector relative CA", `{"version":1,"audit":{"collector":{"address":"l.example:6514","ca_file":"ca.pem"}}}`, `audit.collector.ca_file: "ca.pem" is not an absolute path`},
		{"collector key without cert", `{"version":1,"audit":{"collector":{"address":"l.example:6514","ca_file":"/ca.pem","client_key_file":"/k.pem"}}}`, "audit.collector.client_key_file: client_cert_file and client_key_file go together"},
		{"collector queue", `{"version":1,"audit":{"collector":{"address":"l.example:6514","ca_file":"/ca.pem","queue_max_mib":0}}}`, "audit.collector.queue_max_mib: 0 is"},
		{"collector no insecure option", `{"version":1,"audit":{"collector":{"address":"l.example:6514","ca_file":"/ca.pem","insecure_skip_verify":true}}}`, "insecure_skip_verify"},
		{"collector bad server name", `{"version":1,"audit":{"collector":{"address":"l.example:6514","ca_file":"/ca.pem","server_name":"a b"}}}`, "audit.collector.server_name:"},

		// Accounts and approvers.
		{"account no platform", `{"version":1,"accounts":{"x":{}}}`, `accounts["x"]: account id must be platform:handle`},
		{"account empty handle", `{"version":1,"accounts":{"x:":{}}}`, `accounts["x:"]: account id must be platform:handle`},
		{"account upper platform", `{"version":1,"accounts":{"X:@a":{}}}`, `accounts["X:@a"]: account id must be platform:handle`},
		{"account space", `{"version":1,"accounts":{"x:@a b":{}}}`, "may not contain spaces"},
		{"account case duplicate", `{"version":1,"accounts":{"x:@A":{},"x:@a":{}}}`, `accounts["x:@a"]: same account as "x:@A"`},
		{"account empty approvers", `{"version":1,"accounts":{"x:@a":{"approvers":[]}}}`, `accounts["x:@a"].approvers: must name at least one approver`},
		{"account approver duplicate", `{"version":1,"accounts":{"x:@a":{"approvers":["anna","anna"]}}}`, `accounts["x:@a"].approvers[1]: "anna" is listed twice`},
		{"star mixed", `{"version":1,"default_approvers":["*","anna"]}`, `default_approvers: "*" (any approver) cannot be combined`},
		{"approver empty", `{"version":1,"default_approvers":[""]}`, `default_approvers[0]: "" is not an approver id`},
		{"approver slash", `{"version":1,"default_approvers":["a/b"]}`, `default_approvers[0]: "a/b" is not an approver id`},
		{"approver space", `{"version":1,"default_approvers":["anna b"]}`, `default_approvers[0]: "anna b" is not an approver id`},
		{"approver too long", `{"version":1,"default_approvers":["` + strings.Repeat("a", 65) + `"]}`, "is not an approver id (lower-case letters"},
		{"approver id enrolment would refuse", `{"version":1,"default_approvers":["Anna.Schmidt"]}`, `"Anna.Schmidt" is not an approver id`},

		// Posting hours.
		{"hours start not HH:MM", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"7am","end":"20:00"}}`, `posting_hours.start: "7am" is not HH:MM`},
		{"hours start one digit", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"7:00","end":"20:00"}}`, `posting_hours.start: "7:00" is not HH:MM`},
		{"hours start 24:00", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"24:00","end":"24:00"}}`, `posting_hours.start: "24:00" is not HH:MM`},
		{"hours minute 60", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:60","end":"20:00"}}`, `posting_hours.start: "07:60" is not HH:MM`},
		{"hours end 24:01", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:00","end":"24:01"}}`, `posting_hours.end: "24:01" is not HH:MM`},
		{"hours end 25:00", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:00","end":"25:00"}}`, `posting_hours.end: "25:00" is not HH:MM`},
		{"hours missing start", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","end":"20:00"}}`, `posting_hours.start: "" is not HH:MM`},
		{"hours start equals end", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:00","end":"07:00"}}`, `posting_hours.end: "07:00" is not after start "07:00"`},
		{"hours over midnight", `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"22:00","end":"06:00"}}`, "hours cannot span midnight"},
		{"hours no zone", `{"version":1,"posting_hours":{"start":"07:00","end":"20:00"}}`, "posting_hours.time_zone: missing"},
		{"hours local zone", `{"version":1,"posting_hours":{"time_zone":"Local","start":"07:00","end":"20:00"}}`, `posting_hours.time_zone: "Local" depends on the laptop`},
		{"hours bad zone", `{"version":1,"posting_hours":{"time_zone":"Europe/Bonn","start":"07:00","end":"20:00"}}`, `posting_hours.time_zone: "Europe/Bonn" is not a known IANA time zone`},
		{"hours bad day", `{"version":1,"posting_hours":{"time_zone":"UTC","days":["monday"],"start":"07:00","end":"20:00"}}`, `posting_hours.days[0]: "monday" is not one of`},
		{"hours duplicate day", `{"version":1,"posting_hours":{"time_zone":"UTC","days":["mon","mon"],"start":"07:00","end":"20:00"}}`, `posting_hours.days[1]: "mon" is listed twice`},
		{"hours no days", `{"version":1,"posting_hours":{"time_zone":"UTC","days":[],"start":"07:00","end":"20:00"}}`, "posting_hours.days: must name at least one day"},
		{"hours bad outside", `{"version":1,"posting_hours":{"time_zone":"UTC","start":"07:00","end":"20:00","outside":"deny"}}`, `posting_hours.outside: "deny" is not "two_approvers" or "refuse"`},
		{"hours unknown key", `{"version":1,"posting_hours":{"time_zone":"UTC","start":"07:00","end":"20:00","holidays":[]}}`, "posting_hours.holidays: unknown key"},

		// Numbers.
		{"skew negative", `{"version":1,"totp_skew_steps":-1}`, "totp_skew_steps: -1 is under the minimum of 0"},
		{"skew too big", `{"version":1,"totp_skew_steps":4}`, "totp_skew_steps: 4 is over the limit of 3"},
		{"session ttl short", `{"version":1,"session_ttl_seconds":29}`, "session_ttl_seconds: 29 is under the minimum of 30"},
		{"session ttl long", `{"version":1,"session_ttl_seconds":3601}`, "session_ttl_seconds: 3601 is over the limit of 3600"},
		{"keep_media not a boolean", `{"version":1,"keep_media":"yes"}`, "keep_media"},
		{"keep_media cap too small", `{"version":1,"keep_media":true,"keep_media_max_bytes":1023}`, "keep_media_max_bytes: 1023 is under the minimum of 1024"},
		{"keep_media cap over 1 GiB", `{"version":1,"keep_media_max_bytes":1073741825}`, "keep_media_max_bytes: 1073741825 is over the limit of 1073741824 (1 GiB)"},
		{"request ttl short", `{"version":1,"request_ttl_seconds":10}`, "request_ttl_seconds: 10 is under the minimum of 30"},
		{"request ttl long", `{"version":1,"request_ttl_seconds":86401}`, "request_ttl_seconds: 86401 is over the limit of 86400"},
		{"open requests zero", `{"version":1,"max_open_requests":0}`, "max_open_requests: 0 is under the minimum of 1"},
		{"open requests many", `{"version":1,"max_open_requests":101}`, "max_open_requests: 101 is over the limit of 100"},
		{"throttle failures zero", `{"version":1,"throttle":{"max_failures":0}}`, "throttle.max_failures: 0 is under the minimum of 1"},
		{"throttle window short", `{"version":1,"throttle":{"window_seconds":59}}`, "throttle.window_seconds: 59 is under the minimum of 60"},
		{"throttle lockout zero", `{"version":1,"throttle":{"lockout_seconds":0}}`, "throttle.lockout_seconds: 0 is under the minimum of 1"},
		{"throttle max lockout below lockout", `{"version":1,"throttle":{"lockout_seconds":600,"max_lockout_seconds":300}}`, "throttle.max_lockout_seconds: 300 is less than lockout_seconds 600"},
		{"throttle max lockout long", `{"version":1,"throttle":{"max_lockout_seconds":604801}}`, "throttle.max_lockout_seconds: 604801 is over the limit of 604800"},
		{"throttle NIST", `{"version":1,"throttle":{"max_consecutive_failures":500}}`, "throttle.max_consecutive_failures: 500 is over the limit of 100 (NIST SP 800-63B)"},
		{"throttle consecutive zero", `{"version":1,"throttle":{"max_consecutive_failures":0}}`, "throttle.max_consecutive_failures: 0 is under the minimum of 1"},
		{"port low", `{"version":1,"bridge_port":80}`, "bridge_port: 80 is under the minimum of 1024"},
		{"port high", `{"version":1,"bridge_port":65536}`, "bridge_port: 65536 is over the limit of 65535"},

		// Enumerations and lists.
		{"author mark no pattern", `{"version":1,"author_mark":{"hint":"x"}}`, "author_mark.pattern: missing"},
		{"author mark bad regex", `{"version":1,"author_mark":{"pattern":"[A-Z"}}`, `author_mark.pattern: "[A-Z" is not a valid regular expression`},
		{"author mark backreference", `{"version":1,"author_mark":{"pattern":"(a)\\1"}}`, "is not a valid regular expression"},
		{"author mark long", `{"version":1,"author_mark":{"pattern":"` + strings.Repeat("a", 501) + `"}}`, "author_mark.pattern: is 501 bytes, over the limit of 500"},
		{"author mark unknown key", `{"version":1,"author_mark":{"pattern":"x","regex":"y"}}`, "author_mark.regex: unknown key"},
		{"extension id short", `{"version":1,"extension_ids":["abc"]}`, `extension_ids[0]: "abc" is not an extension ID`},
		{"extension id letters", `{"version":1,"extension_ids":["ihfbgnbejlgnclbplbfoonjafbfokioz"]}`, `extension_ids[0]: "ihfbgnbejlgnclbplbfoonjafbfokioz" is not an extension ID`},
		{"extension id upper", `{"version":1,"extension_ids":["IHFBGNBEJLGNCLBPLBFOONJAFBFOKIOK"]}`, "is not an extension ID"},
		{"extension id duplicate", `{"version":1,"extension_ids":["khjidfhbpkegedbcgmbanfcppfhpdnkp","khjidfhbpkegedbcgmbanfcppfhpdnkp"]}`, "extension_ids[1]: \"khjidfhbpkegedbcgmbanfcppfhpdnkp\" is listed twice"},
		{"firefox id", `{"version":1,"firefox_extension_ids":["foureyes"]}`, `firefox_extension_ids[0]: "foureyes" is not a Firefox add-on ID`},
		{"firefox id bad guid", `{"version":1,"firefox_extension_ids":["{1234}"]}`, "is not a Firefox add-on ID"},
		{"mastodon url", `{"version":1,"mastodon_instances":["https://social.example"]}`, `mastodon_instances[0]: "https://social.example" is not a host name`},
		{"mastodon port", `{"version":1,"mastodon_instances":["social.example:443"]}`, "is not a host name"},
		{"mastodon empty", `{"version":1,"mastodon_instances":[""]}`, `mastodon_instances[0]: "" is not a host name`},
		{"mastodon hyphen", `{"version":1,"mastodon_instances":["-social.example"]}`, "is not a host name"},
		{"mastodon trailing dot", `{"version":1,"mastodon_instances":["social.example."]}`, "is not a host name"},
		{"mastodon unicode", `{"version":1,"mastodon_instances":["sozial.bürger.example"]}`, "is not a host name"},
		{"mastodon kelvin sign", `{"version":1,"mastodon_instances":["\u212a.example"]}`, "is not a host name"},
		{"mastodon duplicate by case", `{"version":1,"mastodon_instances":["social.example","Social.Example"]}`, `mastodon_instances[1]: "social.example" is listed twice`},
		{"description long", `{"version":1,"description":"` + strings.Repeat("a", 2001) + `"}`, "description: is 2001 bytes, over the limit of 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.policy))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", p)
			}
			if p != nil {
				t.Error("Parse returned a policy with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\n does not contain %q", err, tt.want)
			}
			if len(err.Error()) > 3000 {
				t.Errorf("error is %d bytes long; it should not echo large input", len(err.Error()))
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`{"version":1,"totp_skew_steps":9,"bridge_port":1,"max_open_requests":0}`))
	var ie *InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("want *InvalidError, got %T %v", err, err)
	}
	if len(ie.Problems) != 3 {
		t.Errorf("want 3 problems, got %q", ie.Problems)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, s := range []string{
		`{"version":1}`,
		` {"version": 1} ` + "\n",
		"\xef\xbb\xbf{\"version\":1}",
		`{"version":1,"$schema":"../policy.schema.json","description":"x"}`,
		`{"version":1,"accounts":{"mastodon:@press@social.example":{"approvers":["anna"]}}}`,
		`{"version":1,"accounts":{"x:@ministry":{}}}`,
		`{"version":1,"posting_hours":{"time_zone":"UTC","start":"00:00","end":"24:00"}}`,
		`{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","days":["sun"],"start":"07:00","end":"07:01","outside":"refuse"}}`,
		`{"version":1,"totp_skew_steps":0,"session_ttl_seconds":30,"request_ttl_seconds":86400,"max_open_requests":100}`,
		`{"version":1,"keep_media":true,"keep_media_max_bytes":1024}`,
		`{"version":1,"keep_media":true,"keep_media_max_bytes":1073741824}`,
		`{"version":1,"throttle":{"max_consecutive_failures":100,"lockout_seconds":3600,"max_lockout_seconds":3600}}`,
		`{"version":1,"extension_ids":[],"firefox_extension_ids":["{12345678-abcd-ABCD-1234-123456789abc}"]}`,
		`{"version":1,"mastodon_instances":["xn--brger-kva.example","mastodon.social"]}`,
		`{"version":1,"audit":{"syslog":false},"bridge_port":1024}`,
		`{"version":1,"author_mark":{"pattern":"\\^[A-Z]{2,3}$"}}`,
	} {
		p := mustParse(t, s)
		checkRoundTrip(t, p)
	}
}

func TestValidateGoBuiltPolicy(t *testing.T) {
	p := Default()
	p.PostingHours = &PostingHours{TimeZone: "Europe/Berlin", Days: []string{"mon"}, Start: "07:00", End: "20:00", Outside: OutsideRefuse}
	p.Throttle.MaxConsecutiveFailures = 101
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "throttle.max_consecutive_failures: 101 is over the limit of 100 (NIST SP 800-63B)") {
		t.Errorf("Validate = %v", err)
	}
	p.Throttle.MaxConsecutiveFailures = 100
	if err := p.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestAccountIDsFoldOnlyASCII(t *testing.T) {
	p := mustParse(t, `{"version":1,
		"accounts":{"x:@k":{"approvers":["anna"]},"x:@\u212a":{"approvers":["ben"]}},
		"default_approvers":["carla"]}`)
	if !p.MayApprove("x:@K", "anna") || p.MayApprove("x:@K", "ben") {
		t.Error("x:@K should be x:@k")
	}
	if !p.MayApprove("x:@\u212a", "ben") || p.MayApprove("x:@\u212a", "anna") {
		t.Error("the Kelvin sign must not fold to k")
	}
}

// Unknown keys, repeated keys and values of the wrong type do not hide each other, nor what
// validation finds in the rest of the file: a check names them all at once.
func TestParseReportsShapeAndValueProblemsTogether(t *testing.T) {
	_, err := Parse([]byte(`{"version":1,"bogus":1,"totp_skew_steps":"9","session_ttl_seconds":-1,
	  "throttle":{"max_failures":0,"nope":true,"window_seconds":60,"window_seconds":61},"posting_hours":{"time_zone":"Mars/Base","start":"08:00","end":"09:00"}}`))
	var ie *InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("want *InvalidError, got %T %v", err, err)
	}
	want := []string{
		"bogus: unknown key",
		"totp_skew_steps: expected a whole number, got a string",
		"throttle.nope: unknown key",
		"throttle.window_seconds: duplicate key",
		`posting_hours.time_zone: "Mars/Base" is not a known IANA time zone`,
		"session_ttl_seconds: -1 is under the minimum of 30",
		"throttle.max_failures: 0 is under the minimum of 1",
	}
	got := strings.Join(ie.Problems, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "totp_skew_steps: 1") || strings.Count(got, "totp_skew_steps") != 1 {
		t.Errorf("a value of the wrong type is reported once, not again by validation:\n%s", got)
	}
}

// Policy and enrolment take the same approver ids.
func TestApproverIDsAsEnrolmentTakesThem(t *testing.T) {
	for _, id := range []string{"anna", "anna.schmidt", "a", "0-x_y", "Anna", "anna schmidt", "-anna", "ä", strings.Repeat("a", 64), strings.Repeat("a", 65), "a/b"} {
		_, ref := rules.CheckApprover(rules.ApproverInput{ID: id, Name: "N"})
		enrol := ref == nil
		pol := checkApprovers("x", []string{id}) == nil
		if enrol != pol {
			t.Errorf("%q: enrolment takes it %v, the policy %v", id, enrol, pol)
		}
	}
}

func TestPolicyLengthBounds(t *testing.T) {
	for in, bad := range map[string]bool{
		`{"version":1,"extension_ids":["` + strings.Repeat("a", 32) + `"]}`:              false,
		`{"version":1,"extension_ids":["` + strings.Repeat("a", 31) + `"]}`:              true,
		`{"version":1,"extension_ids":["` + strings.Repeat("a", 33) + `"]}`:              true,
		`{"version":1,"mastodon_instances":["` + strings.Repeat("a", 63) + `.example"]}`: false,
		`{"version":1,"mastodon_instances":["` + strings.Repeat("a", 64) + `.example"]}`: true,
	} {
		if _, err := Parse([]byte(in)); (err != nil) != bad {
			t.Errorf("%s: %v", in, err)
		}
	}
}
