package tray

import (
	"strings"
	"testing"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/manifest"
)

func TestNotificationsFor(t *testing.T) {
	req := pending("r1", "Today the minister opens the new school in Nordstadt", 10*time.Minute)
	second := req
	second.ApprovalsNeeded, second.ApprovedBy = 2, []string{"press-ben"}
	denied := req
	denied.State = api.RequestDenied
	expired := req
	expired.State = api.RequestExpired
	sess := active("s1", "r1", 10*time.Minute)
	consumed := sess
	consumed.State = api.SessionConsumed
	withImages := pending("r2", "See page 12.", 10*time.Minute)
	withImages.Action = api.ActionReply
	withImages.Media = []manifest.Media{{SHA256: "e1bffab6c69f6107ab33c30cea9fd36d2f710586eb49c270ae63031a5af406bf", Size: 48213, Type: "image/png", Name: "chart.png"},
		{SHA256: "6e312f5d45f48a974de81caafb68aa33b81b0452f5be368570387828995e950c", Size: 1048576, Type: "image/jpeg", Name: "photo.jpg"}}
	withImages.Target = &manifest.Target{URL: "https://x.com/i/status/1234567890", Author: "@someone"}

	tests := []struct {
		name    string
		ev      api.Event
		title   string // "" means no notification
		body    []string
		urgency Urgency
	}{
		{"request waiting", api.Event{Kind: api.EventRequest, Time: t0, Request: &req},
			"Approval requested", []string{"anna asks to post on mastodon:ministry", "“Today the minister opens the new school in Nordstadt”", "Expires in 10 min"}, UrgencyNormal},
		{"request with images answering a post", api.Event{Kind: api.EventRequest, Time: t0, Request: &withImages},
			"Approval requested", []string{"anna asks to reply on mastodon:ministry", "with 2 images: chart.png 48 KB sha256 e1bffab6c69f…, photo.jpg 1.0 MB sha256 6e312f5d45f4…",
				"reply to @someone: https://x.com/i/status/1234567890", "Expires in 10 min"}, UrgencyNormal},
		{"second approver needed", api.Event{Kind: api.EventRequest, Time: t0, Request: &second},
			"Second approval needed", []string{"press-ben approved", "One more approver"}, UrgencyNormal},
		{"request denied", api.Event{Kind: api.EventRequest, Time: t0, Request: &denied},
			"Request denied", []string{"post on mastodon:ministry"}, UrgencyNormal},
		{"request expired is quiet", api.Event{Kind: api.EventRequest, Time: t0, Request: &expired}, "", nil, ""},
		{"request event without request", api.Event{Kind: api.EventRequest, Time: t0}, "", nil, ""},
		{"session issued", api.Event{Kind: api.EventSession, Time: t0, Session: &sess},
			"Posting session open", []string{"anna may reply once on x:ministry within 10 min", "Approved by press-ben"}, UrgencyNormal},
		{"session consumed is quiet", api.Event{Kind: api.EventSession, Time: t0, Session: &consumed}, "", nil, ""},
		{"post published", api.Event{Kind: api.EventPublished, Time: t0, Session: &consumed},
			"Published", []string{"reply on x:ministry went out"}, UrgencyLow},
		{"attempt blocked", api.Event{Kind: api.EventBlocked, Time: t0, Message: "x.com: no approved session"},
			"Publishing blocked", []string{"x.com: no approved session"}, UrgencyNormal},
		{"attempt blocked without a reason", api.Event{Kind: api.EventBlocked, Time: t0},
			"Publishing blocked", []string{"held back a post"}, UrgencyNormal},
		{"approver throttled", api.Event{Kind: api.EventThrottled, Time: t0, Approver: "press-ben", Message: "Locked out until 09:15."},
			"Approver throttled", []string{"approver press-ben", "Locked out until 09:15."}, UrgencyCritical},
		{"lock", api.Event{Kind: api.EventLock, Time: t0}, "Locked", []string{"revoked"}, UrgencyLow},
		{"status change is shown in the menu only", api.Event{Kind: api.EventStatus, Time: t0}, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NotificationsFor(tt.ev)
			if tt.title == "" {
				if len(got) != 0 {
					t.Fatalf("got %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d notifications, want 1", len(got))
			}
			n := got[0]
			if n.Title != tt.title || n.Urgency != tt.urgency {
				t.Errorf("got %q (%s), want %q (%s)", n.Title, n.Urgency, tt.title, tt.urgency)
			}
			for _, part := range tt.body {
				if !strings.Contains(n.Body, part) {
					t.Errorf("body %q lacks %q", n.Body, part)
				}
			}
		})
	}
}

func TestNotifyCommands(t *testing.T) {
	n := Notification{Title: "-T", Body: `say "hi" \ then
do shell script "rm"`, Urgency: UrgencyCritical}
	argv := notifySendCommand(n)
	want := []string{"notify-send", "--app-name=foureyes", "--urgency=critical", "--", "-T", n.Body}
	if strings.Join(argv, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("notify-send argv = %q", argv)
	}
	script := osascriptCommand(n)[2]
	wantScript := `display notification "say \"hi\" \\ then do shell script \"rm\"" with title "-T"`
	if script != wantScript {
		t.Errorf("osascript = %s\nwant       %s", script, wantScript)
	}
}
