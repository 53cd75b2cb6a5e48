package policy

import "time"

// NextOpen returns when posting hours begin at or after t: t itself when it is inside them,
// else the next start. The zero time means never (no day is a posting day).
func (h *PostingHours) NextOpen(t time.Time) time.Time {
	if h == nil || h.Within(t) {
		return t
	}
	c := h.compiled
	if c == nil {
		var e *fieldError
		if c, e = h.compile(); e != nil {
			return time.Time{}
		}
	}
	local := t.In(c.loc)
	for d := 0; d <= 7; d++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+d, 0, 0, 0, 0, c.loc)
		if !c.days[day.Weekday()] {
			continue
		}
		// Wall clock time: time.Date resolves a start inside a DST gap to a real instant.
		start := time.Date(day.Year(), day.Month(), day.Day(), c.start/60, c.start%60, 0, 0, c.loc)
		if start.After(t) {
			return start
		}
	}
	return time.Time{}
}
