package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/audit"
	"foureyes/daemon/internal/mediastore"
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
		"compare": cmdAuditCompare, "media": cmdAuditMedia,
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

func cmdAuditMedia(e *env, args []string) int {
	fs := e.flagSet("audit media", "SHA256 --out FILE [--dir D]",
		"Write out the daemon's copy of an attached file (policy keep_media), named by its SHA-256 as\nthe audit trail's media_kept and media fields give it. The copy is checked against its SHA-256\non the way; FILE is written only if it matches, and never over an existing file.")
	var dir, out string
	fs.StringVar(&dir, "dir", "", "media store to read (default: this user's, <home>/media)")
	fs.StringVar(&out, "out", "", "file to write (required)")
	rest, st := e.parseN(fs, args, 1, "takes the file's SHA-256")
	if st >= 0 {
		return st
	}
	sha := rest[0]
	if !mediastore.ValidDigest(sha) {
		return e.usageErr(fs, "%q is not a SHA-256 (64 lower-case hex digits)", sha)
	}
	if out == "" {
		return e.usageErr(fs, "--out FILE is required")
	}
	if dir == "" {
		h, err := e.home()
		if err != nil {
			return e.fail(err)
		}
		dir = filepath.Join(h, mediastore.Dir)
	}
	if _, err := os.Lstat(out); err == nil {
		return e.fail(fmt.Errorf("%s exists: choose another --out", out))
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".media-*")
	if err != nil {
		return e.fail(fmt.Errorf("writing %s: %w", out, err))
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	n, cerr := mediastore.Copy(dir, sha, tmp)
	if err := tmp.Close(); err != nil && cerr == nil {
		cerr = fmt.Errorf("writing %s: %w", out, err)
	}
	if cerr != nil {
		if errors.Is(cerr, mediastore.ErrNotFound) {
			fmt.Fprintf(e.stderr, "foureyes: %v; copies are kept only while the policy has keep_media, from when it was turned on\n", cerr)
			return exitRefused
		}
		return e.fail(cerr)
	}
	// Link, not rename: it fails rather than replace a file that appeared meanwhile.
	if err := os.Link(tmp.Name(), out); err != nil {
		return e.fail(fmt.Errorf("writing %s: %w", out, err))
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"sha256": sha, "bytes": n, "file": out}))
	} else {
		fmt.Fprintf(e.stdout, "%s: %d bytes, SHA-256 %s verified\n", out, n, sha)
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

func cmdAuditCompare(e *env, args []string) int {
	fs := e.flagSet("audit compare", "--journal | --syslog FILE [--file F]",
		"Hold the audit trail against the copies the daemon forwarded to the system log as it wrote\n"+
			"each line (each carries the line's number and chain hash). A trail cut short or rewritten\n"+
			"whole still passes audit verify; this finds both. --journal reads this user's copies from\n"+
			"journald; --syslog reads a syslog file (e.g. /var/log/auth.log, or a collector's export; - for\n"+
			"standard input). Exits 1 when the trail differs from the copy.")
	var file, syslogFile string
	var journal bool
	uid := os.Getuid()
	fs.IntVar(&uid, "uid", uid, "with --journal: whose daemon's lines to read (default: this user's; root comparing a user's trail names the user's uid)")
	fs.StringVar(&file, "file", "", "audit log to compare (default: this user's)")
	fs.StringVar(&syslogFile, "syslog", "", "a file holding the forwarded lines (- for standard input)")
	fs.BoolVar(&journal, "journal", false, "read the forwarded lines from journald (journalctl)")
	if _, st := e.parseN(fs, args, 0, "takes no arguments besides its options"); st >= 0 {
		return st
	}
	if journal == (syslogFile != "") {
		return e.usageErr(fs, "give exactly one of --journal and --syslog FILE: where the forwarded copy is")
	}
	p, err := e.auditPath(file)
	if err != nil {
		return e.fail(err)
	}
	local, err := os.Open(p)
	if err != nil {
		return e.fail(fmt.Errorf("opening the audit log: %w", err))
	}
	defer func() { _ = local.Close() }()
	var fw io.Reader
	var from string
	switch {
	case journal:
		// Only this user's daemon's lines: another user's trail has its own numbers.
		from = "journald"
		bin, err := journalctl()
		if err != nil {
			return e.fail(err)
		}
		out, err := exec.Command(bin, journalArgs(uid)...).Output()
		if err != nil {
			return e.fail(fmt.Errorf("reading the forwarded lines with journalctl (is journald running, and may this user read it? members of systemd-journal or adm may): %w", err))
		}
		fw = bytes.NewReader(out)
	case syslogFile == "-":
		from, fw = "standard input", e.stdin
	default:
		from = syslogFile
		f, err := os.Open(syslogFile)
		if err != nil {
			return e.fail(fmt.Errorf("opening the forwarded copy: %w", err))
		}
		defer func() { _ = f.Close() }()
		fw = f
	}
	c, err := audit.Compare(local, fw)
	if err != nil {
		return e.fail(err)
	}
	if c.ForwardedLines == 0 && c.OK() {
		c.Problems = append(c.Problems, fmt.Sprintf("%s holds no forwarded foureyes line: nothing to compare with (is audit.syslog on in the policy?)", from))
	}
	if e.json {
		e.out(writeJSON(e.stdout, map[string]any{"ok": c.OK(), "file": p, "forwarded_from": from, "comparison": c}))
	} else if c.OK() {
		fmt.Fprintf(e.stdout, "audit log %s agrees with the copy in %s: %d of its %d lines were forwarded and match (%d older than the copy, %d not forwarded)\n",
			p, from, c.Matched, c.LocalLines, c.BeforeCopy, c.NotForwarded)
		for _, g := range c.Gaps {
			fmt.Fprintf(e.stdout, "  %s\n", g)
		}
	} else {
		fmt.Fprintf(e.stderr, "foureyes: audit log %s does NOT agree with the copy in %s:\n", p, from)
		for _, pr := range c.Problems {
			fmt.Fprintf(e.stderr, "  %s\n", pr)
		}
	}
	if !c.OK() {
		return exitRefused
	}
	return exitOK
}

// journalctl finds journald's reader at its fixed place: not through PATH, which whoever runs
// the command controls.
func journalctl() (string, error) {
	for _, p := range []string{"/usr/bin/journalctl", "/bin/journalctl"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("journalctl is not installed here (/usr/bin/journalctl): compare with --syslog FILE against the system log's file or a collector's export")
}

// journalArgs asks journald for the lines the daemon of user uid forwarded, and nothing else.
func journalArgs(uid int) []string {
	return []string{"--no-pager", "-o", "cat", "SYSLOG_IDENTIFIER=foureyes", fmt.Sprintf("_UID=%d", uid)}
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
	if errors.Is(err, os.ErrPermission) {
		// Another OS user's trail (the service's, to a staff member): a refusal, not a fault.
		return e.fail(api.Errorf(api.CodeNotPermitted, "repairing %s: this OS user may not change it (%w): only the user who owns the trail can, with its daemon or service stopped", p, err))
	}
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
	fs := e.flagSet("policy check", "FILE [--managed]", "Check a policy file before deploying it. Prints the effective policy with --json.\n"+
		"With --managed, also what a policy in the managed location ("+policy.ManagedPath()+") must satisfy.")
	var managed bool
	fs.BoolVar(&managed, "managed", false, "check it as the managed policy IT deploys (it must name its approvers)")
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
	if managed {
		if merr := p.CheckManaged(); merr != nil {
			return e.fail(&api.Error{Code: api.CodeInvalidPolicy, Err: merr, Message: fmt.Sprintf("policy %s is invalid as a managed policy: %v", pos[0], merr)})
		}
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
