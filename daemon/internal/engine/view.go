package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/custody"
	"foureyes/daemon/internal/digest"
	"foureyes/daemon/internal/rules"
)

// view is the Backend for one caller.
type view struct {
	e *Engine
	c api.Caller
}

var _ api.Backend = (*view)(nil)

// admin reports an error unless the caller's transport may administer (enrol, accounts).
// The extension's bridge may not: a web page it runs beside must never reach these.
func (v *view) admin(what string) error {
	switch v.c.Transport {
	case "admin", "tray", "test":
		return nil
	}
	return api.Errorf(api.CodeNotPermitted, "%s is only possible from the tray or the foureyes command, not from %s", what, v.c.Transport)
}

// policyOK reports the invalid-policy error. Callers hold mu.
func (e *Engine) policyOK() error {
	if e.polErr != nil {
		return &api.Error{Code: api.CodeInvalidPolicy, Err: e.polErr,
			Message: fmt.Sprintf("the policy in force (%s) is invalid, so no approvals are possible: %v", e.opts.PolicySource, e.polErr)}
	}
	return nil
}

func (v *view) Status(ctx context.Context) (api.Status, error) {
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	seq, head := e.opts.Audit.Head()
	s := api.Status{
		Version: e.opts.Version, PID: pid, Started: e.started, Home: e.opts.Home,
		AuditLog: e.opts.Audit.Path(), AuditHead: head, AuditSeq: seq,
		PolicySource: e.opts.PolicySource,
		Accounts:     len(e.st.Accounts), Approvers: len(e.st.Approvers),
		BridgeAddr: e.opts.BridgeAddr,
	}
	if e.polErr != nil {
		s.PolicyError = e.polErr.Error()
	}
	if e.keyringErr != nil {
		s.KeyringError = e.keyringErr.Error()
	}
	if e.auditErr != nil {
		s.AuditError = e.auditErr.Error()
	}
	now := e.nowExpiring()
	for _, r := range e.requests {
		if r.State == api.RequestPending && now.Before(r.Expires) {
			s.PendingRequests++
		}
	}
	for _, ss := range e.sessions {
		if ss.State == api.SessionActive && now.Before(ss.Expires) {
			s.OpenSessions++
		}
	}
	if e.opts.Extensions != nil {
		s.Extensions = e.opts.Extensions()
	}
	return s, nil
}

// ---- accounts

var (
	platformRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	handleRE   = regexp.MustCompile(`^[^\s:]{1,200}$`)
)

func (v *view) AddAccount(ctx context.Context, a api.NewAccount) (api.Account, error) {
	if err := v.admin("adding an account"); err != nil {
		return api.Account{}, err
	}
	a.Platform = strings.ToLower(strings.TrimSpace(a.Platform))
	a.Handle = strings.TrimSpace(a.Handle)
	switch {
	case !platformRE.MatchString(a.Platform):
		return api.Account{}, api.Errorf(api.CodeBadRequest, "platform %q is not a platform name such as x, mastodon, facebook", a.Platform)
	case !handleRE.MatchString(a.Handle):
		return api.Account{}, api.Errorf(api.CodeBadRequest, "handle %q must be the account's handle (no spaces or colons), e.g. @ministry", a.Handle)
	case strings.TrimSpace(a.Username) == "":
		return api.Account{}, api.Errorf(api.CodeBadRequest, "the login user name is missing")
	case a.Password == "":
		return api.Account{}, api.Errorf(api.CodeBadRequest, "the password is missing")
	}
	if a.TOTPSeed != "" {
		seed := strings.ToUpper(strings.ReplaceAll(a.TOTPSeed, " ", ""))
		if _, err := rules.CodeAt(seed, 0); err != nil {
			return api.Account{}, api.Errorf(api.CodeBadRequest, "the platform's 2FA seed is not valid base32 (as shown under \"can't scan the code?\")")
		}
		a.TOTPSeed = seed
	}
	id := a.Platform + ":" + a.Handle
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.st.Accounts[id]; ok {
		return api.Account{}, api.Errorf(api.CodeExists, "account %s is already in custody: use foureyes account passwd to change its password", id)
	}
	now := e.clock.Now()
	if err := e.opts.Store.Set(custody.AccountPasswordKey(id), a.Password); err != nil {
		return api.Account{}, keyringError("storing the password in the OS keyring", err)
	}
	undo := func() {
		e.opts.Store.Delete(custody.AccountPasswordKey(id))
		e.opts.Store.Delete(custody.AccountTOTPKey(id))
		delete(e.st.Accounts, id)
	}
	if a.TOTPSeed != "" {
		if err := e.opts.Store.Set(custody.AccountTOTPKey(id), a.TOTPSeed); err != nil {
			undo()
			return api.Account{}, keyringError("storing the 2FA seed in the OS keyring", err)
		}
	}
	acc := &api.Account{ID: id, Platform: a.Platform, Handle: a.Handle, Username: strings.TrimSpace(a.Username),
		Has2FA: a.TOTPSeed != "", Added: now, PasswordChanged: now}
	e.st.Accounts[id] = acc
	if err := e.saveState(); err != nil {
		undo()
		return api.Account{}, err
	}
	if err := e.record(v.c.OSUser, "account_added", SevInfo, map[string]any{
		"account": id, "platform": a.Platform, "username": acc.Username, "has_2fa": acc.Has2FA}); err != nil {
		undo()
		e.saveState()
		return api.Account{}, err
	}
	out := *acc
	go e.publish(api.Event{Kind: api.EventStatus, Message: "account added"})
	return out, nil
}

func (v *view) SetAccountPassword(ctx context.Context, id, password string) error {
	if err := v.admin("changing a password"); err != nil {
		return err
	}
	if password == "" {
		return api.Errorf(api.CodeBadRequest, "the new password is empty")
	}
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	acc, ok := e.st.Accounts[id]
	if !ok {
		return api.Errorf(api.CodeNotFound, "no account %s in custody (foureyes account list shows them)", id)
	}
	old, oldErr := e.opts.Store.Get(custody.AccountPasswordKey(id))
	if err := e.opts.Store.Set(custody.AccountPasswordKey(id), password); err != nil {
		return keyringError("storing the new password in the OS keyring", err)
	}
	prev := acc.PasswordChanged
	acc.PasswordChanged = e.clock.Now()
	restore := func() {
		acc.PasswordChanged = prev
		if oldErr == nil {
			e.opts.Store.Set(custody.AccountPasswordKey(id), old)
		}
	}
	if err := e.saveState(); err != nil {
		restore()
		return err
	}
	if err := e.record(v.c.OSUser, "account_changed", SevInfo, map[string]any{"account": id, "change": "password"}); err != nil {
		restore()
		e.saveState()
		return err
	}
	return nil
}

func (v *view) ListAccounts(ctx context.Context) ([]api.Account, error) {
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]api.Account, 0, len(e.st.Accounts))
	for _, a := range e.st.Accounts {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (v *view) RemoveAccount(ctx context.Context, id string) error {
	if err := v.admin("removing an account"); err != nil {
		return err
	}
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	acc, ok := e.st.Accounts[id]
	if !ok {
		return api.Errorf(api.CodeNotFound, "no account %s in custody (foureyes account list shows them)", id)
	}
	// Requests and sessions for it end with it: only accounts in custody can be published to.
	// Persist, then audit, and undo both if the line cannot be written: the trail never says
	// removed for an account that stayed, nor the other way round.
	w := e.withdrawAccount(id)
	delete(e.st.Accounts, id)
	if err := e.saveState(); err != nil {
		e.st.Accounts[id] = acc
		return err
	}
	if err := e.record(v.c.OSUser, "account_removed", SevInfo, w.note(map[string]any{"account": id})); err != nil {
		e.st.Accounts[id] = acc
		e.saveState()
		return err
	}
	e.apply(w)
	for _, k := range []string{custody.AccountPasswordKey(id), custody.AccountTOTPKey(id)} {
		if err := e.opts.Store.Delete(k); err != nil && !errors.Is(err, custody.ErrNotFound) {
			return keyringError("removing the account's secrets from the OS keyring", err)
		}
	}
	go e.publish(api.Event{Kind: api.EventStatus, Message: "account removed"})
	return nil
}

// ---- approvers

var approverIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (r *approverRec) public() api.Approver {
	return api.Approver{ID: r.ID, Name: r.Name, OSUser: r.OSUser, Confirmed: r.Confirmed,
		Enrolled: r.Enrolled, LockedUntil: r.Throttle.LockedUntil, Disabled: r.Throttle.Disabled,
		Failures: r.Throttle.Consecutive}
}

func (r *approverRec) rules() *rules.Approver {
	return &rules.Approver{ID: r.ID, OSUser: r.OSUser, Confirmed: r.Confirmed, LastStep: r.LastStep, Throttle: r.Throttle}
}

func (v *view) EnrollApprover(ctx context.Context, n api.NewApprover) (api.Enrollment, error) {
	if err := v.admin("enrolling an approver"); err != nil {
		return api.Enrollment{}, err
	}
	n.ID = strings.TrimSpace(n.ID)
	n.Name = strings.TrimSpace(n.Name)
	if !approverIDRE.MatchString(n.ID) {
		return api.Enrollment{}, api.Errorf(api.CodeBadRequest, "approver id %q must be lower-case letters, digits, dot, dash or underscore (e.g. anna.schmidt)", n.ID)
	}
	if n.Name == "" {
		return api.Enrollment{}, api.Errorf(api.CodeBadRequest, "the approver's name is missing (--name)")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: "foureyes", AccountName: n.ID, SecretSize: 20, // 160 bits, RFC 4226's recommendation
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Period: rules.StepSeconds, Rand: rand.Reader,
	})
	if err != nil {
		return api.Enrollment{}, fmt.Errorf("generating the approver's secret: %w", err)
	}
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	old, existed := e.st.Approvers[n.ID]
	oldSecret, oldErr := "", error(nil)
	if existed {
		oldSecret, oldErr = e.opts.Store.Get(custody.ApproverKey(n.ID))
	}
	if err := e.opts.Store.Set(custody.ApproverKey(n.ID), key.Secret()); err != nil {
		return api.Enrollment{}, keyringError("storing the approver's secret in the OS keyring", err)
	}
	rec := &approverRec{ID: n.ID, Name: n.Name, OSUser: strings.TrimSpace(n.OSUser), Enrolled: e.clock.Now()}
	event := "approver_enrolled"
	var withdrawn withdrawal
	if existed {
		// A new phone: the old secret is gone for good. Steps only move forward, so keeping the
		// last accepted step is harmless and keeps replays impossible.
		rec.LastStep = old.LastStep
		if rec.OSUser == "" {
			rec.OSUser = old.OSUser // re-enrolling must not quietly undo the self-approval mapping
		}
		event = "approver_reenrolled"
		// What rests on the old secret no longer counts: a lost phone may be why they re-enrol.
		withdrawn = e.withdrawApprover(n.ID)
	}
	undo := func() {
		if existed {
			// A fresh copy: a code check that read the discarded secret sees a new record and
			// reads the secret again.
			restored := *old
			e.st.Approvers[n.ID] = &restored
			if oldErr == nil {
				e.opts.Store.Set(custody.ApproverKey(n.ID), oldSecret)
			}
		} else {
			delete(e.st.Approvers, n.ID)
			e.opts.Store.Delete(custody.ApproverKey(n.ID))
		}
	}
	e.st.Approvers[n.ID] = rec
	if err := e.saveState(); err != nil {
		undo()
		return api.Enrollment{}, err
	}
	sev := SevInfo
	if existed {
		sev = SevHigh
	}
	if err := e.record(v.c.OSUser, event, sev, withdrawn.note(map[string]any{"approver": n.ID, "name": n.Name, "approver_os_user": rec.OSUser})); err != nil {
		undo()
		e.saveState()
		return api.Enrollment{}, err
	}
	e.apply(withdrawn)
	go e.publish(api.Event{Kind: api.EventStatus, Approver: n.ID, Message: "approver enrolled"})
	return api.Enrollment{Approver: rec.public(), URI: key.URL(), Secret: key.Secret()}, nil
}

func (v *view) ConfirmApprover(ctx context.Context, id, code string) (api.Approver, error) {
	if err := v.admin("confirming an approver"); err != nil {
		return api.Approver{}, err
	}
	e := v.e
	sec := e.readSecret(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, ok := e.st.Approvers[id]
	if !ok {
		return api.Approver{}, api.Errorf(api.CodeNotFound, "no approver %s: enrol them first (foureyes approver enroll %s --name NAME)", id, id)
	}
	if rec.Confirmed {
		return rec.public(), nil
	}
	if err := e.checkCode(v.c, rec, sec, code, map[string]any{"approver": id, "purpose": "confirm"}); err != nil {
		return api.Approver{}, err
	}
	rec.Confirmed = true
	if err := e.saveState(); err != nil {
		rec.Confirmed = false
		return api.Approver{}, err
	}
	if err := e.record(v.c.OSUser, "approver_confirmed", SevInfo, map[string]any{"approver": id}); err != nil {
		rec.Confirmed = false
		e.saveState()
		return api.Approver{}, err
	}
	go e.publish(api.Event{Kind: api.EventStatus, Approver: id, Message: "approver confirmed"})
	return rec.public(), nil
}

// secretRead is an approver's secret, read from the keyring before the engine's lock is taken:
// a keyring call can take a while (D-Bus, an unlock prompt) and must not stall every other
// caller, the tray and the bridge included.
type secretRead struct {
	rec    *approverRec // the record the secret was read for; re-enrolment replaces the record
	read   bool         // false: not read (no such approver, or throttled at the time)
	secret string
	err    error
}

// readSecret reads approver id's secret, unless the approver is throttled or disabled: a refused
// attempt should not reach the keyring (and its unlock prompt) at all. Callers do not hold mu.
func (e *Engine) readSecret(id string) secretRead {
	e.mu.Lock()
	rec := e.st.Approvers[id]
	throttled := rec != nil && rec.Throttle.Check(e.clock.Now()) != nil
	e.mu.Unlock()
	if rec == nil || throttled {
		return secretRead{}
	}
	secret, err := e.opts.Store.Get(custody.ApproverKey(id))
	return secretRead{rec: rec, read: true, secret: secret, err: err}
}

// checkCode runs the code rules for rec, persists the approver's record whatever the outcome
// and audits failures. sec is the secret read beforehand. Callers hold mu.
func (e *Engine) checkCode(c api.Caller, rec *approverRec, sec secretRead, code string, fields map[string]any) error {
	now := e.clock.Now()
	if err := rec.Throttle.Check(now); err != nil {
		return err
	}
	secret, err := sec.secret, sec.err
	if !sec.read || sec.rec != rec {
		// Not read beforehand, or re-enrolled since (both rare): read it now, under the lock.
		secret, err = e.opts.Store.Get(custody.ApproverKey(rec.ID))
	}
	if err != nil {
		return keyringError(fmt.Sprintf("reading approver %s's secret", rec.ID), err)
	}
	ra := rec.rules()
	out, codeErr := rules.CheckCode(e.cfg, ra, secret, code, now)
	if out == (rules.CodeOutcome{}) && codeErr != nil {
		return codeErr // throttled, or the code could not be computed: nothing changed
	}
	before := *rec
	rec.LastStep, rec.Throttle = ra.LastStep, ra.Throttle
	if err := e.saveState(); err != nil {
		*rec = before
		return err
	}
	if out.Failed {
		ev, sev := "code_failed", SevInfo
		if out.Replayed {
			ev, sev = "code_replayed", SevHigh
		}
		f := copyFields(fields)
		f["consecutive_failures"] = rec.Throttle.Consecutive
		if err := e.record(c.OSUser, ev, sev, f); err != nil {
			return err
		}
		if out.LockedOut {
			f := copyFields(fields)
			f["locked_until"] = rec.Throttle.LockedUntil
			f["disabled"] = rec.Throttle.Disabled
			if err := e.record(c.OSUser, "approver_throttled", SevHigh, f); err != nil {
				return err
			}
			go e.publish(api.Event{Kind: api.EventThrottled, Approver: rec.ID,
				Message: fmt.Sprintf("approver %s is locked out after too many wrong codes", rec.ID)})
		}
		return codeErr
	}
	return nil
}

func copyFields(f map[string]any) map[string]any {
	out := make(map[string]any, len(f)+2)
	for k, v := range f {
		out[k] = v
	}
	return out
}

func (v *view) ListApprovers(ctx context.Context) ([]api.Approver, error) {
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]api.Approver, 0, len(e.st.Approvers))
	for _, r := range e.st.Approvers {
		out = append(out, r.public())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (v *view) RemoveApprover(ctx context.Context, id string) error {
	if err := v.admin("removing an approver"); err != nil {
		return err
	}
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, ok := e.st.Approvers[id]
	if !ok {
		return api.Errorf(api.CodeNotFound, "no approver %s (foureyes approver list shows them)", id)
	}
	// Their approvals on requests still waiting for a second approver no longer count, and
	// sessions they approved close.
	// Persist, then audit, and undo both if the line cannot be written.
	w := e.withdrawApprover(id)
	delete(e.st.Approvers, id)
	if err := e.saveState(); err != nil {
		e.st.Approvers[id] = rec
		return err
	}
	if err := e.record(v.c.OSUser, "approver_removed", SevInfo, w.note(map[string]any{"approver": id, "name": rec.Name})); err != nil {
		e.st.Approvers[id] = rec
		e.saveState()
		return err
	}
	e.apply(w)
	if err := e.opts.Store.Delete(custody.ApproverKey(id)); err != nil && !errors.Is(err, custody.ErrNotFound) {
		return keyringError("removing the approver's secret from the OS keyring", err)
	}
	go e.publish(api.Event{Kind: api.EventStatus, Approver: id, Message: "approver removed"})
	return nil
}

func (v *view) UnlockApprover(ctx context.Context, id string) error {
	if err := v.admin("unlocking an approver"); err != nil {
		return err
	}
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, ok := e.st.Approvers[id]
	if !ok {
		return api.Errorf(api.CodeNotFound, "no approver %s (foureyes approver list shows them)", id)
	}
	before := rec.Throttle
	if err := rec.Throttle.Unlock(); err != nil {
		return err
	}
	if err := e.saveState(); err != nil {
		rec.Throttle = before
		return err
	}
	if err := e.record(v.c.OSUser, "approver_unlocked", SevHigh, map[string]any{"approver": id, "consecutive_failures": before.Consecutive}); err != nil {
		rec.Throttle = before
		e.saveState()
		return err
	}
	return nil
}

// ---- requests, approvals, sessions

func (v *view) CreateRequest(ctx context.Context, n api.NewRequest) (api.Request, error) {
	e := v.e
	e.mu.Lock()
	if err := e.policyOK(); err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	// Only an account in custody can be published to under foureyes, so a session is never
	// issued for an account nobody can check.
	if _, ok := e.st.Accounts[n.Account]; !ok && n.Account != "" {
		e.mu.Unlock()
		return api.Request{}, api.Errorf(api.CodeNotFound, "no account %s in custody: foureyes account list shows the accounts that can be requested", n.Account)
	}
	now := e.nowExpiring()
	if m := e.pol.AuthorMark; m != nil && m.Required && !m.Matches(n.Text) {
		e.mu.Unlock()
		hint := m.Hint
		if hint == "" {
			hint = "the policy requires an author mark"
		}
		return api.Request{}, api.Errorf(api.CodeBadRequest, "the text lacks the required author mark: %s", hint)
	}
	open := 0
	for _, r := range e.requests {
		rules.Expire(r, now)
		if r.State == api.RequestPending && r.Requester == v.c.OSUser {
			open++
		}
	}
	r, err := rules.NewRequest(e.cfg, freshID(e.requests, "r", 6), v.c.OSUser, n, digest.Sum(n.Text), open, now)
	if err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	if err := e.record(v.c.OSUser, "request", SevInfo, map[string]any{
		"request_id": r.ID, "account": r.Account, "action": r.Action, "digest": r.Digest,
		"requester": r.Requester, "text": r.Text, "transport": v.c.Transport}); err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	e.requests[r.ID] = &r
	e.mu.Unlock()
	e.publish(api.Event{Kind: api.EventRequest, Request: &r})
	return r, nil
}

func (v *view) ListRequests(ctx context.Context) ([]api.Request, error) {
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.nowExpiring()
	out := make([]api.Request, 0, len(e.requests))
	for _, r := range e.requests {
		rules.Expire(r, now)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

func (e *Engine) findRequest(id string) (*api.Request, error) {
	r, ok := e.requests[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no request %s (it may have been decided more than a day ago, or the daemon restarted)", id)
	}
	return r, nil
}

func (e *Engine) findApprover(id string) (*approverRec, error) {
	rec, ok := e.st.Approvers[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no approver %s (foureyes approver list shows them)", id)
	}
	return rec, nil
}

func (v *view) Approve(ctx context.Context, requestID, approverID, code string) (api.Approval, error) {
	e := v.e
	sec := e.readSecret(approverID)
	e.mu.Lock()
	if err := e.policyOK(); err != nil {
		e.mu.Unlock()
		return api.Approval{}, err
	}
	r, err := e.findRequest(requestID)
	if err != nil {
		e.mu.Unlock()
		return api.Approval{}, err
	}
	rec, err := e.findApprover(approverID)
	if err != nil {
		e.mu.Unlock()
		return api.Approval{}, err
	}
	if _, ok := e.st.Accounts[r.Account]; !ok {
		e.mu.Unlock()
		return api.Approval{}, api.Errorf(api.CodeNotFound, "account %s left custody after request %s was made: nothing can be approved for it", r.Account, r.ID)
	}
	now := e.nowExpiring()
	fields := map[string]any{"request_id": r.ID, "account": r.Account, "approver": rec.ID, "requester": r.Requester}
	needed, err := rules.CanApprove(e.cfg, r, rec.rules(), now)
	if err != nil {
		if api.CodeOf(err) == api.CodeSelfApproval || api.CodeOf(err) == api.CodeNotAuthorised || api.CodeOf(err) == api.CodeOutsideHours {
			f := copyFields(fields)
			f["reason"] = string(api.CodeOf(err))
			e.record(v.c.OSUser, "approval_refused", SevHigh, f)
		}
		e.mu.Unlock()
		return api.Approval{}, err
	}
	if err := e.checkCode(v.c, rec, sec, code, fields); err != nil {
		e.mu.Unlock()
		return api.Approval{}, err
	}
	before := *r
	before.ApprovedBy = slices.Clone(r.ApprovedBy)
	done := rules.RecordApproval(r, rec.ID, needed)
	f := copyFields(fields)
	f["action"], f["digest"], f["text"] = r.Action, r.Digest, r.Text
	f["approver_name"], f["approvals"], f["approvals_needed"] = rec.Name, len(r.ApprovedBy), needed
	if err := e.record(v.c.OSUser, "approval", SevInfo, f); err != nil {
		*r = before
		e.mu.Unlock()
		return api.Approval{}, err
	}
	var sess *api.Session
	if done {
		s := rules.NewSession(e.cfg, freshID(e.sessions, "s", 16), r, now)
		if err := e.record(v.c.OSUser, "session_issued", SevInfo, map[string]any{
			"session_id": s.ID, "request_id": r.ID, "account": s.Account, "action": s.Action,
			"digest": s.Digest, "approved_by": strings.Join(s.ApprovedBy, ","), "expires": s.Expires,
			"requester": s.Requester}); err != nil {
			*r = before
			e.mu.Unlock()
			return api.Approval{}, err
		}
		r.SessionID = s.ID
		e.sessions[s.ID] = &s
		sc := s
		sess = &sc
	}
	out := api.Approval{Request: *r, Session: sess}
	e.mu.Unlock()
	rc := out.Request
	e.publish(api.Event{Kind: api.EventRequest, Request: &rc})
	if sess != nil {
		e.publish(api.Event{Kind: api.EventSession, Session: sess})
	}
	return out, nil
}

func (v *view) Deny(ctx context.Context, requestID, approverID, code string) (api.Request, error) {
	e := v.e
	sec := e.readSecret(approverID)
	e.mu.Lock()
	r, err := e.findRequest(requestID)
	if err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	rec, err := e.findApprover(approverID)
	if err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	if err := rules.CanDeny(e.cfg, r, rec.rules(), e.nowExpiring()); err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	// A denial is final, so it needs the approver's code too: staff cannot deny in their name.
	if err := e.checkCode(v.c, rec, sec, code, map[string]any{"request_id": r.ID, "approver": rec.ID, "purpose": "deny"}); err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	if err := e.record(v.c.OSUser, "request_denied", SevInfo, map[string]any{"request_id": r.ID, "account": r.Account, "approver": rec.ID}); err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	r.State = api.RequestDenied
	out := *r
	e.mu.Unlock()
	e.publish(api.Event{Kind: api.EventRequest, Request: &out})
	return out, nil
}

func (v *view) Cancel(ctx context.Context, requestID string) (api.Request, error) {
	e := v.e
	e.mu.Lock()
	r, err := e.findRequest(requestID)
	if err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	if err := rules.CanCancel(r, v.c.OSUser, e.nowExpiring()); err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	if err := e.record(v.c.OSUser, "request_cancelled", SevInfo, map[string]any{"request_id": r.ID, "account": r.Account}); err != nil {
		e.mu.Unlock()
		return api.Request{}, err
	}
	r.State = api.RequestCanceled
	out := *r
	e.mu.Unlock()
	e.publish(api.Event{Kind: api.EventRequest, Request: &out})
	return out, nil
}

func (v *view) ListSessions(ctx context.Context) ([]api.Session, error) {
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.nowExpiring()
	out := make([]api.Session, 0, len(e.sessions))
	for _, s := range e.sessions {
		rules.ExpireSession(s, now)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Issued.Before(out[j].Issued) })
	return out, nil
}

func (v *view) Consume(ctx context.Context, u api.Use) (api.Session, error) {
	e := v.e
	e.mu.Lock()
	s, ok := e.sessions[u.SessionID]
	if !ok {
		e.mu.Unlock()
		return api.Session{}, api.Errorf(api.CodeNotFound, "no posting session %s (sessions end when the daemon restarts)", u.SessionID)
	}
	before := *s
	dg := u.Digest
	if err := rules.Consume(s, u, e.nowExpiring()); err != nil {
		switch api.CodeOf(err) {
		case api.CodeDigestMismatch:
			e.record(v.c.OSUser, "blocked", SevHigh, map[string]any{"session_id": s.ID, "account": s.Account,
				"reason": "digest_mismatch", "approved_digest": s.Digest, "digest": dg})
		case api.CodeScopeMismatch:
			e.record(v.c.OSUser, "blocked", SevHigh, map[string]any{"session_id": s.ID, "account": s.Account,
				"action": s.Action, "reason": "scope_mismatch", "used_account": firstWords(u.Account, 256),
				"used_action": firstWords(u.Action, 32)})
		}
		e.mu.Unlock()
		return api.Session{}, err
	}
	if err := e.record(v.c.OSUser, "session_consumed", SevInfo, map[string]any{"session_id": s.ID, "account": s.Account, "digest": dg}); err != nil {
		*s = before // the gate stays shut if the audit line is missing
		e.mu.Unlock()
		return api.Session{}, err
	}
	out := *s
	e.mu.Unlock()
	e.publish(api.Event{Kind: api.EventSession, Session: &out})
	return out, nil
}

func (v *view) ReportPublished(ctx context.Context, sessionID, dg string) error {
	e := v.e
	e.mu.Lock()
	s, ok := e.sessions[sessionID]
	if !ok {
		e.mu.Unlock()
		return api.Errorf(api.CodeNotFound, "no posting session %s", sessionID)
	}
	if s.State != api.SessionConsumed {
		e.mu.Unlock()
		return api.Errorf(api.CodeBadRequest, "session %s was not opened for a publish (it is %s)", s.ID, s.State)
	}
	// Every report is recorded, a repeated one too: refusing it silently would let a quick
	// "all is well" report drown the extension's real one.
	repeat := s.Published
	var req *api.Request
	if r, ok := e.requests[s.RequestID]; ok {
		req = r
	}
	fields := map[string]any{"session_id": s.ID, "account": s.Account, "action": s.Action,
		"digest": dg, "approved_digest": s.Digest, "approved_by": strings.Join(s.ApprovedBy, ","),
		"transport": v.c.Transport}
	if req != nil {
		fields["text"] = req.Text
	}
	if repeat {
		fields["repeated"] = true
	}
	var refusal error
	ev, sev := "published", SevInfo
	switch {
	case dg != s.Digest:
		ev, sev = "publish_mismatch", SevHigh
		refusal = api.Errorf(api.CodeDigestMismatch, "what was published is not the approved text: this is recorded as an alarm")
	case repeat:
		ev, sev = "publish_repeated", SevHigh
		refusal = api.Errorf(api.CodeAlreadyUsed, "what went out under session %s was already reported (one session, one publish): this second report is recorded as an alarm", s.ID)
	}
	if err := e.record(v.c.OSUser, ev, sev, fields); err != nil {
		e.mu.Unlock()
		return err
	}
	s.Published = true
	sc := *s
	e.mu.Unlock()
	e.publish(api.Event{Kind: api.EventPublished, Session: &sc, Message: ev})
	return refusal
}

func (v *view) ReportBlocked(ctx context.Context, b api.Blocked) error {
	if b.Host == "" || b.Reason == "" {
		return api.Errorf(api.CodeBadRequest, "a blocked report needs host and reason")
	}
	e := v.e
	e.mu.Lock()
	err := e.record(v.c.OSUser, "blocked", SevInfo, map[string]any{"account": b.Account, "host": firstWords(b.Host, 200),
		"reason": firstWords(b.Reason, 200), "digest": b.Digest, "transport": v.c.Transport})
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.publish(api.Event{Kind: api.EventBlocked, Message: fmt.Sprintf("%s: %s", b.Host, b.Reason)})
	return nil
}

func (v *view) Lock(ctx context.Context, reason string) (api.LockResult, error) {
	e := v.e
	e.mu.Lock()
	var res api.LockResult
	for _, s := range e.sessions {
		if rules.Revoke(s) {
			res.Sessions++
		}
	}
	for _, r := range e.requests {
		if rules.RevokeRequest(r) {
			res.Requests++
		}
	}
	// The revocation stands even if the audit line fails: failing closed means locking anyway.
	err := e.record(v.c.OSUser, "lock", SevHigh, map[string]any{"reason": firstWords(reason, 200),
		"sessions_revoked": res.Sessions, "requests_revoked": res.Requests})
	e.mu.Unlock()
	e.publish(api.Event{Kind: api.EventLock, Message: fmt.Sprintf("locked: %d sessions and %d requests revoked", res.Sessions, res.Requests)})
	return res, err
}

func (v *view) Watch(ctx context.Context) (<-chan api.Event, error) {
	ch := v.e.watch()
	out := make(chan api.Event, 64)
	go func() {
		defer close(out)
		defer v.e.unwatch(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (v *view) ExtensionAllowed(ctx context.Context, browser, id, manifest string) error {
	if err := v.admin("allowing an extension"); err != nil {
		return err
	}
	e := v.e
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.record(v.c.OSUser, "extension_allowed", SevHigh, map[string]any{"browser": browser, "extension_id": id, "manifest": manifest})
}
