package tray

import (
	"slices"
	"strings"
	"testing"
)

func TestChildEnvDropsOnlyOurGDKGL(t *testing.T) {
	t.Setenv("GDK_GL", "disable")
	hasGL := func(env []string) bool {
		return slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GDK_GL=") })
	}
	if !hasGL(childEnv()) {
		t.Error("a GDK_GL the user set was removed")
	}
	gdkGLSetHere.Store(true)
	defer gdkGLSetHere.Store(false)
	if hasGL(childEnv()) {
		t.Error("the GDK_GL the tray set leaks to programs it starts")
	}
}

// The opener's command line is the opener and the target, nothing added, on every system.
func TestOpenerArgvIsOnlyTheTarget(t *testing.T) {
	const target = "file:///run/user/1000/foureyes/open-0011223344556677.html"
	for _, goos := range []string{"linux", "freebsd", "darwin", "windows"} {
		argv := openerArgv(goos, target)
		if len(argv) != 2 || argv[1] != target {
			t.Errorf("%s: opener argv %q", goos, argv)
		}
	}
}
