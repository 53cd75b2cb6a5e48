package audit

// Forwarding to the Windows Event Log (eventlog_windows.go): each record becomes one entry in
// the Application log under the source EventSource. The mapping is here, apart from Windows, so
// that it is tested everywhere.

// EventSource is the Event Log source the audit events are written under, registered by the
// MSI and by `foureyes service install` with EventCreate.exe as its message file.
const EventSource = "foureyes"

// Event IDs of the forwarded entries. EventCreate.exe, the source's message file, shows the text
// of an entry whose ID is 1 to 1000 as it is; these IDs let the Event Viewer, a subscription or
// a SIEM pick out the alarms (2) without reading the text.
const (
	EventIDInfo uint32 = 1 // an event of severity info: an Information entry
	EventIDHigh uint32 = 2 // an event of severity high (an alarm): a Warning entry
)

// eventLogEntry is what the Event Log gets for rec: its ID, whether it is a warning, and the
// text every forwarder sends (the summary, then the line; see forwardMessage), so that
// ForwardedText finds it in an export of the log.
func eventLogEntry(rec Record) (id uint32, warning bool, msg string) {
	if rec.Severity == SeverityHigh {
		return EventIDHigh, true, forwardMessage(rec)
	}
	return EventIDInfo, false, forwardMessage(rec)
}
