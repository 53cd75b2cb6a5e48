package tray

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func healthy() api.Status {
	return api.Status{
		Version: "1.0.0", PolicySource: "/etc/foureyes/policy.json", AuditLog: "/home/p/.local/state/foureyes/audit.jsonl",
		Accounts: 2, Approvers: 1, Extensions: 1,
	}
}

func pending(id, text string, left time.Duration) api.Request {
	return api.Request{
		ID: id, Account: "mastodon:ministry", Action: api.ActionPost, Text: text, Requester: "anna",
		Created: t0.Add(-time.Minute), Expires: t0.Add(left), State: api.RequestPending, ApprovalsNeeded: 1,
	}
}

func active(id, reqID string, left time.Duration) api.Session {
	return api.Session{
		ID: id, RequestID: reqID, Account: "x:ministry", Action: api.ActionReply, Requester: "anna",
		ApprovedBy: []string{"press-ben"}, Issued: t0.Add(-time.Minute), Expires: t0.Add(left), State: api.SessionActive,
	}
}

func labels(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Label)
	}
	return out
}

func TestBuildMenu(t *testing.T) {
	approved := pending("r2", "Thanks for the question, we will answer tomorrow morning in detail", 5*time.Minute)
	approved.State = api.RequestApproved
	twoNeeded := pending("r3", "Late night statement", 9*time.Minute)
	twoNeeded.ApprovalsNeeded, twoNeeded.ApprovedBy = 2, []string{"press-ben"}
	expiredReq := pending("r4", "gone", -time.Second)
	spent := active("s2", "r2", 4*time.Minute)
	spent.State = api.SessionConsumed

	tests := []struct {
		name     string
		snap     Snapshot
		icon     IconState
		headline string
		problems []string
		entries  []string
		lock     bool
		ui       bool
	}{
		{
			name:     "ready and idle",
			snap:     Snapshot{Status: healthy(), UI: true},
			icon:     IconReady,
			headline: "Ready: no session open",
			entries:  []string{"No pending requests"},
			lock:     true, ui: true,
		},
		{
			name:     "ready with a request waiting",
			snap:     Snapshot{Status: healthy(), Requests: []api.Request{pending("r1", "Today the minister opens the new school in Nordstadt", 4*time.Minute+10*time.Second)}},
			icon:     IconReady,
			headline: "Ready: no session open · 1 request waiting",
			entries:  []string{"Waiting: mastodon:ministry · post · “Today the minister opens the new…” · 5 min left"},
			lock:     true,
		},
		{
			name:     "session open with minutes left",
			snap:     Snapshot{Status: healthy(), Requests: []api.Request{approved}, Sessions: []api.Session{active("s1", "r2", 7*time.Minute)}},
			icon:     IconSession,
			headline: "Session open: x:ministry · 7 min left",
			entries:  []string{"Open: x:ministry · reply · “Thanks for the question, we will…” · 7 min left"},
			lock:     true,
		},
		{
			name: "two sessions, soonest first, and a request needing a second approver",
			snap: Snapshot{Status: healthy(), Requests: []api.Request{twoNeeded},
				Sessions: []api.Session{active("s1", "gone", 9*time.Minute), active("s2", "gone", 30*time.Second)}},
			icon:     IconSession,
			headline: "2 sessions open · next ends in <1 min",
			entries: []string{
				"Open: x:ministry · reply · <1 min left",
				"Open: x:ministry · reply · 9 min left",
				"Waiting: mastodon:ministry · post · “Late night statement” · 1 of 2 approvals · 9 min left",
			},
			lock: true,
		},
		{
			name:     "locked after lock now",
			snap:     Snapshot{Status: healthy(), Locked: true, Sessions: []api.Session{spent}, Requests: []api.Request{expiredReq}},
			icon:     IconLocked,
			headline: "Locked: all sessions revoked",
			entries:  []string{"No pending requests"},
			lock:     true,
		},
		{
			name:     "keyring locked outranks an open session",
			snap:     Snapshot{Status: func() api.Status { s := healthy(); s.KeyringError = "failed to unlock correct collection"; return s }(), Sessions: []api.Session{active("s1", "", 3*time.Minute)}},
			icon:     IconProblem,
			headline: "Needs attention",
			problems: []string{"Keyring locked or unavailable"},
			entries:  []string{"Open: x:ministry · reply · 3 min left"},
			lock:     true,
		},
		{
			name:     "audit log unwritable",
			snap:     Snapshot{Status: func() api.Status { s := healthy(); s.AuditError = "disk full"; return s }()},
			icon:     IconProblem,
			headline: "Needs attention",
			problems: []string{"Audit log cannot be written"},
			entries:  []string{"No pending requests"},
			lock:     true,
		},
		{
			name:     "policy invalid",
			snap:     Snapshot{Status: func() api.Status { s := healthy(); s.PolicyError = "unknown field \"ttl\""; return s }()},
			icon:     IconProblem,
			headline: "Needs attention",
			problems: []string{"Policy invalid"},
			entries:  []string{"No pending requests"},
			lock:     true,
		},
		{
			name:     "extension not connected",
			snap:     Snapshot{Status: func() api.Status { s := healthy(); s.Extensions = 0; return s }()},
			icon:     IconProblem,
			headline: "Needs attention",
			problems: []string{"Browser extension not connected"},
			entries:  []string{"No pending requests"},
			lock:     true,
		},
		{
			name: "several problems at once",
			snap: Snapshot{Status: api.Status{KeyringError: "x", AuditError: "y", PolicyError: "z"}, Locked: true},
			icon: IconProblem, headline: "Needs attention: 4 problems",
			problems: []string{"Keyring locked or unavailable", "Audit log cannot be written", "Policy invalid", "Browser extension not connected"},
			entries:  []string{"No pending requests"},
			lock:     true,
		},
		{
			name:     "daemon not reachable hides stale state and disables actions",
			snap:     Snapshot{Status: healthy(), StatusErr: "dial unix: no such file", UI: true},
			icon:     IconProblem,
			headline: "Needs attention",
			problems: []string{"Daemon not reachable"},
			entries:  []string{"No pending requests"},
			lock:     false, ui: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := BuildMenu(tt.snap, t0)
			if m.Icon != tt.icon {
				t.Errorf("icon = %s, want %s", m.Icon, tt.icon)
			}
			if m.Headline.Label != tt.headline {
				t.Errorf("headline = %q, want %q", m.Headline.Label, tt.headline)
			}
			wantTip := "foureyes: " + tt.headline
			if len(tt.problems) == 1 {
				wantTip += ": " + tt.problems[0]
			}
			if m.Tooltip != wantTip {
				t.Errorf("tooltip = %q, want %q", m.Tooltip, wantTip)
			}
			if got := strings.Join(labels(m.Problems), "|"); got != strings.Join(tt.problems, "|") {
				t.Errorf("problems = %q, want %q", got, tt.problems)
			}
			if got := strings.Join(labels(m.Entries), "|"); got != strings.Join(tt.entries, "|") {
				t.Errorf("entries =\n %q\nwant\n %q", labels(m.Entries), tt.entries)
			}
			if m.Lock.Enabled != tt.lock || m.Lock.Action != ActionLock {
				t.Errorf("lock = %+v, want enabled %v", m.Lock, tt.lock)
			}
			if m.Enrol.Enabled != tt.ui || m.Accounts.Enabled != tt.ui {
				t.Errorf("enrol/accounts enabled = %v/%v, want %v", m.Enrol.Enabled, m.Accounts.Enabled, tt.ui)
			}
			if !m.Quit.Enabled || m.Quit.Action != ActionQuit {
				t.Errorf("quit = %+v", m.Quit)
			}
			for _, p := range m.Problems {
				if p.Enabled || p.Tooltip == "" {
					t.Errorf("problem %q: enabled %v, tooltip %q", p.Label, p.Enabled, p.Tooltip)
				}
			}
		})
	}
}

func TestBuildMenuCapsEntries(t *testing.T) {
	s := Snapshot{Status: healthy()}
	for i := range 12 {
		s.Requests = append(s.Requests, pending(fmt.Sprint("r", i), "text", time.Duration(i+1)*time.Minute))
	}
	m := BuildMenu(s, t0)
	if len(m.Entries) != MaxEntries {
		t.Fatalf("%d entries, want %d", len(m.Entries), MaxEntries)
	}
	if last := m.Entries[MaxEntries-1]; last.Label != "…and 5 more" || last.Action != ActionNone {
		t.Errorf("last entry = %+v", last)
	}
	if first := m.Entries[0]; first.Ref != "r0" || first.Action != ActionShow || !first.Enabled {
		t.Errorf("first entry = %+v, want the soonest to expire, clickable", first)
	}
}

func TestBuildMenuAbout(t *testing.T) {
	st := healthy()
	st.PolicyError = "unknown field"
	st.PolicySource = "embedded default"
	m := BuildMenu(Snapshot{Status: st, Version: "tray-1"}, t0)
	want := []string{"foureyes 1.0.0", "Policy: embedded default", "Policy error: unknown field", "2 accounts · 1 approver", "Audit log: /home/p/.local/state/foureyes/audit.jsonl"}
	if got := labels(m.About); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("about = %q, want %q", got, want)
	}
	if len(m.About) > MaxAbout {
		t.Errorf("about has %d lines, more than %d", len(m.About), MaxAbout)
	}
	st.PolicyError = "accounts: " + strings.Repeat("ä", 60)
	m = BuildMenu(Snapshot{Status: st}, t0)
	if got, want := m.About[2].Label, "Policy error: accounts: "+strings.Repeat("ä", 50)+"…"; got != want || m.About[2].Tooltip != st.PolicyError {
		t.Errorf("long policy error = %q (tooltip %q), want %q with the whole error as tooltip", got, m.About[2].Tooltip, want)
	}
	m = BuildMenu(Snapshot{StatusErr: "down", Version: "tray-1"}, t0)
	if got := labels(m.About); len(got) != 1 || got[0] != "foureyes tray-1" {
		t.Errorf("about while unreachable = %q", got)
	}
	if m.Audit.Enabled {
		t.Error("audit trail enabled without a known log")
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "<1 min"}, {59 * time.Second, "<1 min"}, {time.Minute, "1 min"},
		{61 * time.Second, "2 min"}, {10 * time.Minute, "10 min"}, {75 * time.Minute, "1 h 15 min"},
	}
	for _, tt := range tests {
		if got := duration(tt.d); got != tt.want {
			t.Errorf("duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
