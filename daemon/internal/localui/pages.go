package localui

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/platforms"
	"foureyes/daemon/internal/qr"
)

// platformChoice is one platform of the add-account form, from the shared platform table.
type platformChoice struct {
	ID, Name string
	Selected bool
}

// platformChoices lists the governed platforms, which the form offers, and the names of the
// planned ones, which it names as not governed yet.
func platformChoices(selected string) (offered []platformChoice, planned []string) {
	for _, p := range platforms.All() {
		if p.Supported() {
			offered = append(offered, platformChoice{ID: p.ID, Name: p.Name, Selected: p.ID == selected})
		} else {
			planned = append(planned, p.Name)
		}
	}
	return offered, planned
}

// enrolView is everything the enrolment page can show.
type enrolView struct {
	Base      string // the page's secret path prefix, "/s/<id>"
	CSRF      string
	Error     string
	Approvers []api.Approver
	// Form values echoed back after an error or for the re-enrolment warning (no secrets).
	ID, Name, OSUser string
	// Replace is set when ID is already enrolled and the page asks before replacing it.
	Replace bool
	// Pending is the enrolment waiting for its first code.
	Pending   *api.Enrollment
	QR        template.URL
	Secret    string // grouped in fours for reading aloud or typing
	Digits    string
	Period    string
	Algorithm string
	Confirmed *api.Approver
	// Vouchers are the confirmed approvers who may vouch for an enrolment with their code; none
	// before the first approver is confirmed (the bootstrap).
	Vouchers []api.Approver
	By       string
}

func (s *Server) enrolGet(w http.ResponseWriter, r *http.Request, sess *session) {
	s.renderEnrol(w, r, sess, enrolView{}, http.StatusOK)
}

func (s *Server) enrolPost(w http.ResponseWriter, r *http.Request, sess *session) {
	f := r.PostForm
	switch f.Get("op") {
	case "enrol":
		v := enrolView{ID: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")), OSUser: strings.TrimSpace(f.Get("os_user")),
			By: strings.TrimSpace(f.Get("by"))}
		// Another approver's current code vouches for the change (never echoed back: it counts once).
		by := api.Authority{Approver: v.By, Code: strings.Join(strings.Fields(f.Get("by_code")), "")}
		if by.Approver == "" {
			by.Code = ""
		}
		if v.ID == "" || v.Name == "" {
			v.Error = "Give the approver an ID and a name."
			s.renderEnrol(w, r, sess, v, http.StatusBadRequest)
			return
		}
		if f.Get("replace") != "yes" && s.approverExists(r, v.ID) {
			// Replacing a secret locks the old phone out: ask first.
			v.Replace = true
			s.renderEnrol(w, r, sess, v, http.StatusOK)
			return
		}
		e, err := s.b.EnrollApprover(r.Context(), api.NewApprover{ID: v.ID, Name: v.Name, OSUser: v.OSUser, By: by})
		if err != nil {
			s.logInternal("enrolling an approver", err)
			v.Error = userMessage(err)
			s.renderEnrol(w, r, sess, v, statusFor(err))
			return
		}
		s.mu.Lock()
		sess.enrolment = &e
		s.mu.Unlock()
		http.Redirect(w, r, sess.base+"/enrol", http.StatusSeeOther)
	case "confirm":
		s.mu.Lock()
		pending := sess.enrolment
		s.mu.Unlock()
		if pending == nil || pending.Approver.ID != f.Get("id") {
			s.renderEnrol(w, r, sess, enrolView{Error: "There is no enrolment waiting for this approver. Start again."}, http.StatusBadRequest)
			return
		}
		code := strings.Join(strings.Fields(f.Get("code")), "")
		a, err := s.b.ConfirmApprover(r.Context(), pending.Approver.ID, code)
		if err != nil {
			s.logInternal("confirming an approver", err)
			s.renderEnrol(w, r, sess, enrolView{Error: userMessage(err)}, statusFor(err))
			return
		}
		s.mu.Lock()
		sess.enrolment = nil
		s.mu.Unlock()
		s.renderEnrol(w, r, sess, enrolView{Confirmed: &a}, http.StatusOK)
	case "cancel":
		s.mu.Lock()
		sess.enrolment = nil
		s.mu.Unlock()
		http.Redirect(w, r, sess.base+"/enrol", http.StatusSeeOther)
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

func (s *Server) approverExists(r *http.Request, id string) bool {
	list, err := s.b.ListApprovers(r.Context())
	if err != nil {
		// Unknown: warn rather than silently replace someone's phone.
		return true
	}
	return slices.ContainsFunc(list, func(a api.Approver) bool { return a.ID == id })
}

func (s *Server) renderEnrol(w http.ResponseWriter, r *http.Request, sess *session, v enrolView, status int) {
	var err error
	v.Base = sess.base
	if v.CSRF, err = s.csrfToken(sess, "enrol"); err != nil {
		s.opts.Logf("%v", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.Confirmed == nil {
		s.mu.Lock()
		v.Pending = sess.enrolment
		s.mu.Unlock()
	}
	if v.Pending != nil {
		img, err := qr.DataURI(v.Pending.URI, 320)
		if err != nil {
			s.opts.Logf("local ui: %v", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		v.QR = template.URL(img) // our own data: URI, built just now
		v.Secret = groupSecret(v.Pending.Secret)
		v.Digits, v.Period, v.Algorithm = "6", "30", "SHA1"
		if u, err := url.Parse(v.Pending.URI); err == nil {
			q := u.Query()
			v.Digits = valueOr(q.Get("digits"), v.Digits)
			v.Period = valueOr(q.Get("period"), v.Period)
			v.Algorithm = valueOr(q.Get("algorithm"), v.Algorithm)
		}
	} else if v.Confirmed == nil {
		v.Approvers, _ = s.b.ListApprovers(r.Context())
		for _, a := range v.Approvers {
			if a.Confirmed && !a.Unverified && !a.Disabled && a.ID != v.ID {
				v.Vouchers = append(v.Vouchers, a)
			}
		}
	}
	writePage(w, status, "enrol", v)
}

// accountsView is everything the accounts page can show. It never holds a password.
type accountsView struct {
	Base      string // the page's secret path prefix, "/s/<id>"
	CSRF      string
	Error     string
	Flash     string
	Accounts  []api.Account
	Platforms []platformChoice
	// Planned names the platforms of the table that are not governed yet.
	Planned string
	// Add-form values echoed back after an error (never the password or seed).
	Platform, Handle, Username string
}

func (s *Server) accountsGet(w http.ResponseWriter, r *http.Request, sess *session) {
	s.renderAccounts(w, r, sess, accountsView{Flash: s.takeFlash(sess)}, http.StatusOK)
}

func (s *Server) accountsPost(w http.ResponseWriter, r *http.Request, sess *session) {
	f := r.PostForm
	ctx := r.Context()
	switch f.Get("op") {
	case "add":
		na := api.NewAccount{
			Platform: strings.TrimSpace(f.Get("platform")), Handle: strings.TrimSpace(f.Get("handle")),
			Username: strings.TrimSpace(f.Get("username")), Password: f.Get("password"),
			TOTPSeed: strings.Join(strings.Fields(f.Get("totp_seed")), ""),
		}
		v := accountsView{Platform: na.Platform, Handle: na.Handle, Username: na.Username}
		if na.Platform == "" || na.Handle == "" || na.Username == "" || na.Password == "" {
			v.Error = "Platform, handle, login name and password are all needed."
			s.renderAccounts(w, r, sess, v, http.StatusBadRequest)
			return
		}
		// The form offers only governed platforms; a hand-made request gets the same answer
		// the daemon would give.
		if err := platforms.Governed(na.Platform); err != nil {
			v.Error = err.Error()
			s.renderAccounts(w, r, sess, v, http.StatusBadRequest)
			return
		}
		a, err := s.b.AddAccount(ctx, na)
		if err != nil {
			s.logInternal("adding an account", err, na.Password, na.TOTPSeed)
			v.Error = userMessage(err, na.Password, na.TOTPSeed)
			s.renderAccounts(w, r, sess, v, statusFor(err))
			return
		}
		s.setFlash(sess, "Added "+a.ID+". Its password is in the keyring; nobody needs to know it any more.")
	case "password":
		id, pw := f.Get("id"), f.Get("password")
		if pw == "" {
			s.renderAccounts(w, r, sess, accountsView{Error: "Type the new password."}, http.StatusBadRequest)
			return
		}
		if err := s.b.SetAccountPassword(ctx, id, pw); err != nil {
			s.logInternal("changing an account password", err, pw)
			s.renderAccounts(w, r, sess, accountsView{Error: userMessage(err, pw)}, statusFor(err))
			return
		}
		s.setFlash(sess, "Stored the new password for "+id+".")
	case "remove":
		id := f.Get("id")
		if f.Get("confirm") != "yes" {
			s.renderAccounts(w, r, sess, accountsView{Error: "Tick the box to confirm removing " + id + "."}, http.StatusBadRequest)
			return
		}
		if err := s.b.RemoveAccount(ctx, id); err != nil {
			s.logInternal("removing an account", err)
			s.renderAccounts(w, r, sess, accountsView{Error: userMessage(err)}, statusFor(err))
			return
		}
		s.setFlash(sess, "Removed "+id+" and its stored password.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	// Redirect after a change, so reloading the page does not send the form again.
	http.Redirect(w, r, sess.base+"/accounts", http.StatusSeeOther)
}

func (s *Server) renderAccounts(w http.ResponseWriter, r *http.Request, sess *session, v accountsView, status int) {
	var err error
	v.Base = sess.base
	if v.CSRF, err = s.csrfToken(sess, "accounts"); err != nil {
		s.opts.Logf("%v", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var planned []string
	v.Platforms, planned = platformChoices(v.Platform)
	v.Planned = strings.Join(planned, ", ")
	list, err := s.b.ListAccounts(r.Context())
	if err != nil && v.Error == "" {
		v.Error = userMessage(err)
	}
	v.Accounts = list
	writePage(w, status, "accounts", v)
}

// logInternal logs backend errors that are bugs; expected refusals are the user's to read.
func (s *Server) logInternal(what string, err error, secrets ...string) {
	if api.CodeOf(err) == api.CodeInternal {
		s.opts.Logf("local ui: %s: %s", what, scrub(err.Error(), secrets...))
	}
}

func statusFor(err error) int {
	switch api.CodeOf(err) {
	case api.CodeNotFound:
		return http.StatusNotFound
	case api.CodeExists:
		return http.StatusConflict
	case api.CodeThrottled:
		return http.StatusTooManyRequests
	case api.CodeBadRequest, api.CodeBadCode, api.CodeReplayed:
		return http.StatusBadRequest
	case api.CodeNotPermitted, api.CodeForbidden:
		return http.StatusForbidden
	case api.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusConflict
}

func groupSecret(s string) string {
	s = strings.TrimRight(strings.ToUpper(s), "=")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// writePage renders a whole page into memory first, so a template error cannot leave half a
// page behind a 200.
func writePage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w) // the browser went away: nothing to do
}

func renderTemplate(w http.ResponseWriter, name string, data any) {
	_ = templates.ExecuteTemplate(w, name, data) // as in writePage
}
