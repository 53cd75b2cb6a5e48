package policy

import (
	"testing"
	"time"
)

func TestNextOpen(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	h := &PostingHours{TimeZone: "Europe/Berlin", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "07:00", End: "20:00", Outside: OutsideRefuse}
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"inside: now", time.Date(2026, 11, 23, 10, 0, 0, 0, berlin), time.Date(2026, 11, 23, 10, 0, 0, 0, berlin)},
		{"early morning: today's start", time.Date(2026, 11, 23, 6, 59, 0, 0, berlin), time.Date(2026, 11, 23, 7, 0, 0, 0, berlin)},
		{"evening: tomorrow's start", time.Date(2026, 11, 23, 20, 0, 0, 0, berlin), time.Date(2026, 11, 24, 7, 0, 0, 0, berlin)},
		{"friday night: monday", time.Date(2026, 11, 27, 21, 0, 0, 0, berlin), time.Date(2026, 11, 30, 7, 0, 0, 0, berlin)},
		{"saturday: monday", time.Date(2026, 11, 28, 12, 0, 0, 0, berlin), time.Date(2026, 11, 30, 7, 0, 0, 0, berlin)},
		{"across the spring DST change", time.Date(2026, 3, 27, 21, 0, 0, 0, berlin), time.Date(2026, 3, 30, 7, 0, 0, 0, berlin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.NextOpen(tt.at); !got.Equal(tt.want) {
				t.Errorf("NextOpen(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
	if got := (&PostingHours{TimeZone: "UTC", Days: []string{}, Start: "07:00", End: "08:00"}).NextOpen(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("no posting days: NextOpen = %v, want never", got)
	}
}
