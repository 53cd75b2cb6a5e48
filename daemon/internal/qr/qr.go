// Package qr renders an otpauth:// key URI as a QR code, for an approver's authenticator app to
// scan: as text for a terminal and as a PNG image for the local enrolment page.
//
// Both keep the quiet zone the QR standard asks for; scanners often fail without it, especially
// on a terminal whose own background is dark.
package qr

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// QuietZone is the margin, in modules, kept light around the code (ISO/IEC 18004 asks for 4).
const QuietZone = 4

// MinPNGSize is the smallest edge PNG renders, in pixels: phones focus on a code of this size
// from arm's length.
const MinPNGSize = 256

// matrix is the code's modules including the quiet zone: true is a dark module.
type matrix struct {
	n    int
	dark []bool
}

func (m matrix) at(x, y int) bool {
	if x < 0 || y < 0 || x >= m.n || y >= m.n {
		return false
	}
	return m.dark[y*m.n+x]
}

func encode(uri string) (matrix, error) {
	if uri == "" {
		return matrix{}, fmt.Errorf("encoding qr code: empty content")
	}
	// Level M survives a smudged screen and keeps an otpauth URI at a version phones read easily.
	bc, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return matrix{}, fmt.Errorf("encoding qr code: %w", err)
	}
	b := bc.Bounds()
	size := b.Dx()
	n := size + 2*QuietZone
	m := matrix{n: n, dark: make([]bool, n*n)}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			r, _, _, _ := bc.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m.dark[(y+QuietZone)*n+x+QuietZone] = r < 0x8000
		}
	}
	return m, nil
}

// PNG renders uri as a black-on-white PNG at least size pixels wide (never below
// [MinPNGSize]). Every module is the same whole number of pixels, so the edge may come out a
// little larger than asked.
func PNG(uri string, size int) ([]byte, error) {
	m, err := encode(uri)
	if err != nil {
		return nil, err
	}
	size = max(size, MinPNGSize)
	scale := (size + m.n - 1) / m.n
	edge := scale * m.n
	img := image.NewPaletted(image.Rect(0, 0, edge, edge), color.Palette{color.White, color.Black})
	for y := 0; y < edge; y++ {
		for x := 0; x < edge; x++ {
			if m.at(x/scale, y/scale) {
				img.SetColorIndex(x, y, 1)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding qr png: %w", err)
	}
	return buf.Bytes(), nil
}

// DataURI is [PNG] as a data: URI, for an <img> on a page that loads nothing from elsewhere.
func DataURI(uri string, size int) (string, error) {
	b, err := PNG(uri, size)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b), nil
}

// ANSI escape sequences: black text on a bright white background, and back to the defaults.
const (
	blackOnWhite = "\x1b[30;107m"
	reset        = "\x1b[0m"
)

// Terminal renders uri for a terminal with Unicode half blocks, two modules per character cell.
// It paints black on white with ANSI colours itself, so the code scans the same on dark and
// light terminal themes. Every line ends with a reset, so a narrow window that wraps the line
// does not smear colour.
func Terminal(uri string) (string, error) {
	m, err := encode(uri)
	if err != nil {
		return "", err
	}
	return render(m, true, blackOnWhite, reset), nil
}

// TerminalPlain renders uri with half blocks and no escape codes, for output that must stay
// plain text (NO_COLOR, a log, a pipe). Block characters are drawn in the terminal's foreground
// colour, so the caller says which way round to draw: for a dark background (light text) the
// light modules are the ones drawn.
func TerminalPlain(uri string, darkBackground bool) (string, error) {
	m, err := encode(uri)
	if err != nil {
		return "", err
	}
	return render(m, !darkBackground, "", ""), nil
}

// render draws with drawDark choosing whether the block glyphs stand for dark modules (on a
// light background) or light ones.
func render(m matrix, drawDark bool, start, end string) string {
	var b strings.Builder
	for y := 0; y < m.n; y += 2 {
		b.WriteString(start)
		for x := 0; x < m.n; x++ {
			top, bottom := m.at(x, y) == drawDark, m.at(x, y+1) == drawDark
			// The row below an odd-sized code is quiet zone: light.
			if y+1 >= m.n {
				bottom = !drawDark
			}
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString(end)
		b.WriteString("\n")
	}
	return b.String()
}
