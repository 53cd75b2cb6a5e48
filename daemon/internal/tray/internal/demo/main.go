// Command demo runs the tray over an in-memory backend frozen in one state, for screenshots,
// for measuring what the tray itself costs, and for trying the menu without a daemon. It is a
// development tool: nothing in it is ever shipped.
//
//	demo -state ready|session|locked|problem|busy   show the tray
//	demo -pages DIR                                  save the local pages' HTML to DIR and exit
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pquerna/otp/totp"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/localui"
	"foureyes/daemon/internal/tray"
)

// backend is a fake api.Backend holding one fixed state. Calls the tray and the local pages
// never make panic through the nil embedded interface.
type backend struct {
	api.Backend
	mu        sync.Mutex
	status    api.Status
	requests  []api.Request
	sessions  []api.Session
	lockFirst bool
	events    chan api.Event
	approvers map[string]api.Approver
	secrets   map[string]string
	accounts  []api.Account
}

func newBackend(state string) (*backend, error) {
	now := time.Now()
	b := &backend{
		status: api.Status{
			Version: "0.9.0-demo", PID: os.Getpid(), Started: now.Add(-3 * time.Hour),
			PolicySource: "/etc/foureyes/policy.json", AuditLog: filepath.Join(os.TempDir(), "foureyes-demo", "audit.jsonl"),
			Accounts: 3, Approvers: 2, Extensions: 1,
		},
		events:    make(chan api.Event, 1),
		approvers: map[string]api.Approver{"press-mueller": {ID: "press-mueller", Name: "Jana Müller", Confirmed: true, Enrolled: now.Add(-720 * time.Hour)}},
		secrets:   map[string]string{},
		accounts: []api.Account{
			{ID: "mastodon:ministerium", Platform: "mastodon", Handle: "ministerium", Username: "presse@ministerium.example", Has2FA: true, Added: now.Add(-2000 * time.Hour), PasswordChanged: now.Add(-300 * time.Hour)},
			{ID: "bluesky:ministerium.example", Platform: "bluesky", Handle: "ministerium.example", Username: "presse@ministerium.example", Added: now.Add(-1500 * time.Hour), PasswordChanged: now.Add(-1500 * time.Hour)},
		},
	}
	req := api.Request{
		ID: "r-41", Account: "mastodon:ministerium", Action: api.ActionPost, Requester: "anna",
		Text:    "Heute eröffnet die Ministerin die neue Gesamtschule in Nordstadt. Wir berichten ab 11 Uhr live.",
		Created: now.Add(-2 * time.Minute), Expires: now.Add(8 * time.Minute), State: api.RequestPending, ApprovalsNeeded: 1,
	}
	reply := api.Request{
		ID: "r-42", Account: "bluesky:ministerium.example", Action: api.ActionReply, Requester: "anna",
		Text:    "Danke für die Frage! Die Antragsfrist endet am 15. Dezember.",
		Created: now.Add(-3 * time.Minute), Expires: now.Add(7 * time.Minute), State: api.RequestApproved,
		ApprovalsNeeded: 1, ApprovedBy: []string{"press-mueller"}, SessionID: "s-7",
	}
	sess := api.Session{
		ID: "s-7", RequestID: "r-42", Account: reply.Account, Action: reply.Action, Requester: "anna",
		ApprovedBy: []string{"press-mueller"}, Issued: now.Add(-time.Minute), Expires: now.Add(9*time.Minute + 30*time.Second), State: api.SessionActive,
	}
	switch state {
	case "ready":
	case "busy":
		b.requests = []api.Request{req}
	case "session":
		b.requests, b.sessions = []api.Request{req, reply}, []api.Session{sess}
	case "locked":
		b.lockFirst = true
	case "problem":
		b.status.KeyringError = "failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"
		b.status.Extensions = 0
	default:
		return nil, fmt.Errorf("unknown state %q (ready, busy, session, locked, problem)", state)
	}
	return b, nil
}

func (b *backend) Status(context.Context) (api.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status, nil
}

func (b *backend) ListRequests(context.Context) ([]api.Request, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests, nil
}

func (b *backend) ListSessions(context.Context) ([]api.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions, nil
}

func (b *backend) Watch(ctx context.Context) (<-chan api.Event, error) {
	if b.lockFirst {
		b.events <- api.Event{Kind: api.EventLock, Time: time.Now(), Message: "Locked from the tray: 1 session and 1 request revoked."}
	}
	out := make(chan api.Event)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-b.events:
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

func (b *backend) Lock(context.Context, string) (api.LockResult, error) {
	b.mu.Lock()
	n := api.LockResult{Sessions: len(b.sessions), Requests: len(b.requests)}
	b.sessions, b.requests = nil, nil
	b.mu.Unlock()
	b.events <- api.Event{Kind: api.EventLock, Time: time.Now()}
	return n, nil
}

func (b *backend) EnrollApprover(_ context.Context, n api.NewApprover) (api.Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "foureyes", AccountName: n.ID})
	if err != nil {
		return api.Enrollment{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a := api.Approver{ID: n.ID, Name: n.Name, OSUser: n.OSUser, Enrolled: time.Now()}
	b.approvers[n.ID], b.secrets[n.ID] = a, key.Secret()
	return api.Enrollment{Approver: a, URI: key.URL(), Secret: key.Secret()}, nil
}

func (b *backend) ConfirmApprover(_ context.Context, id, code string) (api.Approver, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.approvers[id]
	if !ok || !totp.Validate(code, b.secrets[id]) {
		return api.Approver{}, api.Errorf(api.CodeBadCode, "wrong code")
	}
	a.Confirmed = true
	b.approvers[id] = a
	return a, nil
}

func (b *backend) ListApprovers(context.Context) ([]api.Approver, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []api.Approver
	for _, a := range b.approvers {
		out = append(out, a)
	}
	return out, nil
}

func (b *backend) ListAccounts(context.Context) ([]api.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.accounts, nil
}

// logNotifier prints notifications instead of showing them: a bare X server has no
// notification service.
type logNotifier struct{}

func (logNotifier) Notify(_ context.Context, n tray.Notification) error {
	log.Printf("notification: %s: %s", n.Title, n.Body)
	return nil
}

func main() {
	state := flag.String("state", "ready", "state to show: ready, busy, session, locked or problem")
	pages := flag.String("pages", "", "save the local pages' HTML to this folder and exit")
	flag.Parse()
	b, err := newBackend(*state)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The handoff files go to a folder of the demo's own, removed when it ends.
	handoffs, err := os.MkdirTemp("", "foureyes-demo-")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(handoffs) }()
	ui, err := localui.New(b, localui.Options{HandoffDir: handoffs})
	if err != nil {
		log.Fatal(err)
	}
	if err := ui.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if *pages != "" {
		if err := savePages(ui, b, *pages); err != nil {
			log.Fatal(err)
		}
		return
	}
	if ok, reason := tray.Available(); !ok {
		log.Fatalf("no tray: %s", reason)
	}
	log.Printf("tray demo in state %q, pid %d", *state, os.Getpid())
	err = tray.Run(ctx, b, tray.Options{
		Version: "0.9.0-demo", OnQuit: stop, UIURL: ui.Handoff, Notifier: logNotifier{},
		OpenURL: func(u string) error { log.Printf("would open %s", u); return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
}

// savePages walks the enrolment and accounts pages the way a browser would and saves each step
// as a standalone HTML file, for screenshots.
func savePages(ui *localui.Server, b *backend, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Like a browser, no Origin on the GET that follows a redirect.
	c := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		req.Header.Del("Origin")
		return nil
	}}
	origin := "http://" + ui.Addr()
	fetch := func(req *http.Request) (string, error) {
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	// base is the page's secret address, learnt when the handoff's token is redeemed.
	var base string
	post := func(path string, form url.Values) (string, error) {
		req, _ := http.NewRequest(http.MethodPost, origin+base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		return fetch(req)
	}
	save := func(name, body string) error {
		return os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)

	// Open the page as the browser does: read the handoff file, post its token.
	u, err := ui.Handoff("enrol")
	if err != nil {
		return err
	}
	fu, err := url.Parse(u)
	if err != nil {
		return err
	}
	handoff, err := os.ReadFile(fu.Path)
	if err != nil {
		return err
	}
	tm := regexp.MustCompile(`name="t" value="([^"]+)"`).FindSubmatch(handoff)
	if tm == nil {
		return fmt.Errorf("no token in the handoff file")
	}
	req, _ := http.NewRequest(http.MethodPost, origin+"/open", strings.NewReader(url.Values{"t": {string(tm[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "null")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	form := string(body)
	base = strings.TrimSuffix(resp.Request.URL.Path, "/enrol")
	m := csrf.FindStringSubmatch(form)
	if m == nil {
		return fmt.Errorf("no csrf token on the enrol page")
	}
	steps := []struct {
		name string
		form url.Values
	}{
		{"enrol-1-form.html", nil},
		{"enrol-2-qr.html", url.Values{"op": {"enrol"}, "id": {"press-schmidt"}, "name": {"Tobias Schmidt"}, "os_user": {"tschmidt"}}},
		{"enrol-3-confirmed.html", url.Values{"op": {"confirm"}, "id": {"press-schmidt"}}},
		{"enrol-reenrol-warning.html", url.Values{"op": {"enrol"}, "id": {"press-mueller"}, "name": {"Jana Müller"}}},
	}
	for _, s := range steps {
		body := form
		if s.form != nil {
			s.form.Set("csrf", m[1])
			if s.form.Get("op") == "confirm" {
				b.mu.Lock()
				code, err := totp.GenerateCode(b.secrets["press-schmidt"], time.Now())
				b.mu.Unlock()
				if err != nil {
					return err
				}
				s.form.Set("code", code)
			}
			if body, err = post("/enrol", s.form); err != nil {
				return err
			}
		}
		if err := save(s.name, body); err != nil {
			return err
		}
	}
	req, _ = http.NewRequest(http.MethodGet, origin+base+"/accounts", nil)
	accounts, err := fetch(req)
	if err != nil {
		return err
	}
	return save("accounts.html", accounts)
}
