package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/engine"
	"foureyes/daemon/internal/manifest"
	"foureyes/daemon/internal/platforms"
	"foureyes/daemon/internal/policy"
	"foureyes/daemon/internal/qr"
	"foureyes/daemon/internal/rules"
	"foureyes/daemon/internal/textclip"
)

func cmdStatus(e *env, args []string) int {
	fs := e.flagSet("status", "[--json]", "Show whether the daemon runs, the policy in force, the keyring, the audit log and what is open.\n"+
		"Exit status: 0 all is well; 1 the daemon runs but something is wrong (an invalid policy, a\n"+
		"keyring that cannot be used, an audit log that cannot be written, the browser bridge down,\n"+
		"events not reaching the system log: each is printed under PROBLEMS); 3 the daemon is not running.")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	var problems []string
	st := call(e, func(ctx context.Context, b api.Backend) (statusOut, error) {
		s, err := b.Status(ctx)
		problems = s.Problems()
		return statusOut{s, problems}, err
	}, func(so statusOut) {
		s := so.Status
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "daemon\tfoureyes %s, pid %d, since %s\n", s.Version, s.PID, s.Started.Local().Format(time.DateTime))
		fmt.Fprintf(w, "home\t%s\n", s.Home)
		fmt.Fprintf(w, "policy\t%s\n", s.PolicySource)
		if s.PolicyError != "" {
			fmt.Fprintf(w, "  INVALID\t%s\n", s.PolicyError)
		}
		kr := "ok"
		if s.KeyringError != "" {
			kr = "PROBLEM: " + s.KeyringError
		}
		fmt.Fprintf(w, "keyring\t%s\n", kr)
		fmt.Fprintf(w, "audit log\t%s (%d events, head %.16s)\n", s.AuditLog, s.AuditSeq, s.AuditHead)
		if s.AuditError != "" {
			fmt.Fprintf(w, "  PROBLEM\t%s\n", s.AuditError)
		}
		switch {
		case s.BridgeError != "":
			fmt.Fprintf(w, "bridge\tDOWN: %s\n", s.BridgeError)
		case s.BridgeAddr != "":
			fmt.Fprintf(w, "bridge\tws://%s (%d extension connections)\n", s.BridgeAddr, s.Extensions)
		}
		if s.ForwardError != "" {
			fmt.Fprintf(w, "system log\tPROBLEM: %s\n", s.ForwardError)
		}
		fmt.Fprintf(w, "accounts\t%d\n", s.Accounts)
		fmt.Fprintf(w, "approvers\t%d\n", s.Approvers)
		fmt.Fprintf(w, "pending\t%d requests\n", s.PendingRequests)
		fmt.Fprintf(w, "open\t%d sessions\n", s.OpenSessions)
		e.out(w.Flush())
		if len(so.Problems) > 0 {
			fmt.Fprintln(e.stdout, "\nPROBLEMS:")
			for _, p := range so.Problems {
				fmt.Fprintf(e.stdout, "  %s\n", p)
			}
		}
	})
	if st == exitOK && len(problems) > 0 {
		return exitRefused
	}
	return st
}

// statusOut is the status with its problems spelled out, for people and monitoring scripts.
type statusOut struct {
	api.Status
	Problems []string `json:"problems"`
}

// ---- accounts

func cmdAccount(e *env, args []string) int {
	return subcommand(e, "account", args, map[string]func(*env, []string) int{
		"add": cmdAccountAdd, "list": cmdAccountList, "remove": cmdAccountRemove, "passwd": cmdAccountPasswd,
		"accept": cmdAccountAccept, "rotate": cmdAccountRotate,
	}, "Official accounts whose passwords the daemon keeps in the OS keyring.")
}

// readSecret reads one secret line from r without echo handling: pipe it in (--password-stdin).
func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func cmdAccountAdd(e *env, args []string) int {
	fs := e.flagSet("account add", "--platform P --handle H --username U --password-stdin [--totp-seed-stdin]",
		"Take an official account into custody. The password is read from standard input (never from\nthe command line, which other users and the shell history can see) and goes straight to the\nOS keyring. With --totp-seed-stdin a second line is the platform's own 2FA seed (base32).")
	var n api.NewAccount
	var pwStdin, seedStdin bool
	fs.StringVar(&n.Platform, "platform", "", "platform id from the platform table (x, mastodon, ...)")
	fs.StringVar(&n.Handle, "handle", "", "the account's handle, e.g. @ministry")
	fs.StringVar(&n.Username, "username", "", "the login user name or e-mail")
	fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input (required)")
	fs.BoolVar(&seedStdin, "totp-seed-stdin", false, "read the platform's 2FA seed from the next line of standard input")
	var generate bool
	fs.BoolVar(&generate, "generate", false, "then ask at once for approval to change the password to one foureyes generates (see foureyes account rotate), so the password typed here stops working")
	pos, st := parse(fs, args)
	if st >= 0 {
		return st
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected argument %q", pos[0])
	}
	if n.Platform == "" || n.Handle == "" || n.Username == "" {
		return e.usageErr(fs, "--platform, --handle and --username are required")
	}
	if !pwStdin {
		return e.usageErr(fs, "pass the password on standard input with --password-stdin")
	}
	// Before the account is taken into custody: --generate on a platform foureyes cannot change
	// passwords on would leave it in custody with the password typed here.
	if err := engine.Rotatable(n.Platform); generate && platforms.Governed(n.Platform) == nil && err != nil {
		return e.usageErr(fs, "--generate: %v", err)
	}
	br := bufio.NewReader(e.stdin)
	pw, err := br.ReadString('\n')
	if err != nil && err != io.EOF {
		return e.fail(err)
	}
	n.Password = strings.TrimRight(pw, "\r\n")
	if seedStdin {
		s, _ := br.ReadString('\n')
		n.TOTPSeed = strings.TrimSpace(s)
	}
	type added struct {
		api.Account
		Rotation *api.Request `json:"rotation,omitempty"`
	}
	return call(e, func(ctx context.Context, b api.Backend) (added, error) {
		a, err := b.AddAccount(ctx, n)
		if err != nil || !generate {
			return added{Account: a}, err
		}
		r, err := b.RotateAccount(ctx, a.ID)
		if err != nil {
			return added{Account: a}, fmt.Errorf("account %s is in custody, but asking for the rotation failed (run foureyes account rotate %s): %w", a.ID, a.ID, err)
		}
		return added{Account: a, Rotation: &r}, nil
	}, func(a added) {
		fmt.Fprintf(e.stdout, "account %s is in custody (password in the OS keyring)\n", a.ID)
		if a.Rotation != nil {
			fmt.Fprintf(e.stdout, "password rotation %s waits for approval: foureyes approve %s --approver ID (the code is asked for)\n", a.Rotation.ID, a.Rotation.ID)
		}
	})
}

func cmdAccountPasswd(e *env, args []string) int {
	fs := e.flagSet("account passwd", "ACCOUNT --password-stdin", "Store a new password for an account (after the platform forced a reset).")
	var pwStdin bool
	fs.BoolVar(&pwStdin, "password-stdin", false, "read the new password from standard input (required)")
	pos, st := e.parseN(fs, args, 1, "name one account, e.g. x:@ministry")
	if st >= 0 {
		return st
	}
	if !pwStdin {
		return e.usageErr(fs, "pass the password on standard input with --password-stdin")
	}
	pw, err := readSecret(e.stdin)
	if err != nil {
		return e.fail(err)
	}
	return call(e, func(ctx context.Context, b api.Backend) (map[string]string, error) {
		return map[string]string{"account": pos[0], "changed": "password"}, b.SetAccountPassword(ctx, pos[0], pw)
	}, func(map[string]string) {
		fmt.Fprintf(e.stdout, "new password for %s stored in the OS keyring\n", pos[0])
	})
}

func cmdAccountList(e *env, args []string) int {
	fs := e.flagSet("account list", "[--json]", "List the accounts in custody (never their passwords).")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) ([]api.Account, error) { return b.ListAccounts(ctx) }, func(as []api.Account) {
		if len(as) == 0 {
			fmt.Fprintln(e.stdout, "no accounts in custody (add one with foureyes account add)")
			return
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ACCOUNT\tLOGIN\t2FA\tPASSWORD CHANGED")
		for _, a := range as {
			id := a.ID
			if a.Unverified {
				id += " (UNVERIFIED: not in the audit trail, see foureyes account accept)"
			}
			if a.RotationPending {
				id += " (password rotation under way or unconfirmed)"
			}
			fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", id, a.Username, a.Has2FA, a.PasswordChanged.Local().Format(time.DateTime))
		}
		e.out(w.Flush())
	})
}

func cmdAccountRemove(e *env, args []string) int {
	fs := e.flagSet("account remove", "ACCOUNT", "Remove an account and its secrets from custody.")
	pos, st := e.parseN(fs, args, 1, "name one account, e.g. x:@ministry")
	if st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) (map[string]string, error) {
		return map[string]string{"removed": pos[0]}, b.RemoveAccount(ctx, pos[0])
	}, func(map[string]string) { fmt.Fprintf(e.stdout, "account %s removed\n", pos[0]) })
}

func cmdAccountRotate(e *env, args []string) int {
	fs := e.flagSet("account rotate", "ACCOUNT",
		"Change the account's password on the platform to one foureyes generates, so that no person\n"+
			"knows it. This asks for approval like a post (foureyes approve, or the extension's approval\n"+
			"window); then the browser extension changes the password on the platform's own form. The new\n"+
			"password waits in the keyring beside the current one until the platform confirms it.\n"+
			"On Bluesky the change needs a code Bluesky e-mails to the account: an administrator at that\n"+
			"browser types it when the tab asks (within 10 minutes, else the rotation fails and the old\n"+
			"password stays).")
	pos, st := e.parseN(fs, args, 1, "name one account, e.g. x:@ministry")
	if st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Request, error) {
		return b.RotateAccount(ctx, pos[0])
	}, func(r api.Request) {
		fmt.Fprintf(e.stdout, "%s\n", r.ID)
		fmt.Fprintf(e.stderr, "rotation of %s waits for approval until %s: foureyes approve %s --approver ID (the code is asked for)\n",
			r.Account, r.Expires.Local().Format("15:04"), r.ID)
	})
}

func cmdAccountAccept(e *env, args []string) int {
	fs := e.flagSet("account accept", "ACCOUNT --by APPROVER (then the code is asked for)",
		"Accept an account marked unverified: one the state file holds although the audit trail never\n"+
			"saw it added (put there by hand while the daemon was stopped). No request is taken for it\n"+
			"until then; a confirmed approver vouches with their current code.")
	by := authorityFlags(fs)
	pos, st := e.parseN(fs, args, 1, "name one account, e.g. x:@ministry")
	if st >= 0 {
		return st
	}
	if msg := by.check(e); msg != "" {
		return e.usageErr(fs, "%s", msg)
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Account, error) {
		return b.AcceptAccount(ctx, pos[0], by.Authority)
	}, func(a api.Account) { fmt.Fprintf(e.stdout, "account %s accepted\n", a.ID) })
}

// ---- RADIUS

func cmdRadius(e *env, args []string) int {
	return subcommand(e, "radius", args, map[string]func(*env, []string) int{"secret": cmdRadiusSecret},
		"The organisation's OTP server checks approvers' codes over RADIUS when the policy says\n"+
			`approver_codes "radius"; the policy's radius section says where it is.`)
}

func cmdRadiusSecret(e *env, args []string) int {
	fs := e.flagSet("radius secret", "< FILE", "Store the shared secret with the OTP server in the OS keyring, read from standard input\n"+
		"(never from the command line, never in the policy file), e.g.\n  foureyes radius secret < /run/secrets/radius")
	if _, st := e.parseN(fs, args, 0, "takes no arguments: pipe the secret in on standard input"); st >= 0 {
		return st
	}
	secret, err := readSecret(e.stdin)
	if err != nil {
		return e.fail(err)
	}
	return call(e, func(ctx context.Context, b api.Backend) (map[string]string, error) {
		return map[string]string{"changed": "radius shared secret"}, b.SetRadiusSecret(ctx, secret)
	}, func(map[string]string) {
		fmt.Fprintln(e.stdout, "shared secret with the OTP server stored in the OS keyring")
	})
}

// ---- approvers

func cmdApprover(e *env, args []string) int {
	return subcommand(e, "approver", args, map[string]func(*env, []string) int{
		"enroll": cmdApproverEnroll, "confirm": cmdApproverConfirm, "list": cmdApproverList,
		"remove": cmdApproverRemove, "unlock": cmdApproverUnlock, "accept": cmdApproverAccept,
	}, "Approvers are the people (press officers) whose phone codes approve posts. Enrolling,\n"+
		"re-enrolling and removing one needs the current code of another confirmed approver\n"+
		"(--by ID, then the code at the prompt); only the very first approver is enrolled without one.")
}

func cmdApproverEnroll(e *env, args []string) int {
	fs := e.flagSet("approver enroll", "ID --name NAME [--os-user USER] [--qr FILE.png] --by APPROVER (then the code is asked for)",
		"Enrol an approver: creates a TOTP secret in the OS keyring and shows it as a QR code for the\n"+
			"approver's authenticator app (any RFC 6238 app: FreeOTP, Aegis, 2FAS, Google or Microsoft\n"+
			"Authenticator). The approver stays pending until confirmed with a first code:\n"+
			"  foureyes approver confirm ID   (then the code at the prompt, or piped in)\n"+
			"Enrolling an existing ID again (lost phone) replaces the secret.\n"+
			"Another confirmed approver vouches with their current code (--by, then at the prompt); only the first\n"+
			"approver of this computer is enrolled without one, and the audit trail marks it as such.")
	var n api.NewApprover
	var qrFile string
	by := authorityFlags(fs)
	fs.StringVar(&n.Name, "name", "", "the approver's full name (required)")
	fs.StringVar(&n.OSUser, "os-user", "", "the OS login of this person, so they can never approve their own requests")
	fs.StringVar(&n.RadiusUser, "radius-user", "", `the approver's user name on the organisation's OTP server (policy approver_codes "radius"): their codes are checked there, and no seed is created`)
	fs.StringVar(&qrFile, "qr", "", "also write the QR code as a PNG image to this file")
	pos, st := e.parseN(fs, args, 1, "name one approver ID, e.g. anna.schmidt")
	if st >= 0 {
		return st
	}
	n.ID = pos[0]
	if n.Name == "" {
		return e.usageErr(fs, "--name is required")
	}
	if msg := by.check(e); msg != "" {
		return e.usageErr(fs, "%s", msg)
	}
	n.By = by.Authority
	return call(e, func(ctx context.Context, b api.Backend) (api.Enrollment, error) {
		en, err := b.EnrollApprover(ctx, n)
		if err == nil && qrFile != "" && en.URI == "" {
			return en, fmt.Errorf("the approver is enrolled, but has no seed to show as a QR code: the OTP server checks their codes")
		}
		if err == nil && qrFile != "" {
			png, perr := qr.PNG(en.URI, 384)
			if perr == nil {
				perr = os.WriteFile(qrFile, png, 0o600)
			}
			if perr != nil {
				return en, fmt.Errorf("the approver is enrolled, but writing the QR image failed: %w", perr)
			}
		}
		return en, err
	}, func(en api.Enrollment) {
		if en.Approver.RadiusUser != "" {
			fmt.Fprintf(e.stdout, "Approver %s (%s) enrolled, pending confirmation. Their codes are checked by the OTP server as user %s; no seed is on this computer.\n", en.Approver.ID, en.Approver.Name, en.Approver.RadiusUser)
			fmt.Fprintf(e.stdout, "\nConfirm with a code from the token the OTP server knows:\n  foureyes approver confirm %s CODE\n", en.Approver.ID)
			return
		}
		fmt.Fprintf(e.stdout, "Approver %s (%s) enrolled, pending confirmation.\n\n", en.Approver.ID, en.Approver.Name)
		fmt.Fprintln(e.stdout, "Scan this code with the authenticator app on the approver's phone:")
		if t, err := qr.Terminal(en.URI); err == nil {
			fmt.Fprintln(e.stdout, t)
		}
		fmt.Fprintf(e.stdout, "Or type the key by hand: %s\n", en.Secret)
		fmt.Fprintf(e.stdout, "URI: %s\n", en.URI)
		if qrFile != "" {
			fmt.Fprintf(e.stdout, "QR image: %s\n", qrFile)
		}
		fmt.Fprintf(e.stdout, "\nThen confirm with the first code the app shows:\n  foureyes approver confirm %s CODE\n", en.Approver.ID)
	})
}

func cmdApproverConfirm(e *env, args []string) int {
	fs := e.flagSet("approver confirm", "ID", "Confirm an enrolment with the first code the approver's app shows, read from standard\ninput (typed at the prompt, or piped in).")
	pos, st := parse(fs, args)
	if st >= 0 {
		return st
	}
	if len(pos) < 1 || len(pos) > 2 {
		return e.usageErr(fs, "give the approver ID; the code is read from standard input")
	}
	given := ""
	if len(pos) == 2 {
		given = pos[1]
	}
	code, msg := e.readCode(given, pos[0])
	if msg != "" {
		return e.usageErr(fs, "%s", msg)
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Approver, error) {
		return b.ConfirmApprover(ctx, pos[0], code)
	},
		func(a api.Approver) {
			fmt.Fprintf(e.stdout, "approver %s (%s) is confirmed and may approve posts\n", a.ID, a.Name)
		})
}

func cmdApproverList(e *env, args []string) int {
	fs := e.flagSet("approver list", "[--json]", "List approvers and their state (never their secrets).")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) ([]api.Approver, error) { return b.ListApprovers(ctx) }, func(as []api.Approver) {
		if len(as) == 0 {
			fmt.Fprintln(e.stdout, "no approvers (enrol one with foureyes approver enroll)")
			return
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tOS USER\tSTATE")
		for _, a := range as {
			state := "confirmed"
			switch {
			case a.Unverified:
				state = "UNVERIFIED: not in the audit trail (foureyes approver accept)"
			case !a.Confirmed:
				state = "pending confirmation"
			case a.Disabled:
				state = "disabled (too many wrong codes)"
			case a.LockedUntil.After(time.Now()):
				state = "locked out until " + a.LockedUntil.Local().Format("15:04:05")
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.ID, a.Name, a.OSUser, state)
		}
		e.out(w.Flush())
	})
}

func cmdApproverRemove(e *env, args []string) int {
	fs := e.flagSet("approver remove", "ID --by APPROVER (then the code is asked for)", "Remove an approver: their secret leaves the keyring and their pending approvals no longer count.\n"+
		"Removing a confirmed approver needs another confirmed approver's current code (--by, then at the prompt);\n"+
		"the last one may remove themselves with their own.")
	by := authorityFlags(fs)
	pos, st := e.parseN(fs, args, 1, "name one approver ID")
	if st >= 0 {
		return st
	}
	if msg := by.check(e); msg != "" {
		return e.usageErr(fs, "%s", msg)
	}
	return call(e, func(ctx context.Context, b api.Backend) (map[string]string, error) {
		return map[string]string{"removed": pos[0]}, b.RemoveApprover(ctx, pos[0], by.Authority)
	}, func(map[string]string) { fmt.Fprintf(e.stdout, "approver %s removed\n", pos[0]) })
}

func cmdApproverAccept(e *env, args []string) int {
	fs := e.flagSet("approver accept", "ID --by APPROVER (then the code is asked for)",
		"Accept an approver marked unverified: one the state file holds although the audit trail never\n"+
			"saw them enrolled (added by hand while the daemon was stopped). Check first who they are and\n"+
			"why the trail lacks them; another confirmed approver vouches with their current code.")
	by := authorityFlags(fs)
	pos, st := e.parseN(fs, args, 1, "name one approver ID")
	if st >= 0 {
		return st
	}
	if msg := by.check(e); msg != "" {
		return e.usageErr(fs, "%s", msg)
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Approver, error) {
		return b.AcceptApprover(ctx, pos[0], by.Authority)
	}, func(a api.Approver) { fmt.Fprintf(e.stdout, "approver %s (%s) accepted\n", a.ID, a.Name) })
}

// authority is the --by/--code pair that vouches for a change to who may approve.
type authority struct{ api.Authority }

func authorityFlags(fs *flag.FlagSet) *authority {
	a := &authority{}
	fs.StringVar(&a.Approver, "by", "", "another confirmed approver, who vouches for this change")
	fs.StringVar(&a.Code, "code", "", codeFlagHelp)
	return a
}

// check completes the pair (the code from standard input when --by came without --code) and
// returns what is wrong with it, or "".
func (a *authority) check(e *env) string {
	switch {
	case a.Code != "" && a.Approver == "":
		return "--code goes with --by: name the approver whose code it is"
	case a.Approver == "":
		return ""
	}
	code, msg := e.readCode(a.Code, a.Approver)
	a.Code = code
	return msg
}

// codeFlagHelp describes --code: a code typed at the prompt or piped in is the safe way.
const codeFlagHelp = "the current 6-digit code from that approver's app; better left out: then it is read from\n" +
	"standard input (typed at the prompt, or piped in), where other users of this computer\ncannot see it"

// readCode returns the approver's code: the one given on the command line (with a warning, as
// other OS users can read a running command's arguments) or one line from standard input,
// with a prompt when that is a terminal. The second result says what is wrong, or "".
func (e *env) readCode(given, approver string) (string, string) {
	if given != "" {
		fmt.Fprintln(e.stderr, "foureyes: warning: a code on the command line can be read by other users of this computer while the command runs; leave --code out and type it at the prompt, or pipe it in")
	} else {
		if isTerminal(e.stdin) {
			fmt.Fprintf(e.stderr, "Current code from %s's app: ", approver)
		}
		line, err := readSecret(e.stdin)
		if err != nil {
			return "", err.Error()
		}
		given = strings.TrimSpace(line)
		if given == "" {
			return "", fmt.Sprintf("no code for %s: type the 6 digits their app shows at the prompt, or pipe them in", approver)
		}
	}
	if !rules.WellFormedCode(given) {
		return "", fmt.Sprintf("the code must be the 6 digits the approver's app shows, not %q", given)
	}
	return given, ""
}

// isTerminal reports whether r is a character device (a terminal the user types into).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdApproverUnlock(e *env, args []string) int {
	fs := e.flagSet("approver unlock", "ID", fmt.Sprintf("End an approver's lock-out after too many wrong codes early (recorded in the audit trail). The failure count stays; an approver disabled after %d wrong codes in a row cannot be unlocked and must be re-enrolled.",
		policy.Default().Throttle.MaxConsecutiveFailures))
	pos, st := e.parseN(fs, args, 1, "name one approver ID")
	if st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) (map[string]string, error) {
		return map[string]string{"unlocked": pos[0]}, b.UnlockApprover(ctx, pos[0])
	}, func(map[string]string) { fmt.Fprintf(e.stdout, "approver %s unlocked\n", pos[0]) })
}

// ---- requests and sessions

// maxText is the most text a request may carry.
const maxText = 1 << 20

func cmdRequest(e *env, args []string) int {
	fs := e.flagSet("request", "--account ACCOUNT [--action post] --text-file FILE|-",
		"Ask for approval of one exact text. Prints the request id to give the approver.")
	var n api.NewRequest
	var file string
	fs.StringVar(&n.Account, "account", "", "the account, e.g. x:@ministry (required)")
	fs.StringVar(&n.Action, "action", api.ActionPost, "post, reply, quote or repost")
	fs.StringVar(&file, "text-file", "", "file with the exact text, or - for standard input (required)")
	pos, st := parse(fs, args)
	if st >= 0 {
		return st
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected argument %q (the text goes in --text-file)", pos[0])
	}
	if n.Account == "" || file == "" {
		return e.usageErr(fs, "--account and --text-file are required")
	}
	if !slices.Contains(api.Actions, n.Action) {
		return e.usageErr(fs, "--action %q is not one of %s", n.Action, strings.Join(api.Actions, ", "))
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(e.stdin, maxText+1))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return e.fail(fmt.Errorf("reading the text: %w", err))
	}
	switch {
	case len(data) > maxText:
		return e.fail(api.Errorf(api.CodeTooLarge, "the text is over %d bytes: no platform takes a post that long", maxText))
	case !utf8.Valid(data):
		// Sent on, the bad bytes would become U+FFFD: the approver would approve another text.
		return e.fail(api.Errorf(api.CodeBadRequest, "the text is not valid UTF-8: save it as UTF-8 and try again"))
	}
	n.Text = string(data)
	return call(e, func(ctx context.Context, b api.Backend) (api.Request, error) { return b.CreateRequest(ctx, n) }, func(r api.Request) {
		fmt.Fprintln(e.stdout, r.ID)
		fmt.Fprintf(e.stderr, "request %s waits for approval until %s: foureyes approve %s --approver ID (the code is asked for)\n",
			r.ID, r.Expires.Local().Format("15:04"), r.ID)
		if r.ApprovalsNeeded > 1 {
			fmt.Fprintf(e.stderr, "outside posting hours: %d different approvers must approve it\n", r.ApprovalsNeeded)
		}
	})
}

func printRequests(w io.Writer, rs []api.Request) error {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no requests")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tACTION\tSTATE\tBY\tUNTIL\tTEXT")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Account, r.Action, r.State, r.Requester,
			r.Expires.Local().Format("15:04"), textclip.Line(r.Text, 40))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// What an approval covers besides the text, below the table so its columns stay aligned.
	for _, r := range rs {
		for _, line := range manifest.Describe(r.Action, r.Media, r.Target) {
			fmt.Fprintf(w, "%s: %s\n", r.ID, line)
		}
	}
	return nil
}

func cmdRequests(e *env, args []string) int {
	fs := e.flagSet("requests", "[--json]", "List requests of the last day.")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) ([]api.Request, error) { return b.ListRequests(ctx) },
		func(rs []api.Request) { e.out(printRequests(e.stdout, rs)) })
}

func approverFlags(e *env, name, help string) (*approverArgs, func([]string) ([]string, int)) {
	a := &approverArgs{}
	fs := e.flagSet(name, "REQUEST_ID --approver ID", help+"\nThe code is read from standard input: typed at the prompt, or piped in.")
	fs.StringVar(&a.approver, "approver", "", "the approver's ID (required)")
	fs.StringVar(&a.code, "code", "", codeFlagHelp)
	return a, func(args []string) ([]string, int) {
		pos, st := e.parseN(fs, args, 1, "name one request id")
		if st >= 0 {
			return nil, st
		}
		if a.approver == "" {
			return nil, e.usageErr(fs, "--approver is required: the ID of the approver whose code it is")
		}
		code, msg := e.readCode(a.code, a.approver)
		if msg != "" {
			return nil, e.usageErr(fs, "%s", msg)
		}
		a.code = code
		return pos, -1
	}
}

type approverArgs struct{ approver, code string }

func cmdApprove(e *env, args []string) int {
	a, parseArgs := approverFlags(e, "approve", "Approve a request. The approver reads the exact text (foureyes requests), then gives the\ncurrent code from their phone. Prints the posting session's id.")
	pos, st := parseArgs(args)
	if st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Approval, error) {
		return b.Approve(ctx, pos[0], a.approver, a.code)
	},
		func(ap api.Approval) {
			if ap.Session != nil {
				fmt.Fprintln(e.stdout, ap.Session.ID)
				fmt.Fprintf(e.stderr, "approved: one post to %s until %s\n", ap.Session.Account, ap.Session.Expires.Local().Format("15:04:05"))
				for _, line := range manifest.Describe(ap.Session.Action, ap.Session.Media, ap.Session.Target) {
					fmt.Fprintf(e.stderr, "  %s\n", line)
				}
				return
			}
			fmt.Fprintf(e.stdout, "approval %d of %d recorded: a second approver is needed outside posting hours\n",
				len(ap.Request.ApprovedBy), ap.Request.ApprovalsNeeded)
		})
}

func cmdDeny(e *env, args []string) int {
	a, parseArgs := approverFlags(e, "deny", "Deny a request for good, with the approver's code.")
	pos, st := parseArgs(args)
	if st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Request, error) {
		return b.Deny(ctx, pos[0], a.approver, a.code)
	},
		func(r api.Request) { fmt.Fprintf(e.stdout, "request %s denied\n", r.ID) })
}

func cmdCancel(e *env, args []string) int {
	fs := e.flagSet("cancel", "REQUEST_ID", "Cancel a request you made.")
	pos, st := e.parseN(fs, args, 1, "name one request id")
	if st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Request, error) { return b.Cancel(ctx, pos[0]) },
		func(r api.Request) { fmt.Fprintf(e.stdout, "request %s cancelled\n", r.ID) })
}

func cmdSessions(e *env, args []string) int {
	fs := e.flagSet("sessions", "[--json]", "List posting sessions of the last day.")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) ([]api.Session, error) { return b.ListSessions(ctx) }, func(ss []api.Session) {
		if len(ss) == 0 {
			fmt.Fprintln(e.stdout, "no sessions")
			return
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACCOUNT\tACTION\tSTATE\tAPPROVED BY\tUNTIL")
		for _, s := range ss {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Account, s.Action, s.State,
				strings.Join(s.ApprovedBy, ","), s.Expires.Local().Format("15:04:05"))
		}
		e.out(tw.Flush())
	})
}

func cmdLock(e *env, args []string) int {
	fs := e.flagSet("lock", "[--reason TEXT | TEXT...]", "Lock now: revoke every open posting session and pending request at once\n(a hijacked account, a wrong post in progress). Words after lock are the reason too:\n  foureyes lock account hijacked")
	var reason string
	fs.StringVar(&reason, "reason", "locked from the command line", "why, for the audit trail")
	pos, st := parse(fs, args)
	if st >= 0 {
		return st
	}
	// In an emergency a stray word must not stop the lock: it is the reason.
	if len(pos) > 0 {
		reason = strings.Join(pos, " ")
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.LockResult, error) { return b.Lock(ctx, reason) }, func(r api.LockResult) {
		fmt.Fprintf(e.stdout, "locked: %d sessions and %d requests revoked\n", r.Sessions, r.Requests)
	})
}
