package audit

import (
	"strings"
	"testing"
	"unicode/utf16"
)

// What the Windows Event Log gets for a record: an alarm is a Warning with ID 2, anything else
// Information with ID 1, both IDs EventCreate.exe shows as they are (1 to 1000), and the text
// the other forwarders send, whole, within what one Event Log string may hold.
func TestEventLogEntry(t *testing.T) {
	l, _ := openTemp(t, testOptions())
	info := mustAppend(t, l, Event{User: "anna", Event: "approved", Severity: SeverityInfo, Fields: map[string]any{FieldAccount: "press"}})
	high := mustAppend(t, l, Event{User: "bob", Event: "publish_mismatch", Severity: SeverityHigh,
		Fields: map[string]any{FieldText: strings.Repeat("\u00fc", 3*maxForwarded)}})
	for _, c := range []struct {
		rec     Record
		id      uint32
		warning bool
	}{{info, EventIDInfo, false}, {high, EventIDHigh, true}} {
		id, warning, msg := eventLogEntry(c.rec)
		if id != c.id || warning != c.warning {
			t.Errorf("%s (%s): ID %d, warning %v; want %d, %v", c.rec.Event, c.rec.Severity, id, warning, c.id, c.warning)
		}
		if id < 1 || id > 1000 {
			t.Errorf("%s: ID %d, which EventCreate.exe does not show as it is (1 to 1000)", c.rec.Event, id)
		}
		if msg != ForwardedText(c.rec) {
			t.Errorf("%s: the Event Log text is not the forwarded text that audit compare looks for", c.rec.Event)
		}
		// ReportEvent takes strings of at most 31,839 UTF-16 characters.
		if n := len(utf16.Encode([]rune(msg))); n > 31839 {
			t.Errorf("%s: %d UTF-16 characters, more than one Event Log string holds", c.rec.Event, n)
		}
	}
	if EventIDInfo == EventIDHigh {
		t.Error("alarms and other events share an ID")
	}
}
