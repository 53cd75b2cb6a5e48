package policy

import (
	"fmt"
	"slices"
	"time"

	// Windows and minimal containers have no zoneinfo; the policy names IANA zones anyway.
	_ "time/tzdata"
)

// Day names as policy files write them, indexed by time.Weekday.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// PostingHours are the hours in which one approval suffices.
type PostingHours struct {
	// TimeZone is an IANA zone such as "Europe/Berlin"; hours are wall clock time there.
	TimeZone string `json:"time_zone"`
	// Days are "mon".."sun"; default Monday to Friday.
	Days []string `json:"days"`
	// Start is inclusive, "HH:MM".
	Start string `json:"start"`
	// End is exclusive, "HH:MM" up to "24:00".
	End string `json:"end"`
	// Outside is what applies outside the hours: OutsideTwoApprovers (default) or OutsideRefuse.
	Outside string `json:"outside"`

	compiled *hours
}

// hours is PostingHours in a form Within can use directly.
type hours struct {
	loc        *time.Location
	days       [7]bool
	start, end int // minutes after midnight, wall clock
}

var defaultDays = []string{"mon", "tue", "wed", "thu", "fri"}

// UnmarshalJSON fills in the defaults of keys the file leaves out.
func (h *PostingHours) UnmarshalJSON(b []byte) error {
	type plain PostingHours
	v := plain{Days: slices.Clone(defaultDays), Outside: OutsideTwoApprovers}
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	*h = PostingHours(v)
	return nil
}

// Within reports whether t falls inside the posting hours. Nil posting hours have no limit.
// Policies that did not pass Validate are checked as written; one that cannot be understood is
// outside, so the stricter rule applies.
func (h *PostingHours) Within(t time.Time) bool {
	if h == nil {
		return true
	}
	c := h.compiled
	if c == nil {
		var e *fieldError
		if c, e = h.compile(); e != nil {
			return false
		}
	}
	local := t.In(c.loc)
	if !c.days[local.Weekday()] {
		return false
	}
	// Wall clock minutes, not time since midnight: on DST days the two differ by an hour.
	m := local.Hour()*60 + local.Minute()
	return m >= c.start && m < c.end
}

// ApprovalsNeeded is how many approvers a request made at t needs, or 0 if policy refuses it.
func (h *PostingHours) ApprovalsNeeded(t time.Time) int {
	if h.Within(t) {
		return 1
	}
	if h.Outside == OutsideRefuse {
		return 0
	}
	// Anything else, including hours built in Go without Outside, asks for the second approver.
	return 2
}

func (h *PostingHours) compile() (*hours, *fieldError) {
	c := &hours{}
	switch h.TimeZone {
	case "":
		return nil, fe("time_zone", "missing: name an IANA time zone such as \"Europe/Berlin\"")
	case "Local":
		return nil, fe("time_zone", "\"Local\" depends on the laptop's setting: name an IANA time zone such as \"Europe/Berlin\"")
	}
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil {
		return nil, fe("time_zone", fmt.Sprintf("%q is not a known IANA time zone", h.TimeZone))
	}
	c.loc = loc
	if len(h.Days) == 0 {
		return nil, fe("days", "must name at least one day")
	}
	for i, d := range h.Days {
		n := slices.Index(dayNames[:], d)
		if n < 0 {
			return nil, fe(fmt.Sprintf("days[%d]", i), fmt.Sprintf("%q is not one of mon, tue, wed, thu, fri, sat, sun", d))
		}
		if c.days[n] {
			return nil, fe(fmt.Sprintf("days[%d]", i), fmt.Sprintf("%q is listed twice", d))
		}
		c.days[n] = true
	}
	var ok bool
	if c.start, ok = parseHHMM(h.Start); !ok || c.start >= 24*60 {
		return nil, fe("start", fmt.Sprintf("%q is not HH:MM", h.Start))
	}
	if c.end, ok = parseHHMM(h.End); !ok {
		return nil, fe("end", fmt.Sprintf("%q is not HH:MM (up to 24:00)", h.End))
	}
	if c.start >= c.end {
		return nil, fe("end", fmt.Sprintf("%q is not after start %q (hours cannot span midnight)", h.End, h.Start))
	}
	return c, nil
}

// check validates the hours, including what Within does not need.
func (h *PostingHours) check() (*hours, *fieldError) {
	switch h.Outside {
	case OutsideTwoApprovers, OutsideRefuse:
	default:
		return nil, fe("outside", fmt.Sprintf("%q is not %q or %q", h.Outside, OutsideTwoApprovers, OutsideRefuse))
	}
	return h.compile()
}

// parseHHMM parses "HH:MM" from 00:00 to 24:00 into minutes after midnight.
func parseHHMM(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}
