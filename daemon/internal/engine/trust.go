package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/rules"
)

// Who may approve, and which accounts are in custody, is the trust root. The trail says how it
// came to be; the state file only remembers it. Both are checked against each other at every
// start: an approver or account in the state file that the trail never saw enrolled or added
// was put there by hand, while the daemon was stopped, and may do nothing until a second
// approver accepts it.

// rulesApprovers is every enrolled approver as the rules see them, in id order. Callers hold mu.
func (e *Engine) rulesApprovers() []rules.Approver {
	recs := slices.SortedFunc(maps.Values(e.st.Approvers), func(a, b *approverRec) int { return strings.Compare(a.ID, b.ID) })
	out := make([]rules.Approver, len(recs))
	for i, r := range recs {
		out[i] = r.rules()
	}
	return out
}

// authorise checks a change to who may approve: the rules say whether it needs a second
// approver's code (and whose may count), and the code is checked here like any other. It
// returns the audit fields that say who vouched, or that this was the bootstrap. A refusal is
// recorded (self-vouching is an alarm) and a wrong code counts against by. Callers hold mu,
// inside t.
func (e *Engine) authorise(t *tx, kind rules.TrustKind, target string, by api.Authority, sec secretRead) (map[string]any, error) {
	boot, d := rules.CheckTrustChange(rules.TrustChange{Kind: kind, Target: target, By: by.Approver, Caller: t.c.OSUser, InTrail: len(e.inTrail)}, e.rulesApprovers())
	if !d.Allowed() {
		t.decided(d, map[string]any{"target": target, "change": string(kind), "authorised_by": by.Approver, "reason": string(d.Refusal.Code)})
		return nil, t.refuse(d.Refusal)
	}
	switch {
	case boot:
		return map[string]any{"bootstrap": true}, nil
	case by.Approver == "" || (kind == rules.TrustRemove && !e.counts(target)):
		return map[string]any{}, nil // nothing to vouch for
	}
	if !rules.WellFormedCode(by.Code) {
		return nil, api.Errorf(api.CodeBadRequest, "the code of approver %s must be the 6 digits their app shows", by.Approver)
	}
	if err := e.checkCode(t, e.st.Approvers[by.Approver], sec, by.Code,
		map[string]any{"approver": by.Approver, "purpose": "authorise " + string(kind), "target": target}); err != nil {
		return nil, err
	}
	return map[string]any{"authorised_by": by.Approver}, nil
}

// counts reports whether approver id exists, is confirmed and is in the trail. Callers hold mu.
func (e *Engine) counts(id string) bool {
	r, ok := e.st.Approvers[id]
	return ok && r.Confirmed && !r.Unverified
}

// readAuthority reads the vouching approver's secret before the lock, like readSecret.
func (e *Engine) readAuthority(by api.Authority) secretRead {
	if by.Approver == "" {
		return secretRead{}
	}
	return e.readSecret(by.Approver)
}

func (v *ownerView) AcceptApprover(ctx context.Context, id string, by api.Authority) (api.Approver, error) {
	e := v.e
	sec := e.readAuthority(by)
	var out api.Approver
	err := e.run(v.c, func(t *tx) error {
		rec, err := e.approver(id)
		if err != nil {
			return err
		}
		if !rec.Unverified {
			return api.Errorf(api.CodeExists, "approver %s is in the audit trail already: there is nothing to accept", id)
		}
		f, err := e.authorise(t, rules.TrustAdopt, id, by, sec)
		if err != nil {
			return err
		}
		set(t, &rec.Unverified, false)
		put(t, e.inTrail, id, true)
		t.persist()
		f["approver"], f["name"], f["approver_os_user"], f["confirmed"] = id, rec.Name, rec.OSUser, rec.Confirmed
		t.record("approver_accepted", rules.High, f)
		t.notify(api.Event{Kind: api.EventStatus, Approver: id, Message: "approver accepted"})
		out = rec.public()
		return nil
	})
	return out, err
}

func (v *ownerView) AcceptAccount(ctx context.Context, id string, by api.Authority) (api.Account, error) {
	e := v.e
	sec := e.readAuthority(by)
	var out api.Account
	err := e.run(v.c, func(t *tx) error {
		acc, err := e.account(id)
		if err != nil {
			return err
		}
		if !acc.Unverified {
			return api.Errorf(api.CodeExists, "account %s is in the audit trail already: there is nothing to accept", id)
		}
		// An account is not an approver, but taking one into custody by hand is the same kind
		// of act: a second approver vouches for it.
		f, err := e.authorise(t, rules.TrustAdopt, "", by, sec)
		if err != nil {
			return err
		}
		set(t, &acc.Unverified, false)
		t.persist()
		f["account"], f["platform"], f["username"], f["has_2fa"] = id, acc.Platform, acc.Username, acc.Has2FA
		t.record("account_accepted", rules.High, f)
		t.notify(api.Event{Kind: api.EventStatus, Message: "account accepted"})
		out = *acc
		return nil
	})
	return out, err
}

// trailFacts is what the audit trail says about the trust root: which approvers are enrolled
// (as whom, and whether confirmed since their last enrolment) and which accounts are in custody.
type trailFacts struct {
	approvers map[string]trailApprover
	accounts  map[string]bool
	lines     uint64 // lines read, to tell an empty or missing trail
	lastEvent string // the last line's event: daemon_stopped after a clean stop
}

type trailApprover struct {
	confirmed    bool
	name, osUser string
}

// trustEvents are the lines that change the trust root; a line that names none of them is
// skipped without decoding, so the start stays fast on a long trail.
var trustEvents = [][]byte{
	[]byte(`"event":"approver_`), []byte(`"event":"account_`),
}

// maxTrailLine bounds one line read from the trail (the audit log's own limit).
const maxTrailLine = 4 << 20

// readTrail reads the trust root's history from the trail at path. Lines that do not parse are
// skipped: proving the chain is audit verify's job, and a start must not hinge on it.
func readTrail(path string) (trailFacts, error) {
	tf := trailFacts{approvers: map[string]trailApprover{}, accounts: map[string]bool{}}
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return tf, nil
		}
		return tf, fmt.Errorf("reading the audit trail to check the state file: %w", err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 64<<10)
	var long, last []byte
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line (a long post, or a long name): read it whole, up to the log's limit.
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				if len(long) <= maxTrailLine {
					long = append(long, line...)
				}
			}
			line = long
		}
		if len(line) > 0 {
			tf.lines++
			last = append(last[:0], line...)
			if slices.ContainsFunc(trustEvents, func(k []byte) bool { return bytes.Contains(line, k) }) {
				if rec, perr := audit.ParseRecord(bytes.TrimSuffix(line, []byte{'\n'})); perr == nil {
					tf.apply(rec)
				}
			}
		}
		if err == io.EOF {
			if rec, perr := audit.ParseRecord(bytes.TrimSuffix(last, []byte{'\n'})); perr == nil {
				tf.lastEvent = rec.Event
			}
			return tf, nil
		}
		if err != nil {
			return tf, fmt.Errorf("reading the audit trail %s: %w", path, err)
		}
	}
}

func (tf *trailFacts) apply(rec audit.Record) {
	s := func(k string) string { v, _ := rec.Fields[k].(string); return v }
	id := s("approver")
	switch rec.Event {
	case "approver_enrolled", "approver_reenrolled":
		tf.approvers[id] = trailApprover{name: s("name"), osUser: s("approver_os_user")}
	case "approver_confirmed":
		if a, ok := tf.approvers[id]; ok {
			a.confirmed = true
			tf.approvers[id] = a
		}
	case "approver_accepted":
		tf.approvers[id] = trailApprover{confirmed: rec.Fields["confirmed"] == true, name: s("name"), osUser: s("approver_os_user")}
	case "approver_removed":
		delete(tf.approvers, id)
	case "account_added", "account_accepted":
		tf.accounts[s("account")] = true
	case "account_removed":
		delete(tf.accounts, s("account"))
	}
}

// checkTrail marks the approvers and accounts the trail does not account for as unverified and
// records an alarm for each, and for each the trail has that the state file lost. Callers hold
// mu, inside t.
func (e *Engine) checkTrail(t *tx, tf trailFacts) {
	empty := ""
	if tf.lines == 0 {
		empty = " (the audit trail is empty or missing)"
	}
	for _, id := range slices.Sorted(maps.Keys(e.st.Approvers)) {
		rec := e.st.Approvers[id]
		ta, inTrail := tf.approvers[id]
		why := ""
		switch {
		case rec.ID != id:
			why = fmt.Sprintf("the state file lists this approver under another id (%q)", rec.ID)
		case !inTrail:
			why = "the audit trail has no enrolment of this approver" + empty
		case rec.Confirmed && !ta.confirmed:
			why = "the state file says confirmed, but the audit trail has no confirmation since the last enrolment"
		case !rec.Confirmed && ta.confirmed:
			why = "the state file says pending, but the audit trail has the confirmation"
		case rec.OSUser != ta.osUser:
			// The self-approval rule rests on this mapping.
			why = fmt.Sprintf("the state file maps this approver to OS user %q, the audit trail to %q", rec.OSUser, ta.osUser)
		case rec.Name != ta.name:
			why = fmt.Sprintf("the state file names this approver %q, the audit trail %q", rec.Name, ta.name)
		}
		if why == "" {
			if rec.Unverified {
				set(t, &rec.Unverified, false) // accepted since, or the trail was put back
				t.persist()
			}
			continue
		}
		if !rec.Unverified {
			set(t, &rec.Unverified, true)
			t.persist()
		}
		t.record("approver_unverified", rules.High, map[string]any{"approver": id, "name": rec.Name,
			"approver_os_user": rec.OSUser, "confirmed": rec.Confirmed, "reason": why})
	}
	e.inTrail = map[string]bool{}
	for id := range tf.approvers {
		e.inTrail[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(tf.approvers)) {
		if _, ok := e.st.Approvers[id]; !ok {
			t.record("approver_missing", rules.High, map[string]any{"approver": id,
				"reason": "the audit trail enrolled this approver, but the state file does not have them"})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(e.st.Accounts)) {
		acc := e.st.Accounts[id]
		if tf.accounts[id] && acc.ID == id {
			if acc.Unverified {
				set(t, &acc.Unverified, false)
				t.persist()
			}
			continue
		}
		why := "the audit trail has no account_added line for this account" + empty
		if acc.ID != id {
			why = fmt.Sprintf("the state file lists this account under another id (%q)", acc.ID)
		}
		if !acc.Unverified {
			set(t, &acc.Unverified, true)
			t.persist()
		}
		t.record("account_unverified", rules.High, map[string]any{"account": id, "platform": acc.Platform,
			"username": acc.Username, "reason": why})
	}
	for _, id := range slices.Sorted(maps.Keys(tf.accounts)) {
		if _, ok := e.st.Accounts[id]; !ok {
			t.record("account_missing", rules.High, map[string]any{"account": id,
				"reason": "the audit trail added this account, but the state file does not have it"})
		}
	}
}
