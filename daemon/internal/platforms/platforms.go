// Package platforms is the daemon's view of the platform table, shared/platforms.json, embedded
// at build time from the repo's shared/ folder (the extension ships a copy of the same file).
// The table is parsed and checked once, against shared/platforms.schema.json and against what
// the schema cannot say (ids and hosts unique, every regular expression valid RE2 and anchored).
// The embedded table is checked by this package's tests, so a broken table fails the build's
// tests, not a user's daemon.
package platforms

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"foureyes/daemon/internal/api"
	"foureyes/shared"
)

// Platform statuses.
const (
	// StatusSupported platforms are governed: the extension gates them, accounts may be added.
	StatusSupported = "supported"
	// StatusPlanned platforms are listed with their hosts but carry no rules yet.
	StatusPlanned = "planned"
)

// Platform is one entry of the table: the parts the daemon uses.
type Platform struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Tier   int      `json:"tier"`
	Status string   `json:"status"` // StatusSupported or StatusPlanned
	Hosts  []string `json:"hosts"`
	// InstancesFromPolicy is set for platforms whose hosts are named by the policy (Mastodon's
	// self-hosted instances, in the policy's mastodon_instances).
	InstancesFromPolicy bool `json:"instances_from_policy,omitempty"`
	// MaxLength is the most characters one post may have on the platform (0: not known).
	MaxLength int `json:"max_length,omitempty"`
	// APIHosts are where the platform's pages send their API calls (Bluesky's PDS hosts): host
	// names, or "*." and a host name (any host under it). Publishing paths apply to these.
	APIHosts []string `json:"api_hosts,omitempty"`
	// Publish lists the requests that publish, which the extension's network gate blocks.
	Publish []Endpoint `json:"publish,omitempty"`
	// Rotatable is set when the table describes the platform's change-password form (its
	// "password" entry): only then can foureyes change the account's password itself.
	Rotatable bool `json:"-"`
	// passwordPersonStep is set when a step of the change-password form needs a person
	// (password.steps with a "person" step): then no change runs unattended.
	passwordPersonStep bool
}

// Endpoint is one publishing request of a platform.
type Endpoint struct {
	Action string `json:"action"`
	Method string `json:"method"`
	// Exactly one of URLRegex (full URL) and PathRegex (path and query, any of the hosts).
	URLRegex  string `json:"url_regex,omitempty"`
	PathRegex string `json:"path_regex,omitempty"`
	BodyText  string `json:"body_text,omitempty"`
	// BodyMatch, when set, makes the request this endpoint only when its JSON body has Equals
	// at Path (a "*" segment: any element of an array).
	BodyMatch *BodyMatch `json:"body_match,omitempty"`
	// BodyMedia, BodyTarget and URLTarget say where the request carries the attached media ids
	// and the answered, quoted or reposted post (the extension checks them against the approval).
	BodyMedia  Paths    `json:"body_media,omitempty"`
	BodyTarget []string `json:"body_target,omitempty"`
	URLTarget  string   `json:"url_target,omitempty"`
}

// Paths is one dotted path or a list of them: in the table a text or a list of texts (a
// request may carry its media ids in more than one place, as Bluesky's quote with images does).
type Paths []string

// UnmarshalJSON takes a text (one path) or a list of texts.
func (p *Paths) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = Paths{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("want a path or a list of paths: %w", err)
	}
	*p = list
	return nil
}

// BodyMatch keys an endpoint by its request body.
type BodyMatch struct {
	Path   string   `json:"path"`
	Equals string   `json:"equals"`
	Also   []string `json:"also,omitempty"`
}

// bodyPath is a dotted path into a JSON body; "*" stands for any element of an array.
var bodyPath = regexp.MustCompile(`^([A-Za-z0-9_$]+|\*)(\.([A-Za-z0-9_$]+|\*))*$`)

// hostLabel is one DNS label, lower case.
var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckHostPattern accepts an API host of the table: a lower-case host name of two labels or
// more, optionally preceded by "*." (any host under it). Nothing else is a wildcard.
func CheckHostPattern(h string) error {
	rest := strings.TrimPrefix(h, "*.")
	labels := strings.Split(rest, ".")
	if len(rest) > 253 || len(labels) < 2 {
		return fmt.Errorf("api host %q: want a host name of two labels or more, optionally after a leading *. wildcard", h)
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return fmt.Errorf("api host %q: %q is not a lower-case host label (the only wildcard is a leading *.)", h, l)
		}
	}
	return nil
}

// MatchHost reports whether host is pattern: the same name, or for "*.suffix" a host under suffix.
func MatchHost(pattern, host string) bool {
	host = asciiLower(strings.TrimSuffix(host, "."))
	if CheckHostPattern(pattern) != nil {
		return false
	}
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return host == pattern
}

// Supported reports whether the platform is governed.
func (p Platform) Supported() bool { return p.Status == StatusSupported }

// RotatesUnattended reports whether foureyes can change the platform's password with nobody at
// the browser: the table describes its change-password form (Rotatable) and no step of it needs
// a person. Custody one_time changes the password after every posting session, so it is
// accepted only where this holds. The extension's twin is rotatesUnattended in
// extension/unpacked/lib/rotation.js.
func (p Platform) RotatesUnattended() bool {
	return p.Supported() && p.Rotatable && !p.passwordPersonStep
}

// The embedded table is checked against its schema by the tests (TestEmbeddedTable), not at
// every start: the daemon then links no JSON Schema compiler, which costs memory all day.
var load = sync.OnceValues(func() ([]Platform, error) {
	return parse(shared.PlatformsJSON)
})

func table() []Platform {
	t, err := load()
	if err != nil {
		// TestEmbeddedTable fails first; a daemon built from a broken table must not guess.
		panic("platforms: the embedded shared/platforms.json is invalid: " + err.Error())
	}
	return t
}

// All returns every platform, in table order. The slice is a copy.
func All() []Platform {
	t := table()
	out := make([]Platform, len(t))
	for i, p := range t {
		out[i] = p.clone()
	}
	return out
}

// Get returns the platform with id. Ids are compared regardless of the case of ASCII letters,
// as account ids are.
func Get(id string) (Platform, bool) {
	id = asciiLower(id)
	for _, p := range table() {
		if p.ID == id {
			return p.clone(), true
		}
	}
	return Platform{}, false
}

// Governed returns nil when id names a supported platform. For a planned platform, or an id the
// table does not know, it returns an *api.Error with code api.CodeBadRequest that says which
// platforms are governed.
func Governed(id string) error {
	p, ok := Get(id)
	switch {
	case !ok:
		return api.Errorf(api.CodeBadRequest, "unknown platform %q: the platform ids are %s", id, strings.Join(ids(nil), ", "))
	case !p.Supported():
		return api.Errorf(api.CodeBadRequest, "%s is not governed yet: foureyes supports %s", p.Name, strings.Join(names(Platform.Supported), ", "))
	}
	return nil
}

func ids(keep func(Platform) bool) []string {
	var out []string
	for _, p := range table() {
		if keep == nil || keep(p) {
			out = append(out, p.ID)
		}
	}
	return out
}

func names(keep func(Platform) bool) []string {
	var out []string
	for _, p := range table() {
		if keep(p) {
			out = append(out, p.Name)
		}
	}
	return out
}

func (p Platform) clone() Platform {
	p.Hosts = slices.Clone(p.Hosts)
	p.Publish = slices.Clone(p.Publish)
	p.APIHosts = slices.Clone(p.APIHosts)
	for i := range p.Publish {
		p.Publish[i].BodyTarget = slices.Clone(p.Publish[i].BodyTarget)
		p.Publish[i].BodyMedia = slices.Clone(p.Publish[i].BodyMedia)
	}
	return p
}

// parse reads a table and checks the rules the schema cannot express (parseChecked, in the
// tests, checks the schema first).
func parse(data []byte) ([]Platform, error) {
	// The schema closes every object; the decoder reads only the keys the daemon uses.
	var f struct {
		Platforms []struct {
			Platform
			Actions []struct {
				URLRegex string `json:"url_regex"`
			} `json:"actions"`
			Password *passwordSpec `json:"password"`
			Media    *mediaSpec    `json:"media"`
			Target   *targetSpec   `json:"target"`
		} `json:"platforms"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("platform table: %w", err)
	}
	var out []Platform
	seenID := map[string]bool{}
	seenHost := map[string]string{}
	for i, e := range f.Platforms {
		p := e.Platform
		where := fmt.Sprintf("platform table: platforms[%d] (%s)", i, p.ID)
		if e.Password != nil {
			if err := e.Password.check(); err != nil {
				return nil, fmt.Errorf("%s: password: %w", where, err)
			}
			p.Rotatable = true
			p.passwordPersonStep = slices.ContainsFunc(e.Password.Steps, func(st passwordStep) bool { return st.Person != "" })
		}
		if seenID[p.ID] {
			return nil, fmt.Errorf("%s: id %q is used twice", where, p.ID)
		}
		seenID[p.ID] = true
		for _, h := range p.Hosts {
			if other, dup := seenHost[h]; dup {
				return nil, fmt.Errorf("%s: host %q is also listed for %s", where, h, other)
			}
			seenHost[h] = p.ID
		}
		for _, h := range p.APIHosts {
			if err := CheckHostPattern(h); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if other, dup := seenHost[h]; dup {
				return nil, fmt.Errorf("%s: host %q is also listed for %s", where, h, other)
			}
			seenHost[h] = p.ID
		}
		if p.Supported() && len(p.Publish) == 0 {
			return nil, fmt.Errorf("%s: a supported platform needs at least one publish endpoint", where)
		}
		if p.Supported() && len(p.Hosts) == 0 && !p.InstancesFromPolicy {
			return nil, fmt.Errorf("%s: a supported platform needs hosts, or instances_from_policy", where)
		}
		for j, ep := range p.Publish {
			for _, re := range []string{ep.URLRegex, ep.PathRegex} {
				if re == "" {
					continue
				}
				if err := checkRegex(re, true); err != nil {
					return nil, fmt.Errorf("%s: publish[%d]: %w", where, j, err)
				}
			}
			if ep.PathRegex != "" && !p.InstancesFromPolicy && len(p.APIHosts) == 0 {
				return nil, fmt.Errorf("%s: publish[%d]: a path_regex needs api_hosts or instances_from_policy (on which hosts does it publish?)", where, j)
			}
			if m := ep.BodyMatch; m != nil && (!bodyPath.MatchString(m.Path) || m.Equals == "" || slices.Contains(m.Also, "")) {
				return nil, fmt.Errorf("%s: publish[%d]: body_match needs a dotted path (segments or *) and a non-empty text to equal", where, j)
			}
			if ep.BodyText != "" && !bodyPath.MatchString(ep.BodyText) && strings.Contains(ep.BodyText, "*") {
				return nil, fmt.Errorf("%s: publish[%d]: body_text %q: * must be a whole segment", where, j, ep.BodyText)
			}
		}
		for j, a := range e.Actions {
			if a.URLRegex == "" {
				continue
			}
			if err := checkRegex(a.URLRegex, false); err != nil {
				return nil, fmt.Errorf("%s: actions[%d]: %w", where, j, err)
			}
		}
		if err := checkPostParts(e.Media, e.Target); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for j, pt := range p.Publish {
			if pt.URLTarget == "" {
				continue
			}
			if err := checkGroupRegex(pt.URLTarget); err != nil {
				return nil, fmt.Errorf("%s: publish[%d].url_target: %w", where, j, err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// passwordSpec is the table's description of the change-password form: one form filled at
// once (current, new, confirm, submit), or steps in order. The daemon only checks it.
type passwordSpec struct {
	Current     string         `json:"current"`
	New         string         `json:"new"`
	Confirm     string         `json:"confirm"`
	Submit      []string       `json:"submit"`
	Steps       []passwordStep `json:"steps"`
	SuccessText string         `json:"success_text"`
}

// passwordStep is one step of a change-password form: exactly one of its kinds.
type passwordStep struct {
	Click    string   `json:"click"`
	Person   string   `json:"person"`
	Pattern  string   `json:"pattern"`
	Notice   string   `json:"notice"`
	TimeoutS int      `json:"timeout_s"`
	Current  string   `json:"current"`
	New      string   `json:"new"`
	Confirm  string   `json:"confirm"`
	Submit   []string `json:"submit"`
}

// check refuses a form the extension could not drive safely: a step of no or several kinds, no
// field for the new password, a person step without its notice or time limit, or steps that do
// not end with the submit (a submit before the new password would send nothing).
func (s *passwordSpec) check() error {
	if s.SuccessText != "" {
		if err := checkRegex(s.SuccessText, false); err != nil {
			return fmt.Errorf("success_text: %w", err)
		}
	}
	form := s.Current != "" || s.New != "" || s.Confirm != "" || len(s.Submit) > 0
	switch {
	case form && len(s.Steps) > 0:
		return errors.New("either the form's fields (current, new, confirm, submit) or steps, not both")
	case form:
		if s.Current == "" || s.New == "" || s.Confirm == "" || len(s.Submit) == 0 {
			return errors.New("the form needs current, new, confirm and submit")
		}
		return nil
	case len(s.Steps) == 0:
		return errors.New("needs the form's fields (current, new, confirm, submit) or steps")
	}
	hasNew := false
	for j, st := range s.Steps {
		kinds := 0
		for _, k := range []bool{st.Click != "", st.Person != "", st.Current != "", st.New != "", st.Confirm != "", len(st.Submit) > 0} {
			if k {
				kinds++
			}
		}
		if kinds != 1 {
			return fmt.Errorf("steps[%d]: a step is exactly one of click, person, current, new, confirm, submit", j)
		}
		if st.Person == "" && (st.Pattern != "" || st.Notice != "" || st.TimeoutS != 0) {
			return fmt.Errorf("steps[%d]: pattern, notice and timeout_s belong to a person step", j)
		}
		if st.Person != "" {
			if st.Notice == "" || st.TimeoutS <= 0 {
				return fmt.Errorf("steps[%d]: a person step needs the notice that tells the person what to type, and timeout_s", j)
			}
			if st.Pattern != "" {
				if err := checkRegex(st.Pattern, false); err != nil {
					return fmt.Errorf("steps[%d].pattern: %w", j, err)
				}
			}
		}
		if st.New != "" {
			hasNew = true
		}
		if last := j == len(s.Steps)-1; last != (len(st.Submit) > 0) {
			return fmt.Errorf("steps[%d]: the last step, and only it, is the submit", j)
		}
	}
	if !hasNew {
		return errors.New("the steps have no field for the new password")
	}
	return nil
}

// mediaSpec is the table's description of a composer's attachments; the daemon only checks it.
type mediaSpec struct {
	// ContentID, when set, says the platform's media ids are content addresses of the files.
	ContentID string `json:"content_id"`
	Upload    []struct {
		URLRegex   string `json:"url_regex"`
		PathRegex  string `json:"path_regex"`
		ResponseID string `json:"response_id"`
	} `json:"upload"`
}

// targetSpec is the table's description of the post a reply, quote or repost refers to.
type targetSpec struct {
	IDRegex     string `json:"id_regex"`
	URLTemplate string `json:"url_template"`
}

// checkPostParts checks what the schema cannot say about attachments and target posts: upload
// expressions valid RE2 and anchored (the extension matches them in both dialects), an id
// expression with a group, and a target address template that is https and names {id}.
func checkPostParts(m *mediaSpec, t *targetSpec) error {
	if m != nil {
		if m.ContentID != "" && m.ContentID != "cid_raw_sha256" {
			return fmt.Errorf("media.content_id %q: the only content address known is cid_raw_sha256", m.ContentID)
		}
		if len(m.Upload) == 0 {
			return fmt.Errorf("media: at least one upload endpoint is needed")
		}
		for j, u := range m.Upload {
			if (u.URLRegex == "") == (u.PathRegex == "") {
				return fmt.Errorf("media.upload[%d]: exactly one of url_regex and path_regex is needed", j)
			}
			if err := checkRegex(u.URLRegex+u.PathRegex, true); err != nil {
				return fmt.Errorf("media.upload[%d]: %w", j, err)
			}
			if u.ResponseID == "" {
				return fmt.Errorf("media.upload[%d]: response_id is needed: it says where the platform answers with the media id", j)
			}
		}
	}
	if t != nil {
		if err := checkGroupRegex(t.IDRegex); err != nil {
			return fmt.Errorf("target.id_regex: %w", err)
		}
		if !strings.HasPrefix(t.URLTemplate, "https://") || !strings.Contains(t.URLTemplate, "{id}") || strings.ContainsAny(t.URLTemplate, " \t\r\n") {
			return fmt.Errorf("target.url_template %q: want an https address with {id} and no white space", t.URLTemplate)
		}
	}
	return nil
}

// checkGroupRegex requires expr to be valid RE2 with a capturing group (the id it reads).
func checkGroupRegex(expr string) error {
	re, err := regexp.Compile(expr)
	if err != nil {
		return fmt.Errorf("%q is not a valid RE2 regular expression: %w", expr, err)
	}
	if re.NumSubexp() < 1 {
		return fmt.Errorf("%q needs a group that captures the id", expr)
	}
	return nil
}

// checkRegex requires expr to compile as RE2, the dialect of Go and of Chromium's
// declarativeNetRequest regexFilter. The extension's tests compile the same expressions as
// JavaScript. Publishing endpoints must be anchored: an unanchored pattern would also match the
// same path under another host.
func checkRegex(expr string, anchored bool) error {
	if _, err := regexp.Compile(expr); err != nil {
		return fmt.Errorf("%q is not a valid RE2 regular expression: %w", expr, err)
	}
	if anchored && !strings.HasPrefix(expr, "^") {
		return fmt.Errorf("%q must start with ^", expr)
	}
	return nil
}

// asciiLower folds only A-Z, as policy does for account ids.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}
