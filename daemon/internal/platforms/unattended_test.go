package platforms

import "testing"

func TestRotatesUnattended(t *testing.T) {
	for id, want := range map[string]bool{"x": true, "mastodon": true, "bluesky": false} {
		p, ok := Get(id)
		if !ok || p.RotatesUnattended() != want {
			t.Errorf("%s: RotatesUnattended = %v, want %v", id, p.RotatesUnattended(), want)
		}
	}
	table := func(password string) Platform {
		t.Helper()
		ps, err := parse([]byte(`{"platforms":[{"id":"p","name":"P","status":"supported","hosts":["p.example"],
		  "publish":[{"action":"post","method":"POST","url_regex":"^https://p\\.example/post$"}]` + password + `}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	if table("").RotatesUnattended() {
		t.Error("no password entry: rotates unattended")
	}
	if !table(`,"password":{"url":"https://p.example/pw"}`).RotatesUnattended() {
		t.Error("a plain password form: not unattended")
	}
	for _, step := range []string{`{"person":{"label":"the code from the e-mail"}}`, `{"type":"person"}`, `{"kind":"person"}`} {
		if table(`,"password":{"url":"https://p.example/pw","steps":[{"fill":"x"},` + step + `]}`).RotatesUnattended() {
			t.Errorf("a person step %s: rotates unattended", step)
		}
	}
}
