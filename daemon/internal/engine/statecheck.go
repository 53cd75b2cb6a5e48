package engine

import (
	"fmt"
	"maps"
	"slices"
)

// checkState refuses a state file whose entries the engine cannot use: an empty entry, or one
// filed under another name than its own (the replay protection and the throttle are kept per
// approver, so a record must be found under its own ID only). Such a file was edited by hand or
// damaged; guessing what it meant would fail open.
func (e *Engine) checkState() error {
	damaged := func(what string) error {
		return fmt.Errorf("state file %s is damaged (%s): restore it from a backup (moved aside, every approver and account is lost, and the audit trail still lists them, so no approver can be enrolled without IT)", e.statePath(), what)
	}
	for _, id := range slices.Sorted(maps.Keys(e.st.Approvers)) {
		switch rec := e.st.Approvers[id]; {
		case rec == nil:
			return damaged(fmt.Sprintf("approver %q has no record", id))
		case rec.ID != id:
			return damaged(fmt.Sprintf("approver %q has the record of %q", id, rec.ID))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(e.st.Accounts)) {
		switch a := e.st.Accounts[id]; {
		case a == nil:
			return damaged(fmt.Sprintf("account %q has no record", id))
		case a.ID != id:
			return damaged(fmt.Sprintf("account %q has the record of %q", id, a.ID))
		}
	}
	return nil
}
