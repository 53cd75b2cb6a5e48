package main

import (
	"bytes"
	byteorder "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
)

// squatterEnv makes the test binary a program that takes a port away from the daemon.
const squatterEnv = "FOUREYES_TEST_SQUATTER"

// squatter listens on a free port of 127.0.0.1, prints it, and holds it until its standard
// input ends.
func squatter() int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = ln.Close()
	return 0
}

// nativeHello runs the binary as the browser starts the native host, sends the extension's
// hello and returns the host's one answer.
func (c *cli) nativeHello(origin string) map[string]any {
	c.t.Helper()
	msg := []byte(fmt.Sprintf(`{"v":1,"id":1,"type":"hello","origin":%q}`, origin))
	in := byteorder.NativeEndian.AppendUint32(nil, uint32(len(msg)))
	cmd := exec.Command(c.bin, origin+"/")
	cmd.Env = c.env
	cmd.Stdin = bytes.NewReader(append(in, msg...))
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("native host: %v", err)
	}
	if len(out) < 4 || int(byteorder.NativeEndian.Uint32(out)) != len(out)-4 {
		c.t.Fatalf("native host answered %q", out)
	}
	var reply map[string]any
	if err := json.Unmarshal(out[4:], &reply); err != nil {
		c.t.Fatalf("native host answered %q: %v", out, err)
	}
	return reply
}
