package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/policy"
)

func (e *env) auditPath(file string) (string, error) {
	if file != "" {
		return file, nil
	}
	h, err := e.home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, auditName), nil
}

func cmdAudit(e *env, args []string) int {
	return subcommand(e, "audit", args, map[string]func(*env, []string) int{
		"verify": cmdAuditVerify, "export": cmdAuditExport, "repair": cmdAuditRepair, "path": cmdAuditPath,
	}, "The audit trail: one hash-chained JSON line per event. These commands read the file directly\nand work whether or not the daemon runs.")
}

func cmdAuditPath(e *env, args []string) int {
	fs := e.flagSet("audit path", "", "Print the audit log's path.")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	p, err := e.auditPath("")
	if err != nil {
		return e.fail(err)
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]string{"path": p}))
	} else {
		fmt.Fprintln(e.stdout, p)
	}
	return exitOK
}

func cmdAuditVerify(e *env, args []string) int {
	fs := e.flagSet("audit verify", "[--file F]", "Prove the audit log's hash chain: every line unchanged, none removed, none reordered.\nPrints the head hash; compare it with the copy in the system log.")
	var file string
	fs.StringVar(&file, "file", "", "audit log to verify (default: this user's)")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	p, err := e.auditPath(file)
	if err != nil {
		return e.fail(err)
	}
	res, err := audit.VerifyFile(p)
	if err != nil {
		var ve *audit.VerifyError
		if errors.As(err, &ve) {
			// A torn last line is what a crash mid-write leaves, not a sign of tampering: say
			// so, and that every line before it is proven.
			torn := errors.Is(err, audit.ErrTorn)
			switch {
			case e.json:
				e.out(writeJSON(e.stdout, map[string]any{"ok": false, "file": p, "line": ve.Line, "reason": ve.Reason,
					"torn": torn, "lines": res.Lines, "head": res.Head}))
			case torn:
				fmt.Fprintf(e.stderr, "foureyes: audit log %s: its last line (%d) is torn, left by a crash while writing it; the %d lines before it verify (head %s). Stop the daemon and run `foureyes audit repair` to move the torn bytes aside.\n",
					p, ve.Line, res.Lines, res.Head)
			default:
				fmt.Fprintf(e.stderr, "foureyes: audit log %s does NOT verify: line %d: %s\n", p, ve.Line, ve.Reason)
			}
			return exitRefused
		}
		return e.fail(fmt.Errorf("verifying %s: %w", p, err))
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"ok": true, "file": p, "lines": res.Lines, "head": res.Head, "first": res.First, "last": res.Last}))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "audit log %s verifies: %d lines, head %s\n", p, res.Lines, res.Head)
	return exitOK
}

func cmdAuditExport(e *env, args []string) int {
	fs := e.flagSet("audit export", "--format csv|json [--file F] [--out FILE]",
		"Export the audit trail, verifying it on the way. CSV has a column for the approved text, so\n\"what exactly was posted, and who approved it\" can be answered in a spreadsheet.")
	var file, format, out string
	var force, bom bool
	fs.StringVar(&format, "format", "csv", "csv or json")
	fs.StringVar(&file, "file", "", "audit log to export (default: this user's)")
	fs.StringVar(&out, "out", "", "write to this file instead of standard output (written only if the chain verifies)")
	fs.BoolVar(&force, "force", false, "export even a log that does not verify (still exits non-zero)")
	fs.BoolVar(&bom, "bom", false, "start CSV with a byte order mark (for spreadsheet programs)")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	if format != "csv" && format != "json" {
		return e.usageErr(fs, "--format must be csv or json, not %q", format)
	}
	p, err := e.auditPath(file)
	if err != nil {
		return e.fail(err)
	}
	f, err := os.Open(p)
	if err != nil {
		return e.fail(fmt.Errorf("opening the audit log: %w", err))
	}
	defer func() { _ = f.Close() }()
	opts := audit.ExportOptions{Format: format, Force: force, BOM: bom}
	if out == "" {
		if err := audit.ExportWith(f, e.stdout, opts); err != nil {
			return e.fail(fmt.Errorf("exporting %s: %w", p, err))
		}
		return exitOK
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".export-*")
	if err != nil {
		return e.fail(fmt.Errorf("writing %s: %w", out, err))
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	expErr := audit.ExportWith(f, tmp, opts)
	if err := tmp.Close(); err != nil && expErr == nil {
		expErr = err
	}
	if expErr != nil && !force {
		return e.fail(fmt.Errorf("exporting %s: %w", p, expErr))
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return e.fail(fmt.Errorf("writing %s: %w", out, err))
	}
	if expErr != nil {
		return e.fail(fmt.Errorf("exported %s anyway (--force), but: %w", out, expErr))
	}
	return exitOK
}

func cmdAuditRepair(e *env, args []string) int {
	fs := e.flagSet("audit repair", "[--file F]",
		"Repair an audit log whose last line was torn by a crash: the torn bytes move to a side file\n(nothing is dropped), the log is cut back to its last whole line, and the repair itself is\nrecorded as a high-severity event. Stop the daemon first.")
	var file string
	fs.StringVar(&file, "file", "", "audit log to repair (default: this user's)")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	p, err := e.auditPath(file)
	if err != nil {
		return e.fail(err)
	}
	if file == "" {
		if c, err := e.client(); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := c.Status(ctx)
			cancel()
			if err == nil {
				return e.fail(api.Errorf(api.CodeNotPermitted, "the daemon is running: stop it before repairing its audit log"))
			}
		}
	}
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	rep, err := audit.Repair(p, who, audit.Options{})
	if err != nil {
		return e.fail(fmt.Errorf("repairing %s: %w", p, err))
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"repaired": rep.TornFile != "", "torn_file": rep.TornFile, "bytes": rep.Bytes, "line": rep.Line}))
		return exitOK
	}
	if rep.TornFile == "" {
		fmt.Fprintf(e.stdout, "audit log %s has no torn line: nothing to repair\n", p)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "audit log %s repaired: %d torn bytes of line %d kept in %s\n", p, rep.Bytes, rep.Line, rep.TornFile)
	return exitOK
}

func cmdPolicy(e *env, args []string) int {
	return subcommand(e, "policy", args, map[string]func(*env, []string) int{
		"check": cmdPolicyCheck, "show": cmdPolicyShow, "reload": cmdPolicyReload,
	}, "The policy: one JSON file (schema: shared/policy.schema.json). IT deploys it to the managed\nlocation ("+policy.ManagedPath()+"), which overrides the per-user one.")
}

func cmdPolicyCheck(e *env, args []string) int {
	fs := e.flagSet("policy check", "FILE", "Check a policy file before deploying it. Prints the effective policy with --json.")
	pos, st := e.parseN(fs, args, 1, "name one policy file")
	if st >= 0 {
		return st
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return e.fail(api.Errorf(api.CodeInvalidPolicy, "reading policy %s: %v", pos[0], err))
	}
	p, err := policy.Parse(data)
	if err != nil {
		return e.fail(&api.Error{Code: api.CodeInvalidPolicy, Err: err, Message: fmt.Sprintf("policy %s is invalid: %v", pos[0], err)})
	}
	// Warnings do not fail the check: the policy is valid and would load as it is.
	for _, w := range p.Warnings() {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	if e.json {
		e.out(writeJSON(e.stdout, p))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "policy %s is valid\n", pos[0])
	return exitOK
}

func cmdPolicyReload(e *env, args []string) int {
	fs := e.flagSet("policy reload", "", "Tell the running daemon to read its policy again (after IT deployed a new one). The daemon\n"+
		"records the policy's digest and what changed in the audit trail. Exit status 1 if the policy\n"+
		"it now has is invalid: then it refuses every approval until the file is fixed.")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	return call(e, func(ctx context.Context, b api.Backend) (api.Status, error) {
		s, err := b.ReloadPolicy(ctx)
		if err == nil && s.PolicyError != "" {
			err = api.Errorf(api.CodeInvalidPolicy, "the policy in force (%s) is now invalid, so no approvals are possible until it is fixed: %s", s.PolicySource, s.PolicyError)
		}
		return s, err
	}, func(s api.Status) {
		fmt.Fprintf(e.stdout, "policy reloaded from %s\n", s.PolicySource)
	})
}

func cmdPolicyShow(e *env, args []string) int {
	fs := e.flagSet("policy show", "", "Show which policy file applies to this user and the effective policy.")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	p, src, err := policy.Load()
	if err != nil {
		return e.fail(&api.Error{Code: api.CodeInvalidPolicy, Err: err, Message: err.Error()})
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"source": src, "policy": p}))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "# source: %s\n", src)
	e.out(writeJSON(e.stdout, p))
	return exitOK
}
