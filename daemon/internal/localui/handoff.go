package localui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The handoff file is how the browser gets a page's one-time token without the token being on
// a command line (any user can read /proc/PID/cmdline of the opener) or in an address: the
// tray opens file:///…/open-XXXX.html, which only the daemon's user can read, and the file posts
// the token to the server at once. Its name is random but not a secret; its folder is 0700.

// handoffPrefix and handoffSuffix frame a handoff file's name, so stale ones can be found.
const (
	handoffPrefix = "open-"
	handoffSuffix = ".html"
)

// handoffScript submits the handoff form as soon as the file is loaded; a button does the same
// where scripts in local files are off.
const handoffScript = `document.getElementById("f").submit();`

// handoffCSP admits only that script, and lets the form post only to the server.
var handoffScriptHash = func() string {
	sum := sha256.Sum256([]byte(handoffScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var handoffTemplate = template.Must(template.New("handoff").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {{.ScriptHash}}; form-action {{.Origin}}; base-uri 'none'">
<meta name="referrer" content="no-referrer">
<title>Opening foureyes</title></head>
<body>
<form id="f" method="post" action="{{.Action}}">
<input type="hidden" name="t" value="{{.Token}}">
<p>Opening the foureyes page… <button>Open</button></p>
</form>
<script>{{.Script}}</script>
</body></html>
`))

// prepareDir makes dir (0700) if missing, and refuses a folder other users could enter or one
// that is not the daemon user's own.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the folder for handoff files: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking the folder for handoff files: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if err := ownedBySelf(fi); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// Ours, but open to others: close it (the files are 0600 anyway).
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("making %s private: %w", dir, err)
		}
	}
	return nil
}

// removeStaleHandoffs removes handoff files a previous run left behind (their tokens died
// with it). Files younger than ttl are left alone: they may be another daemon's of this user
// (a second instance with its own state folder), still waiting for the browser.
func removeStaleHandoffs(dir string, ttl time.Duration) {
	old, _ := filepath.Glob(filepath.Join(dir, handoffPrefix+"*"+handoffSuffix))
	for _, f := range old {
		if fi, err := os.Lstat(f); err == nil && time.Since(fi.ModTime()) >= ttl {
			removeHandoff(f)
		}
	}
}

// writeHandoff writes a handoff file for tok into dir, readable by this user only, and returns
// its path.
func writeHandoff(dir, addr, tok string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("naming a handoff file: %w", err)
	}
	path := filepath.Join(dir, handoffPrefix+hex.EncodeToString(b)+handoffSuffix)
	var sb strings.Builder
	origin := "http://" + addr
	err := handoffTemplate.Execute(&sb, map[string]any{
		"Origin": origin, "Action": template.URL(origin + "/open"), "Token": tok,
		"Script": template.JS(handoffScript), "ScriptHash": template.HTMLAttr(handoffScriptHash),
	})
	if err != nil {
		return "", fmt.Errorf("making a handoff file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("writing a handoff file: %w", err)
	}
	_, werr := f.WriteString(sb.String())
	if err := errors.Join(werr, f.Close()); err != nil {
		removeHandoff(path)
		return "", fmt.Errorf("writing the handoff file %s: %w", path, err)
	}
	return path, nil
}

// removeHandoff removes a handoff file; "" and a file already gone are fine.
func removeHandoff(path string) {
	if path != "" {
		_ = os.Remove(path) // gone already, or the folder went with the login: nothing to keep
	}
}

// fileURL is the file:// URL of an absolute path.
func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}
