package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"foureyes/daemon/internal/testenv"
)

// testPKI is a CA with a server certificate for collector.test and 127.0.0.1, and a client
// certificate, all as PEM files.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

func newTestPKI(t testing.TB, dir, name string) testPKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, name+"-"+file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) ([]byte, []byte) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{cn}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der, kd
	}
	sc, sk := leaf(2, "collector.test", x509.ExtKeyUsageServerAuth)
	cc, ck := leaf(3, "laptop.test", x509.ExtKeyUsageClientAuth)
	return testPKI{
		CA:         write("ca.pem", "CERTIFICATE", caDER),
		ServerCert: write("server.pem", "CERTIFICATE", sc),
		ServerKey:  write("server-key.pem", "PRIVATE KEY", sk),
		ClientCert: write("client.pem", "CERTIFICATE", cc),
		ClientKey:  write("client-key.pem", "PRIVATE KEY", ck),
	}
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// rsyslog is a real rsyslogd with its TLS input (imtcp, gtls driver) on 127.0.0.1, writing what
// it receives to Out, one message a line.
type rsyslog struct {
	t       testing.TB
	bin     string
	conf    string
	pidfile string
	Port    int
	Out     string
	cmd     *exec.Cmd
	stderr  *os.File
	exited  chan struct{}
}

// startRsyslog writes the collector's config (the example of installer/admin.md, with test
// paths) and starts rsyslogd. authMode is the gtls driver's: "x509/certvalid" asks every client
// for a certificate from the CA.
func startRsyslog(t testing.TB, dir string, pki testPKI, authMode string) *rsyslog {
	t.Helper()
	bin := testenv.Program(t, "", "rsyslog rsyslog-gnutls", "rsyslogd", "/usr/sbin/rsyslogd")
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			testenv.Need(t, "rsyslog's TLS driver (lmnsd_gtls)", "apt-get install rsyslog-gnutls")
		}
	}
	work := filepath.Join(dir, "rsyslog-work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	r := &rsyslog{t: t, bin: bin, Port: freePort(t), Out: filepath.Join(dir, "collector.log"),
		conf: filepath.Join(dir, "rsyslog.conf"), pidfile: filepath.Join(dir, "rsyslog.pid")}
	conf := fmt.Sprintf(`global(
  workDirectory=%q
  maxMessageSize="64k"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile=%q
  defaultNetstreamDriverCertFile=%q
  defaultNetstreamDriverKeyFile=%q
)
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode=%q)
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="foureyes")
template(name="foureyes" type="string" string="%%TIMESTAMP:::date-rfc3339%% %%HOSTNAME%% %%APP-NAME%%[%%PROCID%%] %%MSGID%% %%msg%%\n")
ruleset(name="foureyes") {
  action(type="omfile" file=%q template="foureyes")
}
`, work, pki.CA, pki.ServerCert, pki.ServerKey, authMode, r.Port, r.Out)
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// start runs rsyslogd in a process group of its own and waits until its input listens.
func (r *rsyslog) start() {
	r.t.Helper()
	_ = os.Remove(r.pidfile)
	errf, err := os.CreateTemp(filepath.Dir(r.conf), "rsyslog-stderr-*")
	if err != nil {
		r.t.Fatal(err)
	}
	r.stderr = errf
	cmd := exec.Command(r.bin, "-n", "-f", r.conf, "-i", r.pidfile)
	cmd.Stdout, cmd.Stderr = errf, errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting rsyslogd: %v", err)
	}
	r.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.Port))
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(errf.Name())
			r.t.Fatalf("rsyslogd exited at start: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(errf.Name())
			r.t.Fatalf("rsyslogd does not listen on port %d after 30 s: %s", r.Port, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.exited = exited
}

// stop ends rsyslogd (SIGTERM, then SIGKILL to the group) and waits for it.
func (r *rsyslog) stop() {
	if r.cmd == nil {
		return
	}
	pgid := r.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-r.exited
	}
	r.cmd = nil
	_ = r.stderr.Close()
}

// proxy forwards TCP connections to a backend; cut closes every connection and refuses new ones
// until restore: a network cut as the laptop sees it.
type proxy struct {
	t       testing.TB
	l       net.Listener
	backend string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startProxy(t testing.TB, backend string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, l: l, backend: backend, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) Addr() string { return p.l.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[b] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		go pipe(b, c)
		go pipe(c, b)
	}
}

// Cut drops every connection (what is in flight in the proxy is lost) and refuses new ones.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, as a broken network path gives
		}
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *proxy) close() {
	_ = p.l.Close()
	p.Cut()
	p.wg.Wait()
}

// collectorSeqs reads the collector's file: the seq of each message in order, and the hash each
// seq was last seen with.
func collectorSeqs(t testing.TB, path string) []uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, line := range strings.Split(string(b), "\n") {
		m := forwardedRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		seqs = append(seqs, n)
	}
	return seqs
}

// waitFor polls cond until it holds; a minute without is a failure naming what.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 2 minutes for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
