package icons

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"testing"
)

func TestPNGs(t *testing.T) {
	for _, state := range States {
		for _, size := range Sizes {
			b, err := PNG(state, size)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s-%d: %v", state, size, err)
			}
			if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
				t.Errorf("%s-%d is %v", state, size, r)
			}
		}
	}
	if _, err := PNG("nonsense", 16); err == nil {
		t.Error("unknown state: no error")
	}
}

// TestICO reads each .ico the way Windows does: the directory, then each PNG entry.
func TestICO(t *testing.T) {
	le := binary.LittleEndian
	for _, state := range States {
		b, err := ICO(state)
		if err != nil {
			t.Fatal(err)
		}
		if le.Uint16(b[0:]) != 0 || le.Uint16(b[2:]) != 1 {
			t.Fatalf("%s.ico: bad header % x", state, b[:4])
		}
		n := int(le.Uint16(b[4:]))
		seen := map[int]bool{}
		for i := range n {
			e := b[6+16*i:]
			w := int(e[0])
			if w == 0 {
				w = 256
			}
			size, off := le.Uint32(e[8:]), le.Uint32(e[12:])
			img, err := png.Decode(bytes.NewReader(b[off : off+size]))
			if err != nil {
				t.Fatalf("%s.ico entry %d: %v", state, i, err)
			}
			if img.Bounds().Dx() != w || int(e[1]) != int(e[0]) {
				t.Errorf("%s.ico entry %d: directory says %d, image is %v", state, i, w, img.Bounds())
			}
			seen[w] = true
		}
		for _, want := range []int{16, 32, 48, 256} {
			if !seen[want] {
				t.Errorf("%s.ico lacks %d px", state, want)
			}
		}
	}
}
