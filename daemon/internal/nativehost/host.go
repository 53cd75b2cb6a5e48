// Package nativehost is the native-messaging host org.foureyes.host: the foureyes binary started
// by the browser for the extension. The browser starts it only for extensions its host manifest
// allows and tells it which extension called, so the host can vouch for the extension: it asks
// the daemon (over the admin socket, as the same OS user) for a single-use bridge token bound to
// the extension's origin and hands it over. The package also writes the host manifests.
package nativehost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/bridge"
	"foureyes/daemon/internal/textclip"
)

// HostName is the native-messaging host's name, as the extension passes it to connectNative.
const HostName = "org.foureyes.host"

// unavailableMessage tells the user what to do when the daemon cannot be reached. A daemon
// that runs but whose bridge is down answers bridge_down instead, with the reason, and that
// answer is passed on as it is.
const unavailableMessage = "the foureyes daemon is not running: start it with `foureyes daemon`"

// HelloSource gets a bridge hello from the daemon for an extension origin. The admin-socket
// client satisfies it; in the daemon it is [bridge.Server.Hello].
type HelloSource interface {
	BridgeHello(ctx context.Context, origin string) (bridge.HostHello, error)
}

// Browser is the family of browser that started the host.
type Browser string

// Browser families. Chrome, Chromium and Edge speak the same protocol.
const (
	Chromium Browser = "chromium"
	Firefox  Browser = "firefox"
)

// Caller is the extension that started the host, as the browser told it on the command line.
type Caller struct {
	Browser Browser
	// Origin is chrome-extension://ID (without the trailing slash Chrome passes). Chromium only.
	Origin string
	// AddonID is the add-on ID, e.g. foureyes@example.org. Firefox only.
	AddonID string
	// Manifest is the path of the host manifest Firefox used. Firefox only.
	Manifest string
}

// addonIDPattern matches Firefox add-on IDs: an email-like ID or a braced UUID.
// (Each side's length of at most 80 is checked apart: a bounded repetition compiles into a
// program as long as its bound.)
var addonIDPattern = regexp.MustCompile(`^([A-Za-z0-9._+-]+@[A-Za-z0-9.-]+|\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\})$`)

// IsFirefoxID reports whether id has the form of a Firefox add-on ID.
func IsFirefoxID(id string) bool {
	if local, domain, ok := strings.Cut(id, "@"); ok && (len(local) > 80 || len(domain) > 80) {
		return false
	}
	return addonIDPattern.MatchString(id)
}

// ParseArgs reads the command line the browser started the host with (os.Args[1:]):
//
//   - Chrome, Chromium, Edge: "chrome-extension://ID/", and on Windows "--parent-window=N";
//   - Firefox: the absolute path of the host manifest, then the add-on ID.
func ParseArgs(args []string) (Caller, error) {
	if len(args) == 0 {
		return Caller{}, errors.New("no arguments: a browser starts the native host with the calling extension's identity")
	}
	if rest, ok := strings.CutPrefix(args[0], "chrome-extension://"); ok {
		if len(args) > 2 || len(args) == 2 && !strings.HasPrefix(args[1], "--parent-window=") {
			return Caller{}, fmt.Errorf("unexpected arguments after %q", args[0])
		}
		id, ok := strings.CutSuffix(rest, "/")
		if !ok || !bridge.IsChromeID(id) {
			return Caller{}, fmt.Errorf("%q is not a chrome-extension://ID/ origin", args[0])
		}
		return Caller{Browser: Chromium, Origin: "chrome-extension://" + id}, nil
	}
	if len(args) == 2 && strings.HasSuffix(args[0], ".json") {
		if !filepath.IsAbs(args[0]) {
			return Caller{}, fmt.Errorf("host manifest path %q is not absolute", args[0])
		}
		if !IsFirefoxID(args[1]) {
			return Caller{}, fmt.Errorf("%q is not a Firefox add-on ID", args[1])
		}
		return Caller{Browser: Firefox, Manifest: args[0], AddonID: args[1]}, nil
	}
	return Caller{}, errors.New("not started by a browser: want chrome-extension://ID/, or a manifest path and an add-on ID")
}

// Detect reports whether args (os.Args[1:]) are what a browser passes to a native-messaging
// host. The browser cannot pass a subcommand, so main must recognise host mode this way.
func Detect(args []string) bool {
	_, err := ParseArgs(args)
	return err == nil
}

// Options tunes [RunOptions].
type Options struct {
	// FirefoxIDs are the add-on IDs allowed to use the host (policy's pinned Firefox IDs).
	// Empty means the allowed_extensions of the host manifest Firefox says it used.
	FirefoxIDs []string
	// ChromeIDs, when not empty, are the only Chrome/Edge extension IDs served here. The daemon
	// checks its pinned IDs again when it issues the token.
	ChromeIDs []string
	// Timeout bounds each request to the daemon. Zero means 10 s.
	Timeout time.Duration
}

// Run serves the browser on in/out until in ends, with default [Options]. args are
// os.Args[1:]. It returns nil when the browser closes the port, and an error for arguments
// that are not a browser's or a broken stream.
func Run(ctx context.Context, in io.Reader, out io.Writer, args []string, src HelloSource) error {
	return RunOptions(ctx, in, out, args, src, Options{})
}

// RunOptions is [Run] with options.
func RunOptions(ctx context.Context, in io.Reader, out io.Writer, args []string, src HelloSource, opts Options) error {
	caller, err := ParseArgs(args)
	if err != nil {
		return fmt.Errorf("native host: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	for {
		msg, err := ReadMessage(in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, ErrTooLarge) {
			// The stream is out of step now: say why, then stop.
			_ = WriteMessage(out, errorReply(nil, api.Errorf(api.CodeTooLarge, "message over %d bytes", MaxIncoming)))
			return fmt.Errorf("native host: %w", err)
		}
		if err != nil {
			return fmt.Errorf("native host: %w", err)
		}
		reply := answer(ctx, caller, msg, src, opts)
		if err := WriteMessage(out, reply); err != nil {
			return fmt.Errorf("native host: %w", err)
		}
	}
}

// request is the one message the host understands.
type request struct {
	V      int    `json:"v"`
	ID     *int64 `json:"id,omitempty"`
	Type   string `json:"type"`
	Origin string `json:"origin"`
}

type helloReply struct {
	V         int    `json:"v"`
	ID        *int64 `json:"id,omitempty"`
	Type      string `json:"type"`
	Port      int    `json:"port"`
	Token     string `json:"token"`
	DaemonKey string `json:"daemon_key"`
	Expires   string `json:"expires"`
}

type wireError struct {
	Code    api.Code `json:"code"`
	Message string   `json:"message"`
}

type errReply struct {
	V     int       `json:"v"`
	ID    *int64    `json:"id,omitempty"`
	Type  string    `json:"type"`
	Error wireError `json:"error"`
}

func errorReply(id *int64, err error) []byte {
	e := api.AsError(err)
	w := wireError{Code: e.Code, Message: e.Message}
	if w.Message == "" {
		w.Message = string(e.Code)
	}
	b, _ := json.Marshal(errReply{V: bridge.Version, ID: id, Type: "error", Error: w})
	return b
}

// answer handles one message and returns the reply.
func answer(ctx context.Context, c Caller, msg []byte, src HelloSource, opts Options) []byte {
	var req request
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorReply(nil, api.Errorf(api.CodeBadRequest, "bad hello: %v", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorReply(req.ID, api.Errorf(api.CodeBadRequest, "bad hello: trailing data"))
	}
	switch {
	case req.V != bridge.Version:
		return errorReply(req.ID, api.Errorf(api.CodeUnsupported, "protocol version %d is not supported: this host speaks version %d", req.V, bridge.Version))
	case req.Type != "hello":
		return errorReply(req.ID, api.Errorf(api.CodeUnsupported, "message type %q is not supported", req.Type))
	}
	if err := vouch(c, req.Origin, opts); err != nil {
		return errorReply(req.ID, err)
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	hh, err := src.BridgeHello(ctx, req.Origin)
	if err != nil {
		var e *api.Error
		if !errors.As(err, &e) || e.Code == api.CodeDaemonUnavailable {
			// Anything without a code is a transport failure: the daemon is not there.
			return errorReply(req.ID, api.Errorf(api.CodeDaemonUnavailable, "%s", unavailableMessage))
		}
		if e.Code == api.CodeInternal {
			return errorReply(req.ID, api.Errorf(api.CodeInternal, "internal error in the foureyes daemon: see its log"))
		}
		return errorReply(req.ID, e)
	}
	b, _ := json.Marshal(helloReply{
		V: bridge.Version, ID: req.ID, Type: "hello",
		Port: hh.Port, Token: hh.Token, DaemonKey: hh.DaemonKey,
		Expires: hh.Expires.UTC().Format(time.RFC3339),
	})
	return b
}

// vouch checks that the origin the extension claims is the one the browser named: the
// browser's word (the command line) is trusted, the message's only where the browser gives none.
func vouch(c Caller, origin string, opts Options) error {
	switch c.Browser {
	case Chromium:
		if origin != c.Origin {
			return api.Errorf(api.CodeForbidden, "origin %q is not the extension that started the host", textclip.Clip(origin, 80))
		}
		if len(opts.ChromeIDs) > 0 && !slices.Contains(opts.ChromeIDs, strings.TrimPrefix(c.Origin, "chrome-extension://")) {
			return api.Errorf(api.CodeForbidden, "extension %s is not allowed", c.Origin)
		}
		return nil
	case Firefox:
		// Firefox names the add-on, but only the extension knows its per-profile UUID origin.
		if !bridge.IsMozOrigin(origin) {
			return api.Errorf(api.CodeForbidden, "origin %q is not a moz-extension://UUID origin", textclip.Clip(origin, 80))
		}
		allowed := opts.FirefoxIDs
		if len(allowed) == 0 {
			var err error
			if allowed, err = manifestFirefoxIDs(c.Manifest); err != nil {
				return api.Errorf(api.CodeForbidden, "add-on %s is not allowed: %v", c.AddonID, err)
			}
		}
		if !slices.Contains(allowed, c.AddonID) {
			return api.Errorf(api.CodeForbidden, "add-on %s is not allowed", c.AddonID)
		}
		return nil
	}
	return api.Errorf(api.CodeForbidden, "unknown browser")
}

// manifestFirefoxIDs reads allowed_extensions from the host manifest Firefox used.
func manifestFirefoxIDs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading host manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading host manifest %s: %w", path, err)
	}
	if m.Name != HostName {
		return nil, fmt.Errorf("host manifest %s names %q, not %s", path, m.Name, HostName)
	}
	return m.AllowedExtensions, nil
}
