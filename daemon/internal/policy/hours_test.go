package policy

import (
	"fmt"
	"testing"
	"time"
)

func hoursPolicy(t *testing.T, days, start, end string) *PostingHours {
	t.Helper()
	p := mustParse(t, fmt.Sprintf(`{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","days":%s,"start":%q,"end":%q}}`, days, start, end))
	return p.PostingHours
}

func TestWithinAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	local := func(y int, m time.Month, d, hh, mm, ss int) time.Time {
		return time.Date(y, m, d, hh, mm, ss, 0, berlin)
	}
	utc := func(y int, m time.Month, d, hh, mm, ss int) time.Time {
		return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
	}
	every := `["mon","tue","wed","thu","fri","sat","sun"]`
	office := hoursPolicy(t, every, "07:00", "20:00")
	workdays := hoursPolicy(t, `["mon","tue","wed","thu","fri"]`, "00:00", "24:00")
	// 02:00-03:00 does not exist on 29 March and happens twice on 25 October.
	night := hoursPolicy(t, every, "02:00", "02:30")
	lateNight := hoursPolicy(t, every, "02:30", "24:00")

	tests := []struct {
		name string
		h    *PostingHours
		at   time.Time
		want bool
	}{
		// Spring forward, Sunday 2026-03-29: 07:00 CEST is 05:00 UTC.
		{"spring 06:59:59 local", office, local(2026, 3, 29, 6, 59, 59), false},
		{"spring 07:00:00 local", office, local(2026, 3, 29, 7, 0, 0), true},
		{"spring 19:59:59 local", office, local(2026, 3, 29, 19, 59, 59), true},
		{"spring 20:00:00 local", office, local(2026, 3, 29, 20, 0, 0), false},
		{"spring 04:59:59 UTC", office, utc(2026, 3, 29, 4, 59, 59), false},
		{"spring 05:00:00 UTC", office, utc(2026, 3, 29, 5, 0, 0), true},
		{"spring 17:59:59 UTC", office, utc(2026, 3, 29, 17, 59, 59), true},
		{"spring 18:00:00 UTC", office, utc(2026, 3, 29, 18, 0, 0), false},
		// The day before, still CET: 07:00 is 06:00 UTC.
		{"day before spring 05:30 UTC", office, utc(2026, 3, 28, 5, 30, 0), false},
		{"day before spring 06:00 UTC", office, utc(2026, 3, 28, 6, 0, 0), true},
		{"day before spring 18:59:59 UTC", office, utc(2026, 3, 28, 18, 59, 59), true},
		{"day before spring 19:00 UTC", office, utc(2026, 3, 28, 19, 0, 0), false},
		// The missing hour: 01:59:59 CET is followed by 03:00:00 CEST.
		{"spring 01:59:59 CET before 02:30", lateNight, utc(2026, 3, 29, 0, 59, 59), false},
		{"spring 03:00:00 CEST after 02:30", lateNight, utc(2026, 3, 29, 1, 0, 0), true},
		{"spring 02:15 never happens", night, utc(2026, 3, 29, 1, 15, 0), false},

		// Fall back, Sunday 2026-10-25: 07:00 CET is 06:00 UTC.
		{"autumn 06:59:59 local", office, local(2026, 10, 25, 6, 59, 59), false},
		{"autumn 07:00:00 local", office, local(2026, 10, 25, 7, 0, 0), true},
		{"autumn 19:59:59 local", office, local(2026, 10, 25, 19, 59, 59), true},
		{"autumn 20:00:00 local", office, local(2026, 10, 25, 20, 0, 0), false},
		{"autumn 05:59:59 UTC", office, utc(2026, 10, 25, 5, 59, 59), false},
		{"autumn 06:00:00 UTC", office, utc(2026, 10, 25, 6, 0, 0), true},
		{"autumn 18:59:59 UTC", office, utc(2026, 10, 25, 18, 59, 59), true},
		{"autumn 19:00:00 UTC", office, utc(2026, 10, 25, 19, 0, 0), false},
		// The repeated hour counts both times, by the wall clock.
		{"autumn first 02:15 CEST", night, utc(2026, 10, 25, 0, 15, 0), true},
		{"autumn second 02:15 CET", night, utc(2026, 10, 25, 1, 15, 0), true},
		{"autumn second 02:30 CET", night, utc(2026, 10, 25, 1, 30, 0), false},
		{"autumn 01:59 CEST", night, utc(2026, 10, 24, 23, 59, 0), false},

		// Days of the week are the zone's, not UTC's.
		{"friday", workdays, local(2026, 3, 27, 12, 0, 0), true},
		{"saturday", workdays, local(2026, 3, 28, 12, 0, 0), false},
		{"sunday", workdays, local(2026, 3, 29, 12, 0, 0), false},
		{"friday 23:59:59 local", workdays, local(2026, 10, 23, 23, 59, 59), true},
		{"saturday 00:00 local", workdays, local(2026, 10, 24, 0, 0, 0), false},
		{"monday 00:30 Berlin is sunday in UTC", workdays, utc(2026, 3, 22, 23, 30, 0), true},
		{"saturday 00:30 Berlin is friday in UTC", workdays, utc(2026, 3, 27, 23, 30, 0), false},
		{"monday in New York time", office, time.Date(2026, 11, 23, 1, 0, 0, 0, mustZone(t, "America/New_York")), true}, // 07:00 Berlin
		{"sub-second before end", office, local(2026, 11, 23, 19, 59, 59).Add(999 * time.Millisecond), true},

		{"no posting hours", nil, local(2026, 3, 29, 3, 0, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Within(tt.at); got != tt.want {
				t.Errorf("Within(%s = %s) = %v, want %v", tt.at.UTC().Format(time.RFC3339), tt.at.In(berlin).Format("Mon 15:04:05 MST"), got, tt.want)
			}
		})
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestApprovalsNeeded(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	two := mustParse(t, `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:00","end":"20:00"}}`).PostingHours
	refuse := mustParse(t, `{"version":1,"posting_hours":{"time_zone":"Europe/Berlin","start":"07:00","end":"20:00","outside":"refuse"}}`).PostingHours
	if two.Outside != OutsideTwoApprovers {
		t.Errorf("outside defaults to %q", two.Outside)
	}
	if len(two.Days) != 5 {
		t.Errorf("days default to %v", two.Days)
	}
	in := time.Date(2026, 11, 23, 10, 0, 0, 0, berlin)  // Monday
	out := time.Date(2026, 11, 23, 21, 0, 0, 0, berlin) // Monday evening
	weekend := time.Date(2026, 11, 22, 10, 0, 0, 0, berlin)
	for _, tt := range []struct {
		h    *PostingHours
		at   time.Time
		want int
	}{
		{two, in, 1}, {two, out, 2}, {two, weekend, 2},
		{refuse, in, 1}, {refuse, out, 0}, {refuse, weekend, 0},
		{nil, out, 1},
	} {
		if got := tt.h.ApprovalsNeeded(tt.at); got != tt.want {
			t.Errorf("ApprovalsNeeded(%v) with %+v = %d, want %d", tt.at, tt.h, got, tt.want)
		}
	}
}

func TestWithinUnvalidated(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, mustZone(t, "Europe/Berlin"))
	ok := &PostingHours{TimeZone: "Europe/Berlin", Days: []string{"mon"}, Start: "07:00", End: "20:00"}
	if !ok.Within(at) {
		t.Error("hours built in Go should work without Validate")
	}
	// Hours that cannot be understood count as outside, so the stricter rule applies.
	for _, bad := range []*PostingHours{
		{TimeZone: "Nowhere/Else", Days: []string{"mon"}, Start: "07:00", End: "20:00"},
		{TimeZone: "Europe/Berlin", Days: []string{"mon"}, Start: "7", End: "20:00"},
		{TimeZone: "Europe/Berlin", Start: "07:00", End: "20:00"},
	} {
		if bad.Within(at) {
			t.Errorf("%+v: invalid hours reported as within", bad)
		}
	}
}
