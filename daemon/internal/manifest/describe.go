package manifest

import (
	"fmt"
	"strings"
	"unicode"

	"foureyes/daemon/internal/textclip"
)

// Describe says in words what a post carries besides its text, for the people who approve it
// (the CLI, the tray): one line for the attachments and one for the post it answers, e.g.
//
//	with 2 images: chart.png 48 KB sha256 e1bffab6c69f…, photo.jpg 1.0 MB sha256 6e312f5d45f4…
//	reply to @someone: https://x.com/i/status/1234567890
//
// A plain post with no attachments gets no lines. Control and formatting characters in what
// the page supplied (a right-to-left override in a file name, an escape sequence in an
// author) are shown as U+FFFD, so a name cannot pose as another one on a terminal.
func Describe(action string, media []Media, target *Target) []string {
	var out []string
	if len(media) > 0 {
		files := make([]string, 0, len(media))
		for _, m := range media {
			files = append(files, fmt.Sprintf("%s %s sha256 %s", orUnnamed(shown(m.Name, 60)), humanSize(m.Size), textclip.Clip(m.SHA256, 12)))
		}
		out = append(out, fmt.Sprintf("with %s: %s", count(media), strings.Join(files, ", ")))
	}
	how := map[string]string{"reply": "reply to", "quote": "quote of", "repost": "repost of"}[action]
	switch {
	case target != nil && how == "":
		out = append(out, "answering "+shown(target.URL, 200))
	case target != nil && target.Author != "":
		out = append(out, fmt.Sprintf("%s %s: %s", how, shown(target.Author, 60), shown(target.URL, 200)))
	case target != nil:
		out = append(out, how+" "+shown(target.URL, 200))
	case how != "":
		out = append(out, how+" a post the request does not name")
	}
	return out
}

// count says how many attachments of which kind: "1 image", "2 videos", "3 attachments".
func count(media []Media) string {
	kind := ""
	for _, m := range media {
		k, _, _ := strings.Cut(m.Type, "/")
		if kind == "" {
			kind = k
		} else if kind != k {
			kind = "mixed"
		}
	}
	noun := map[string]string{"image": "image", "video": "video", "audio": "audio file"}[kind]
	if noun == "" {
		noun = "attachment"
	}
	if len(media) != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s", len(media), noun)
}

// humanSize writes a size the way file managers do (1 KB = 1000 bytes).
func humanSize(n int64) string {
	switch {
	case n == 1:
		return "1 byte"
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%d KB", (n+500)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

// shown is s on one line, at most n characters, with control and formatting characters
// replaced.
func shown(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return '\uFFFD'
		}
		return r
	}, s)
	return textclip.Line(s, n)
}

func orUnnamed(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}
