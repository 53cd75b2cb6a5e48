package qr

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"foureyes/daemon/internal/testenv"
)

const testURI = "otpauth://totp/foureyes:press-office?algorithm=SHA1&digits=6&issuer=foureyes&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// zbarDecode reads the one QR code in a PNG with zbarimg, an implementation independent of ours.
func zbarDecode(t *testing.T, pngData []byte) string {
	t.Helper()
	bin := testenv.Program(t, "", "zbar-tools", "zbarimg")
	path := filepath.Join(t.TempDir(), "code.png")
	if err := os.WriteFile(path, pngData, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}

func TestPNGDecodesToURI(t *testing.T) {
	for _, size := range []int{0, 256, 300, 512} {
		data, err := PNG(testURI, size)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("size %d: decoding png: %v", size, err)
		}
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w < max(size, MinPNGSize) || w != h {
			t.Errorf("size %d: image is %dx%d", size, w, h)
		}
		if got := zbarDecode(t, data); got != testURI {
			t.Errorf("size %d: decoded %q, want %q", size, got, testURI)
		}
	}
}

func TestPNGHasQuietZone(t *testing.T) {
	data, err := PNG(testURI, 256)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := png.Decode(bytes.NewReader(data))
	m, _ := encode(testURI)
	margin := QuietZone * img.Bounds().Dx() / m.n
	for i := 0; i < img.Bounds().Dx(); i++ {
		for _, p := range []image.Point{{i, 0}, {0, i}, {i, margin - 1}, {margin - 1, i}} {
			if r, _, _, _ := img.At(p.X, p.Y).RGBA(); r != 0xffff {
				t.Fatalf("pixel %v in the quiet zone is dark", p)
			}
		}
	}
}

func TestDataURI(t *testing.T) {
	s, err := DataURI(testURI, 256)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "data:image/png;base64,") {
		t.Errorf("data uri starts %q", s[:30])
	}
}

func TestEmptyRefused(t *testing.T) {
	if _, err := PNG("", 256); err == nil {
		t.Error("PNG of empty content: no error")
	}
	if _, err := Terminal(""); err == nil {
		t.Error("Terminal of empty content: no error")
	}
}

// textToPNG paints terminal output back into pixels the way a terminal would show it, so the
// test scans what a phone would see. glyphDark says whether block glyphs are dark.
func textToPNG(t *testing.T, text string, glyphDark bool) []byte {
	t.Helper()
	text = strings.NewReplacer(blackOnWhite, "", reset, "").Replace(text)
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	const scale = 6
	w := len([]rune(lines[0]))
	img := image.NewGray(image.Rect(0, 0, w*scale, len(lines)*2*scale))
	for y, line := range lines {
		for x, r := range []rune(line) {
			var top, bottom bool
			switch r {
			case '█':
				top, bottom = true, true
			case '▀':
				top = true
			case '▄':
				bottom = true
			case ' ':
			default:
				t.Fatalf("unexpected rune %q at %d,%d", r, x, y)
			}
			for dy := 0; dy < 2*scale; dy++ {
				glyph := top
				if dy >= scale {
					glyph = bottom
				}
				c := color.Gray{Y: 255}
				if glyph == glyphDark {
					c = color.Gray{Y: 0}
				}
				for dx := 0; dx < scale; dx++ {
					img.SetGray(x*scale+dx, y*2*scale+dy, c)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTerminal(t *testing.T) {
	s, err := Terminal(testURI)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if !strings.HasPrefix(line, blackOnWhite) || !strings.HasSuffix(line, reset) {
			t.Fatalf("line %d does not set and reset its colours", i)
		}
	}
	if got := zbarDecode(t, textToPNG(t, s, true)); got != testURI {
		t.Errorf("decoded %q, want %q", got, testURI)
	}
}

func TestTerminalPlain(t *testing.T) {
	for _, tt := range []struct {
		name string
		dark bool
	}{{"light background", false}, {"dark background", true}} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := TerminalPlain(testURI, tt.dark)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(s, "\x1b") {
				t.Fatal("plain output has escape codes")
			}
			// On a dark background the glyphs are light (the terminal's text colour).
			if got := zbarDecode(t, textToPNG(t, s, !tt.dark)); got != testURI {
				t.Errorf("decoded %q, want %q", got, testURI)
			}
		})
	}
}
