package winacl

import (
	"strings"
	"testing"
)

func TestServicePipeSDDL(t *testing.T) {
	got, err := ServicePipeSDDL(SIDSystem)
	want := "O:S-1-5-18D:P(D;;GA;;;NU)(A;;GA;;;S-1-5-18)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x0012008b;;;AU)"
	if err != nil || got != want {
		t.Fatalf("ServicePipeSDDL = %q, %v; want %q", got, err, want)
	}
	// The network's deny entry comes first, as Windows reads the list in order.
	if i := strings.Index(got, "(D;;GA;;;NU)"); i < 0 || i > strings.Index(got, "(A;") {
		t.Errorf("the deny entry for network logons is not first: %q", got)
	}
	// Authenticated users may not make instances of the pipe (FILE_CREATE_PIPE_INSTANCE, 0x4).
	if ClientPipeAccess&0x4 != 0 {
		t.Errorf("ClientPipeAccess %#x grants FILE_CREATE_PIPE_INSTANCE", ClientPipeAccess)
	}
	for _, bad := range []string{"", "SY", "S-1", "S-1-5-18)(A;;GA;;;WD", "S-1-5-x"} {
		if got, err := ServicePipeSDDL(bad); err == nil {
			t.Errorf("ServicePipeSDDL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestStateDirSDDL(t *testing.T) {
	// Protected, and only SYSTEM and Administrators, inherited by files and folders inside.
	if StateDirSDDL != "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)" {
		t.Fatalf("StateDirSDDL = %q", StateDirSDDL)
	}
}

func TestCheckStateDir(t *testing.T) {
	const dir = `C:\ProgramData\foureyes-service`
	const users, anna = "S-1-5-32-545", "S-1-5-21-1004336348-1177238915-682003330-1001"
	ok := []ACE{{AllowType, SIDSystem, 0x1f01ff}, {AllowType, SIDAdministrators, 0x1f01ff}}
	for _, c := range []struct {
		name    string
		owner   string
		present bool
		aces    []ACE
		want    string // "" passes; else a part of the error
	}{
		{"as made", SIDAdministrators, true, ok, ""},
		{"owned by SYSTEM", SIDSystem, true, ok, ""},
		{"a deny entry for users", SIDSystem, true, append([]ACE{{DenyType, users, 0x1f01ff}}, ok...), ""},
		{"an entry granting nothing", SIDSystem, true, append([]ACE{{AllowType, users, 0}}, ok...), ""},
		{"empty list: nobody", SIDSystem, true, nil, ""},
		{"users may read", SIDSystem, true, append(ok, ACE{AllowType, users, 0x120089}), users},
		{"a user may read", SIDSystem, true, append(ok, ACE{AllowType, anna, 0x1}), anna},
		{"an unknown entry type", SIDSystem, true, append(ok, ACE{5, anna, 0x1}), anna},
		{"owned by a user", anna, true, ok, "owned by " + anna},
		{"no list at all", SIDSystem, false, nil, "no access list"},
	} {
		err := CheckStateDir(dir, c.owner, c.present, c.aces)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "icacls")):
			t.Errorf("%s: %v; want an error naming %q and saying how to fix it", c.name, err, c.want)
		}
	}
}

func TestUID(t *testing.T) {
	const anna, ben = "S-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-1002"
	if UID(SIDSystem) != 0 {
		t.Errorf("SYSTEM is %d, want 0", UID(SIDSystem))
	}
	a, b := UID(anna), UID(ben)
	if a == b || a <= 0 || b <= 0 {
		t.Errorf("two accounts got %d and %d", a, b)
	}
	if UID(anna) != a {
		t.Errorf("one account got %d, then %d", a, UID(anna))
	}
	if sid, ok := SID(b); !ok || sid != ben {
		t.Errorf("SID(%d) = %q, %v; want %s", b, sid, ok, ben)
	}
	if sid, ok := SID(-1); ok {
		t.Errorf("SID(-1) = %q, want none", sid)
	}
}
