package rules

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"foureyes/daemon/internal/api"
)

var (
	// The lengths are checked apart (shorter): a bounded repetition such as {0,63} compiles
	// into a program as long as the bound, which the daemon would hold all day.
	platformRE   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	handleRE     = regexp.MustCompile(`^[^\s:]+$`)
	approverIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// AccountInput is an account to take into custody, as typed.
type AccountInput struct {
	Platform, Handle, Username, Password, TOTPSeed string
}

// CheckAccount normalises an account's input and refuses what is malformed. The platform's
// table entry is checked by the caller (the platform table is data, not a rule). The returned
// ID is "platform:handle".
func CheckAccount(in AccountInput) (AccountInput, string, *Refusal) {
	in.Platform = strings.ToLower(strings.TrimSpace(in.Platform))
	in.Handle = strings.TrimSpace(in.Handle)
	in.Username = strings.TrimSpace(in.Username)
	switch {
	case len(in.Platform) > 32 || !platformRE.MatchString(in.Platform):
		return in, "", refuse(api.CodeBadRequest, "platform_syntax", Facts{Value: in.Platform})
	case utf8.RuneCountInString(in.Handle) > 200 || !handleRE.MatchString(in.Handle):
		return in, "", refuse(api.CodeBadRequest, "handle_syntax", Facts{Value: in.Handle})
	case in.Username == "":
		return in, "", refuse(api.CodeBadRequest, "username_missing", Facts{})
	case in.Password == "":
		return in, "", refuse(api.CodeBadRequest, "password_missing", Facts{})
	}
	if in.TOTPSeed != "" {
		// Every white space goes, not only spaces: a seed copied from a setup page may come in
		// groups over several lines, and one that kept a line break would be stored as typed.
		seed := strings.ToUpper(strings.Join(strings.Fields(in.TOTPSeed), ""))
		if _, err := CodeAt(seed, 0); err != nil {
			return in, "", refuse(api.CodeBadRequest, "seed_syntax", Facts{})
		}
		in.TOTPSeed = seed
	}
	return in, in.Platform + ":" + in.Handle, nil
}

// MaxApproverName bounds an approver's name: a person's name, shown in lists and audit lines.
const MaxApproverName = 200

// ApproverInput is an approver to enrol, as typed.
type ApproverInput struct {
	ID, Name, OSUser string
}

// CheckApprover normalises an enrolment's input and refuses what is malformed.
func CheckApprover(in ApproverInput) (ApproverInput, *Refusal) {
	in.ID = strings.TrimSpace(in.ID)
	in.Name = strings.TrimSpace(in.Name)
	in.OSUser = strings.TrimSpace(in.OSUser)
	switch {
	case len(in.ID) > 64 || !approverIDRE.MatchString(in.ID):
		return in, refuse(api.CodeBadRequest, "approver_id_syntax", Facts{Value: in.ID})
	case in.Name == "":
		return in, refuse(api.CodeBadRequest, "approver_name_missing", Facts{})
	case utf8.RuneCountInString(in.Name) > MaxApproverName || !utf8.ValidString(in.Name) || strings.ContainsFunc(in.Name, unicode.IsControl):
		return in, refuse(api.CodeBadRequest, "approver_name_syntax", Facts{})
	}
	return in, nil
}

// CheckAction refuses an action the daemon does not know.
func CheckAction(action string) *Refusal {
	if !slices.Contains(api.Actions, action) {
		return refuse(api.CodeBadRequest, "unknown_action", Facts{Value: action})
	}
	return nil
}

// CheckPassword refuses an empty new password.
func CheckPassword(pw string) *Refusal {
	if pw == "" {
		return refuse(api.CodeBadRequest, "password_missing", Facts{})
	}
	return nil
}
