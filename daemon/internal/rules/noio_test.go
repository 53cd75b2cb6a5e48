package rules

import (
	"bytes"
	"foureyes/daemon/internal/testenv"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// forbidden are packages that do I/O. The rules take the clock and the state from the caller.
var forbidden = []string{
	"os", "os/exec", "net", "net/http", "io/fs", "syscall", "database/sql", "path/filepath",
}

// reachableViaStd lists, per package of ours or of a third party, the standard-library packages
// it imports although they reach a forbidden package: exactly these and no others. Every one
// reaches only os, io/fs or syscall (never net, net/http, os/exec, database/sql or path/filepath:
// those are refused however they are reached), and only inside the standard library:
//
//   - time imports syscall (zone files, the monotonic clock). The rules need time.Time and
//     time.Duration; they never read the clock (TestNoClock). context imports time.
//   - fmt imports os (Printf writes to os.Stdout). api words its errors with fmt.Errorf.
//   - crypto/md5, sha1, sha256, sha512, hmac and rand reach os through the FIPS 140 module's
//     entropy source (crypto/internal/sysrand reads the OS random device). pquerna/otp computes
//     HMAC-SHA1 codes with them; crypto/rand is used only by its key generation, which the
//     rules never call.
//   - net/url imports fmt. pquerna/otp builds and parses otpauth:// URLs with it.
//   - manifest and digest hash (crypto/sha256, encoding/hex) what an approval binds: the
//     rules compute a request's manifest digest themselves. manifest words its refusals with
//     fmt; x/text's norm (the text's canonical form) imports fmt.
//
// A new entry needs a reason here; a package that imports a forbidden package directly is never
// allowed.
var reachableViaStd = map[string][]string{
	"foureyes/daemon/internal/rules":    {"time"},
	"foureyes/daemon/internal/api":      {"context", "fmt", "time"},
	"foureyes/daemon/internal/manifest": {"crypto/sha256", "encoding/hex", "fmt"},
	"foureyes/daemon/internal/digest":   {"crypto/sha256", "encoding/hex"},
	"golang.org/x/text/unicode/norm":    {"fmt"},
	"github.com/pquerna/otp": {"crypto/md5", "crypto/sha1", "crypto/sha256", "crypto/sha512",
		"fmt", "net/url"},
	"github.com/pquerna/otp/hotp":     {"crypto/hmac", "crypto/rand", "fmt", "net/url"},
	"github.com/pquerna/otp/internal": {"net/url"},
	"github.com/boombuler/barcode":    {"fmt"}, // QR images for otpauth keys (unused by the rules)
	"github.com/boombuler/barcode/qr": {"fmt"},
}

// pureOurs are the packages of ours the rules may use: the wire types, the pure functions that
// say what an approval binds, and textclip, with which manifest words a post for people.
var pureOurs = []string{"foureyes/daemon/internal/api", "foureyes/daemon/internal/manifest", "foureyes/daemon/internal/digest",
	"foureyes/daemon/internal/textclip"}

// alwaysForbidden may not be reached at all, not even inside the standard library.
var alwaysForbidden = []string{"os/exec", "net", "net/http", "database/sql", "path/filepath"}

type listedPackage struct {
	path     string
	standard bool
	imports  []string
}

func goList(t *testing.T, pkg string) map[string]listedPackage {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		testenv.Need(t, "the go command ("+err.Error()+")", "put Go on PATH: it lists the rules' dependencies")
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]listedPackage{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		pkgs[f[0]] = listedPackage{path: f[0], standard: f[1] == "true", imports: strings.Fields(f[2])}
	}
	if _, ok := pkgs[pkg]; !ok {
		t.Fatalf("go list did not list %s itself:\n%s", pkg, out)
	}
	return pkgs
}

// reaches returns the forbidden packages in pkg's closure, pkg included.
func reaches(pkgs map[string]listedPackage, pkg string) []string {
	seen := map[string]bool{}
	var found []string
	var walk func(string)
	walk = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		if slices.Contains(forbidden, p) {
			found = append(found, p)
		}
		for _, i := range pkgs[p].imports {
			walk(i)
		}
	}
	walk(pkg)
	slices.Sort(found)
	return found
}

func TestNoIO(t *testing.T) {
	const self = "foureyes/daemon/internal/rules"
	pkgs := goList(t, self)
	for _, p := range pkgs {
		if strings.HasPrefix(p.path, "foureyes/") && p.path != self && !slices.Contains(pureOurs, p.path) {
			t.Errorf("the rules depend on %s: only %v are allowed", p.path, pureOurs)
		}
		if slices.Contains(alwaysForbidden, p.path) {
			t.Errorf("the rules depend on %s", p.path)
		}
		if p.standard {
			continue
		}
		// A package of ours or a third party's: no forbidden import of its own, and no
		// standard-library import reaching one unless listed above.
		for _, imp := range p.imports {
			if slices.Contains(forbidden, imp) {
				t.Errorf("%s imports %s", p.path, imp)
				continue
			}
			if !pkgs[imp].standard {
				continue // checked as a package of its own
			}
			if bad := reaches(pkgs, imp); len(bad) > 0 && !slices.Contains(reachableViaStd[p.path], imp) {
				t.Errorf("%s imports %s, which reaches %v", p.path, imp, bad)
			}
		}
	}
}

// TestNoClock: the rules are given the time; they never read the clock, sleep or load a zone.
func TestNoClock(t *testing.T) {
	banned := []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTicker",
		"NewTimer", "LoadLocation", "LoadLocationFromTZData", "Local"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		timeName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "time" {
				timeName = "time"
				if imp.Name != nil {
					timeName = imp.Name.Name
				}
			}
		}
		if timeName == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == timeName && slices.Contains(banned, sel.Sel.Name) {
				t.Errorf("%s: time.%s: the caller passes the time in", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
