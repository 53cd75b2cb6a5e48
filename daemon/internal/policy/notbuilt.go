package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"foureyes/daemon/internal/platforms"
)

// NotBuilt lists the top-level keys that earlier policy files could carry for features that are
// not built yet, each with what the file asked for. Parse accepts them so that a deployed file
// keeps loading, ignores their values, and reports them through Warnings; the schema no longer
// offers them. A key goes back into Policy, the schema and the docs only with the code that
// reads it.
var NotBuilt = map[string]string{
	"editorial_sites":            "trusting an editorial system's own approval flow",
	"actions_requiring_approval": "exempting some actions from approval (every post, reply, quote and repost needs one)",
}

// dropNotBuilt removes the keys of NotBuilt from the top-level object in data and returns the
// rest re-encoded, with the keys removed in file order. checkShape has already checked the
// syntax, duplicates and types, so re-encoding loses nothing an error message needs.
func dropNotBuilt(data []byte) ([]byte, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, nil, err
	}
	var out bytes.Buffer
	out.WriteByte('{')
	var dropped []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if _, gone := NotBuilt[key]; gone {
			dropped = append(dropped, key)
			continue
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(v)
	}
	out.WriteByte('}')
	return out.Bytes(), dropped, nil
}

// IgnoredKeys returns the keys of NotBuilt the parsed file had, in file order.
func (p *Policy) IgnoredKeys() []string { return slices.Clone(p.ignored) }

// Warnings lists what in a valid policy does not do what its author may expect: keys of
// features that are not built yet, and accounts on platforms foureyes does not govern (planned
// or unknown), whose rules apply to nothing until the platform is governed. `foureyes policy
// check` prints them; none makes the policy invalid.
func (p *Policy) Warnings() []string {
	var out []string
	for _, k := range p.ignored {
		out = append(out, fmt.Sprintf("%s is not built yet and is ignored (it asked for %s)", k, NotBuilt[k]))
	}
	if len(p.DefaultApprovers) == 0 {
		out = append(out, "default_approvers is empty: nobody may approve posts on accounts the policy does not list with approvers of their own")
	}
	keys := make([]string, 0, len(p.Accounts))
	for k := range p.Accounts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		platform, _, _ := strings.Cut(k, ":")
		if err := platforms.Governed(platform); err != nil {
			out = append(out, fmt.Sprintf("accounts[%q]: %v; its rules apply to nothing until it is", k, err))
		}
	}
	return append(out, p.OneTimeHeld()...)
}

// OneTimeHeld lists, for a top-level custody one_time, the governed platforms where it cannot
// run (their password change cannot run unattended) and the policy's accounts there: those are
// held at strict custody. The daemon also writes these into its policy_loaded audit line.
func (p *Policy) OneTimeHeld() []string {
	if p.Custody != CustodyOneTime {
		return nil
	}
	var out []string
	for _, pl := range platforms.All() {
		if !pl.Supported() || pl.RotatesUnattended() {
			continue
		}
		var named []string
		for k, a := range p.Accounts {
			if a.Custody == "" && accountPlatform(k) == pl.ID {
				named = append(named, k)
			}
		}
		slices.Sort(named)
		which := "accounts there"
		if len(named) > 0 {
			which = "accounts there (" + strings.Join(named, ", ") + ")"
		}
		out = append(out, fmt.Sprintf("custody one_time does not apply on %s: %s; %s are held at strict custody", pl.Name, oneTimeWhyNot(pl.ID), which))
	}
	return out
}

// oneTimeWhyNot says why custody one_time cannot run on platform.
func oneTimeWhyNot(platform string) string {
	pl, ok := platforms.Get(platform)
	switch {
	case !ok || !pl.Supported():
		return "foureyes does not govern that platform"
	case !pl.Rotatable:
		return "the platform table describes no change-password form for " + pl.Name
	}
	return "changing the password on " + pl.Name + " needs a person at the browser"
}
