package engine

import (
	"context"
	"strings"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/textclip"
)

// ReportUnrecognised records a publishing request that the network gate stopped and the page
// gate did not hold back, so IT learns that the platform table needs an update. The rules
// decide the severity and the rate limit; a report the limit refuses is no error (the
// extension cannot do anything about it) and is counted in the next line written.
func (v *staffView) ReportUnrecognised(ctx context.Context, u api.Unrecognised) error {
	e := v.e
	if u.Platform == "" || u.Host == "" || u.Method == "" {
		return api.Errorf(api.CodeBadRequest, "an unrecognised-publish report needs platform, host and method")
	}
	platform, host := textclip.Line(u.Platform, 64), textclip.Line(strings.ToLower(u.Host), 253)
	key := strings.Join([]string{v.c.OSUser, textclip.Line(u.Tab, 16), platform, host}, "|")
	return e.run(v.c, func(t *tx) error {
		nl, d, suppressed := rules.Unrecognised(e.unrecognised, key, t.now)
		// Undone with the rest if the line cannot be written: the next report tries again.
		set(t, &e.unrecognised, nl)
		f := map[string]any{"platform": platform, "host": host, "method": textclip.Line(u.Method, 16),
			"path": textclip.Line(u.Path, 512), "transport": v.c.Via}
		if suppressed > 0 {
			f["suppressed"] = suppressed
		}
		t.decided(d, f)
		if d.Event != "" {
			t.notify(api.Event{Kind: api.EventBlocked, Message: host + ": a publishing request the platform table does not describe was stopped; the table needs an update"})
		}
		return nil
	})
}
