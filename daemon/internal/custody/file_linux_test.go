package custody

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/testenv"
)

// Another OS user of the computer (a staff member, not the service) tries to read the secrets
// folder, a sealed secret and the key with ordinary tools. The state folder is 0700 as the
// service's is; then it is opened to 0711 so that only the store's own modes stand in the way,
// and they must hold too. A file that user may read, next to them, proves the attempts are real.
func TestFileStoreOtherUserCannotRead(t *testing.T) {
	u := testenv.NeedOtherUser(t)
	// t.TempDir's parent is private to the test: a folder of /tmp's own is reachable.
	root, err := os.MkdirTemp("", "foureyes-filestore-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	o := FileOptions{Dir: filepath.Join(state, "secrets"), KeyFile: filepath.Join(state, "secrets.key")}
	f, err := OpenFile(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set(ApproverKey("anna"), "JBSWY3DPEHPK3PXP"); err != nil {
		t.Fatal(err)
	}
	public := filepath.Join(root, "public.txt")
	if err := os.WriteFile(public, []byte("anyone may read this\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	as := func(prog string, args ...string) (string, error) {
		out, err := u.Command(nil, prog, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := as("/bin/cat", public); err != nil || out != "anyone may read this\n" {
		t.Fatalf("control: %s cannot read a 0644 file: %v %s", u.Name, err, out)
	}
	secret := f.fileName(ApproverKey("anna"))
	attempts := func(layer string) {
		t.Helper()
		for _, a := range [][]string{
			{"/bin/ls", o.Dir},
			{"/bin/cat", secret},
			{"/bin/cat", o.KeyFile},
			{"/bin/cat", filepath.Join(o.Dir, checkFile)},
		} {
			out, err := as(a[0], a[1:]...)
			if err == nil || !strings.Contains(out, "Permission denied") {
				t.Errorf("%s: %s %s as %s: %v %q, want Permission denied", layer, a[0], a[1], u.Name, err, out)
			}
		}
	}
	attempts("state folder 0700")
	if err := os.Chmod(state, 0o711); err != nil {
		t.Fatal(err)
	}
	attempts("state folder 0711, store modes only")
}
