package platforms

import (
	"fmt"
	"testing"
)

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
	if !table(`,"password":{"url":"https://p.example/pw","current":"#c","new":"#n","confirm":"#f","submit":["#s"]}`).RotatesUnattended() {
		t.Error("a plain password form: not unattended")
	}
	steps := `,"password":{"url":"https://p.example/pw","steps":[{"click":"#pw"},%s{"new":"#n"},{"submit":["#s"]}]}`
	if !table(fmt.Sprintf(steps, "")).RotatesUnattended() {
		t.Error("steps without a person: not unattended")
	}
	if table(fmt.Sprintf(steps, `{"person":"#code","notice":"rotate_email_code","timeout_s":600},`)).RotatesUnattended() {
		t.Error("a person step: rotates unattended")
	}
}
