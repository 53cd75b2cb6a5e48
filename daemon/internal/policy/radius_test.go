package policy

import (
	"strings"
	"testing"
	"time"
)

func TestApproverCodesDefaultIsLocal(t *testing.T) {
	p, err := Parse([]byte(`{"version":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ApproverCodes != ApproverCodesLocal || p.Radius != nil {
		t.Fatalf("default: approver_codes %q, radius %+v", p.ApproverCodes, p.Radius)
	}
}

func TestRadiusDefaultsAndEveryKey(t *testing.T) {
	p, err := Parse([]byte(`{"version":1,"approver_codes":"radius","radius":{"servers":["otp1.example:1812","10.0.0.5:1812","[2001:db8::1]:1812"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Radius
	if p.ApproverCodes != ApproverCodesRadius || len(r.Servers) != 3 || r.Timeout() != 3*time.Second ||
		r.Retries != 1 || r.NASIdentifier != "foureyes" || r.ReplayWindow() != 300*time.Second {
		t.Fatalf("defaults: %+v", r)
	}
	p, err = Parse([]byte(`{"version":1,"approver_codes":"radius","radius":{"servers":["otp:1812"],"timeout_seconds":7,"retries":0,"nas_identifier":"press-laptop-3","replay_window_seconds":120}}`))
	if err != nil {
		t.Fatal(err)
	}
	r = p.Radius
	if r.Timeout() != 7*time.Second || r.Retries != 0 || r.NASIdentifier != "press-laptop-3" || r.ReplayWindow() != 120*time.Second {
		t.Fatalf("set: %+v", r)
	}
	// The effective policy as Marshal writes it parses back the same.
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(b)
	if err != nil || q.Radius.NASIdentifier != "press-laptop-3" || q.ApproverCodes != ApproverCodesRadius {
		t.Fatalf("round trip: %v %+v", err, q)
	}
}

func TestRadiusErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ policy, want string }{
		{`{"version":1,"approver_codes":"otp"}`, `approver_codes: "otp" is not one of local, radius`},
		{`{"version":1,"approver_codes":"radius"}`, `radius: missing: approver_codes "radius" needs`},
		{`{"version":1,"radius":{}}`, `radius.servers: must name at least one server`},
		{`{"version":1,"radius":{"servers":[]}}`, `radius.servers: must name at least one server`},
		{`{"version":1,"radius":{"servers":["otp.example"]}}`, `radius.servers[0]: "otp.example" is not host:port`},
		{`{"version":1,"radius":{"servers":["otp.example:0"]}}`, `is not host:port`},
		{`{"version":1,"radius":{"servers":["otp.example:70000"]}}`, `is not host:port`},
		{`{"version":1,"radius":{"servers":["bad host:1812"]}}`, `is not host:port`},
		{`{"version":1,"radius":{"servers":["a:1812","a:1812"]}}`, `radius.servers[1]: "a:1812" is listed twice`},
		{`{"version":1,"radius":{"servers":["a:1","a:2","a:3","a:4","a:5","a:6","a:7","a:8","a:9"]}}`, `radius.servers: 9 servers is over the limit of 8`},
		{`{"version":1,"radius":{"servers":["a:1812"],"timeout_seconds":0}}`, `radius.timeout_seconds: 0 is under the minimum of 1`},
		{`{"version":1,"radius":{"servers":["a:1812"],"timeout_seconds":31}}`, `radius.timeout_seconds: 31 is over the limit of 30`},
		{`{"version":1,"radius":{"servers":["a:1812"],"retries":6}}`, `radius.retries: 6 is over the limit of 5`},
		{`{"version":1,"radius":{"servers":["a:1812"],"retries":-1}}`, `radius.retries: -1 is under the minimum of 0`},
		{`{"version":1,"radius":{"servers":["a:1812"],"nas_identifier":""}}`, `radius.nas_identifier: "" is not a NAS-Identifier`},
		{`{"version":1,"radius":{"servers":["a:1812"],"nas_identifier":"a b"}}`, `radius.nas_identifier: "a b" is not a NAS-Identifier`},
		{`{"version":1,"radius":{"servers":["a:1812"],"replay_window_seconds":29}}`, `radius.replay_window_seconds: 29 is under the minimum of 30`},
		{`{"version":1,"radius":{"servers":["a:1812"],"secret":"x"}}`, `radius.secret: unknown key`},
	} {
		_, err := Parse([]byte(c.policy))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.policy, err, c.want)
		}
	}
}
