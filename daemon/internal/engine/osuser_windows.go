package engine

import "os/user"

// canonicalOSUser is the approver's login name as Windows names the callers (DOMAIN\user, in
// the account's own case), so that "anna" given at enrolment matches the requester PC\anna:
// otherwise the self-approval rule would quietly not apply.
func canonicalOSUser(name string) string {
	if u, err := user.Lookup(name); err == nil && u.Username != "" {
		return u.Username
	}
	return name
}
