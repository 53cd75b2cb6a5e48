package manifest

import (
	"reflect"
	"testing"
)

func TestDescribe(t *testing.T) {
	chart := Media{SHA256: shaChart, Size: 48213, Type: "image/png", Name: "chart.png"}
	photo := Media{SHA256: shaPhoto, Size: 1048576, Type: "image/jpeg", Name: "photo.jpg"}
	clip := Media{SHA256: shaChart, Size: 999, Type: "video/mp4", Name: "clip.mp4"}
	target := &Target{URL: "https://x.com/i/status/1234567890", Author: "@someone"}
	for _, tt := range []struct {
		name   string
		action string
		media  []Media
		target *Target
		want   []string
	}{
		{"plain post", "post", nil, nil, nil},
		{"two images", "post", []Media{chart, photo}, nil,
			[]string{"with 2 images: chart.png 48 KB sha256 e1bffab6c69f…, photo.jpg 1.0 MB sha256 6e312f5d45f4…"}},
		{"one video", "post", []Media{clip}, nil, []string{"with 1 video: clip.mp4 999 bytes sha256 e1bffab6c69f…"}},
		{"an image and a video", "post", []Media{chart, clip}, nil,
			[]string{"with 2 attachments: chart.png 48 KB sha256 e1bffab6c69f…, clip.mp4 999 bytes sha256 e1bffab6c69f…"}},
		{"reply", "reply", nil, target, []string{"reply to @someone: https://x.com/i/status/1234567890"}},
		{"quote with an image", "quote", []Media{chart}, target,
			[]string{"with 1 image: chart.png 48 KB sha256 e1bffab6c69f…", "quote of @someone: https://x.com/i/status/1234567890"}},
		{"repost without author", "repost", nil, &Target{URL: "https://x.com/i/status/1"}, []string{"repost of https://x.com/i/status/1"}},
		{"reply without target", "reply", nil, nil, []string{"reply to a post the request does not name"}},
		{"a right-to-left override cannot disguise a name", "post", []Media{{SHA256: shaChart, Size: 1, Type: "image/png", Name: "\u202egnp.exe"}}, nil,
			[]string{"with 1 image: \ufffdgnp.exe 1 byte sha256 e1bffab6c69f…"}},
		{"an escape in the author is shown, not run", "reply", nil, &Target{URL: "https://x.com/i/status/1", Author: "@a\x1b[2J"}, []string{"reply to @a\ufffd[2J: https://x.com/i/status/1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Describe(tt.action, tt.media, tt.target); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Describe = %q, want %q", got, tt.want)
			}
		})
	}
}
