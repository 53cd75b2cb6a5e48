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
