// Command gen draws the tray icons: one PNG per state and size, and a multi-size .ico per state
// for Windows. Run it with `go generate` in the icons folder; the outputs are committed so that
// building the daemon needs no drawing step.
//
// Every shape is a coverage test in unit coordinates, sampled several times per pixel, so the
// same drawing stays smooth from 16 to 256 pixels.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// sizes are the PNG edges: the tray sizes of the desktops we ship for, plus large ones for
// high-density screens, installers and the docs.
var sizes = []int{16, 22, 24, 32, 48, 64, 128, 256}

// icoSizes are the images packed into each .ico; Windows picks the best fit itself.
var icoSizes = []int{16, 24, 32, 48, 64, 256}

// samples per pixel edge: 4x4 is plenty for anti-aliasing flat shapes.
const samples = 4

type rgba struct{ r, g, b, a float64 }

func hex(v uint32) rgba {
	return rgba{float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255, 1}
}

// layer is one flat-coloured shape; layers are painted in order.
type layer struct {
	in func(u, v float64) bool
	c  rgba
}

// shieldHalfWidth is the shield's half width at height v: straight sides, then curving in to a
// point at the bottom.
func shieldHalfWidth(v float64) float64 {
	const top, waist, tip, w = 0.06, 0.46, 0.96, 0.40
	switch {
	case v < top || v > tip:
		return -1
	case v < waist:
		return w
	default:
		t := (v - waist) / (tip - waist)
		return w * (1 - t*t)
	}
}

// shield is the outline shape scaled by s about its centre.
func shield(s float64) func(u, v float64) bool {
	return func(u, v float64) bool {
		u, v = 0.5+(u-0.5)/s, 0.51+(v-0.51)/s
		hw := shieldHalfWidth(v)
		if hw < 0 {
			return false
		}
		d := math.Abs(u - 0.5)
		// Round the two top corners a little.
		const r = 0.08
		if v < 0.06+r && d > hw-r {
			return math.Hypot(d-(hw-r), v-(0.06+r)) <= r
		}
		return d <= hw
	}
}

func ellipse(cu, cv, ru, rv float64) func(u, v float64) bool {
	return func(u, v float64) bool {
		du, dv := (u-cu)/ru, (v-cv)/rv
		return du*du+dv*dv <= 1
	}
}

func circle(cu, cv, r float64) func(u, v float64) bool { return ellipse(cu, cv, r, r) }

// segment is a stroke of half width w from (u0,v0) to (u1,v1) with round ends.
func segment(u0, v0, u1, v1, w float64) func(u, v float64) bool {
	return func(u, v float64) bool {
		du, dv := u1-u0, v1-v0
		t := ((u-u0)*du + (v-v0)*dv) / (du*du + dv*dv)
		t = math.Max(0, math.Min(1, t))
		return math.Hypot(u-(u0+t*du), v-(v0+t*dv)) <= w
	}
}

func roundRect(u0, v0, u1, v1, r float64) func(u, v float64) bool {
	return func(u, v float64) bool {
		if u < u0 || u > u1 || v < v0 || v > v1 {
			return false
		}
		cu := math.Max(u0+r, math.Min(u1-r, u))
		cv := math.Max(v0+r, math.Min(v1-r, v))
		return math.Hypot(u-cu, v-cv) <= r
	}
}

func ring(cu, cv, r0, r1 float64) func(u, v float64) bool {
	return func(u, v float64) bool {
		d := math.Hypot(u-cu, v-cv)
		return d >= r0 && d <= r1
	}
}

func and(f, g func(u, v float64) bool) func(u, v float64) bool {
	return func(u, v float64) bool { return f(u, v) && g(u, v) }
}

var white = hex(0xffffff)

// eyes are the product's mark: two open eyes watching.
func eyes(pupil rgba) []layer {
	return []layer{
		{ellipse(0.34, 0.42, 0.125, 0.10), white},
		{ellipse(0.66, 0.42, 0.125, 0.10), white},
		{circle(0.35, 0.43, 0.055), pupil},
		{circle(0.67, 0.43, 0.055), pupil},
	}
}

// drawings are the four states: calm green shield with eyes (ready), amber with a clock (a
// posting session is open), a blue-grey padlock (everything revoked), red with an exclamation
// mark (a problem blocks publishing).
var drawings = map[string][]layer{
	"ready": append([]layer{
		{shield(1), hex(0x1b6b3a)},
		{shield(0.86), hex(0x34a865)},
	}, eyes(hex(0x1b3b2a))...),
	"session": {
		{shield(1), hex(0x9a5b00)},
		{shield(0.86), hex(0xf2a413)},
		{circle(0.5, 0.45, 0.25), hex(0x6b3f00)},
		{circle(0.5, 0.45, 0.20), white},
		{segment(0.5, 0.45, 0.5, 0.30, 0.035), hex(0x3a2600)},
		{segment(0.5, 0.45, 0.61, 0.52, 0.035), hex(0x3a2600)},
	},
	"locked": {
		{and(ring(0.5, 0.40, 0.13, 0.24), func(u, v float64) bool { return v <= 0.40 }), hex(0x2f4254)},
		{segment(0.315, 0.40, 0.315, 0.50, 0.055), hex(0x2f4254)},
		{segment(0.685, 0.40, 0.685, 0.50, 0.055), hex(0x2f4254)},
		{roundRect(0.14, 0.44, 0.86, 0.94, 0.08), hex(0x2f4254)},
		{roundRect(0.19, 0.49, 0.81, 0.89, 0.05), hex(0x6f8aa3)},
		{circle(0.5, 0.64, 0.08), hex(0x1e2c38)},
		{segment(0.5, 0.64, 0.5, 0.79, 0.04), hex(0x1e2c38)},
	},
	"problem": {
		{shield(1), hex(0x8e1a12)},
		{shield(0.86), hex(0xdc3326)},
		{roundRect(0.445, 0.20, 0.555, 0.58, 0.05), white},
		{circle(0.5, 0.72, 0.065), white},
	},
}

// draw renders layers at n x n pixels, averaging samples x samples points per pixel.
func draw(layers []layer, n int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			var acc rgba // premultiplied
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					u := (float64(x) + (float64(sx)+0.5)/samples) / float64(n)
					v := (float64(y) + (float64(sy)+0.5)/samples) / float64(n)
					var px rgba
					for _, l := range layers {
						if l.in(u, v) {
							px = l.c // flat, opaque layers: the topmost wins
						}
					}
					acc.r += px.r * px.a
					acc.g += px.g * px.a
					acc.b += px.b * px.a
					acc.a += px.a
				}
			}
			if acc.a == 0 {
				continue
			}
			k := float64(samples * samples)
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(math.Round(acc.r / acc.a * 255)),
				G: uint8(math.Round(acc.g / acc.a * 255)),
				B: uint8(math.Round(acc.b / acc.a * 255)),
				A: uint8(math.Round(acc.a / k * 255)),
			})
		}
	}
	return img
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

// encodeICO packs PNG images into an .ico file (PNG entries are valid since Windows Vista).
// Layout: ICONDIR (6 bytes), one ICONDIRENTRY (16 bytes) per image, then the image data.
func encodeICO(pngs map[int][]byte, order []int) []byte {
	var buf bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 6)
	le.PutUint16(hdr[2:], 1) // type: icon
	le.PutUint16(hdr[4:], uint16(len(order)))
	buf.Write(hdr)
	offset := 6 + 16*len(order)
	for _, n := range order {
		e := make([]byte, 16)
		// Width and height are one byte each; 0 means 256.
		e[0], e[1] = byte(n%256), byte(n%256)
		le.PutUint16(e[4:], 1)  // colour planes
		le.PutUint16(e[6:], 32) // bits per pixel
		le.PutUint32(e[8:], uint32(len(pngs[n])))
		le.PutUint32(e[12:], uint32(offset))
		offset += len(pngs[n])
		buf.Write(e)
	}
	for _, n := range order {
		buf.Write(pngs[n])
	}
	return buf.Bytes()
}

func main() {
	out := "."
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	for state, layers := range drawings {
		pngs := map[int][]byte{}
		for _, n := range sizes {
			pngs[n] = encodePNG(draw(layers, n))
			name := filepath.Join(out, fmt.Sprintf("%s-%d.png", state, n))
			if err := os.WriteFile(name, pngs[n], 0o644); err != nil {
				log.Fatal(err)
			}
		}
		name := filepath.Join(out, state+".ico")
		if err := os.WriteFile(name, encodeICO(pngs, icoSizes), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
