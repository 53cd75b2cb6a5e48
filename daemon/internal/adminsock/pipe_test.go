package adminsock

import (
	"strings"
	"testing"
)

func TestPipeName(t *testing.T) {
	a := pipeName(`C:\Users\anna\AppData\Roaming\foureyes\foureyes.sock`)
	if !strings.HasPrefix(a, `\\.\pipe\foureyes-`) || len(a) != len(`\\.\pipe\foureyes-`)+32 {
		t.Fatalf("pipeName = %q", a)
	}
	if b := pipeName(`c:\users\ANNA\AppData\Roaming\foureyes\foureyes.sock`); b != a {
		t.Errorf("the same path in another case gave another pipe: %q, %q", a, b)
	}
	if b := pipeName(`C:\Users\ben\AppData\Roaming\foureyes\foureyes.sock`); b == a {
		t.Errorf("two users' paths gave one pipe %q", a)
	}
}

func TestUserPipeSDDL(t *testing.T) {
	const sid = "S-1-5-21-1004336348-1177238915-682003330-1001"
	got, err := userPipeSDDL(sid)
	if err != nil || got != "O:"+sid+"D:P(A;;GA;;;"+sid+")" {
		t.Fatalf("userPipeSDDL = %q, %v", got, err)
	}
	for _, bad := range []string{"", "AU", "S-1", "S-1-5-21-1)(A;;GA;;;WD", "S-1-5-21-x"} {
		if got, err := userPipeSDDL(bad); err == nil {
			t.Errorf("userPipeSDDL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestPipeNameOfAPipe(t *testing.T) {
	for _, p := range []string{`\\.\pipe\foureyes-service`, `\\.\PIPE\foureyes-service`} {
		if got := pipeName(p); got != p {
			t.Errorf("pipeName(%q) = %q, want the name itself", p, got)
		}
	}
	if IsPipeName(`\\.\pipe\`) || IsPipeName(`C:\pipe\foureyes`) || IsPipeName("/run/foureyes/foureyes.sock") {
		t.Error("IsPipeName took a path that names no pipe")
	}
}
