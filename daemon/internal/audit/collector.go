package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// The collector forwarder sends every record to the organisation's log collector as an RFC 5424
// message over TLS with RFC 5425's octet-counting framing ("LEN SP MSG"). Records go through a
// queue on disk first (queue.go), so a collector out of reach, a network cut or a daemon restart
// loses none: they are sent in order once the collector answers again.
//
// RFC 5425 has no acknowledgement from the collector. A record leaves the queue once it was
// written to the connection, the peer's TCP acknowledged every byte written (on Linux, where the
// socket's send queue can be read), and the connection then stayed up for confirmAfter. After a
// reconnect everything not yet confirmed is sent again, so the collector may hold a message
// twice: the same seq with the same hash, which audit compare accepts.

// CollectorConfig says where the collector is and whom to trust.
type CollectorConfig struct {
	Address string // host:port
	// CAFile is a PEM file of the CAs that may sign the collector's certificate: the only roots.
	CAFile string
	// ClientCertFile and ClientKeyFile (PEM), both or neither: the daemon's mutual TLS identity.
	ClientCertFile, ClientKeyFile string
	ServerName                    string // the name the collector's certificate must carry
	QueueMaxBytes                 int64  // bound of the queue on disk
}

// Timings of the collector forwarder. Tests shorten them.
type collectorTimings struct {
	confirmAfter time.Duration // how long a connection must stay up before what it sent counts
	backoffMin   time.Duration // first wait after a failed connection
	backoffMax   time.Duration
	ioTimeout    time.Duration // dialling, the handshake and each write
}

var defaultCollectorTimings = collectorTimings{
	confirmAfter: time.Second,
	backoffMin:   time.Second,
	backoffMax:   5 * time.Minute,
	ioTimeout:    30 * time.Second,
}

// Collector is the forwarder to the organisation's collector. Configure starts it; Forward
// queues each record; a goroutine sends the queue.
type Collector struct {
	queuePath string
	host      string
	pid       int
	logf      func(format string, args ...any)
	t         collectorTimings

	mu       sync.Mutex
	cfg      *CollectorConfig // nil: records are not queued
	sendCfg  *CollectorConfig // where the sender sends (the last config, also after nil)
	gen      uint64           // counts config changes, so the sender reconnects
	q        *queue
	notes    []string
	lastErr  error // why the latest connection or write failed; nil once sending works
	failedAt time.Time
	conn     net.Conn
	running  bool
	stopping bool
	aborted  bool          // Close gave up draining: no new connection
	kick     chan struct{} // new records, a new config or stopping
	done     chan struct{}
}

// NewCollector returns a collector forwarder whose queue is the file queuePath. It sends nothing
// until Configure gives it a collector. logf (nil for none) gets one line per change of state.
func NewCollector(queuePath string, logf func(format string, args ...any)) *Collector {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "-"
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Collector{queuePath: queuePath, host: syslogToken(host, 255), pid: os.Getpid(), logf: logf,
		t: defaultCollectorTimings, kick: make(chan struct{}, 1)}
}

// ungated: audit.syslog does not turn the collector off; it has its own key in the policy.
func (c *Collector) ungated() {}

// Configure sets the collector, or with nil stops queueing new records (what is queued is still
// sent to the collector configured before). The first config opens the queue and resumes what
// it holds. A queue that ended in a torn record is cut back; Notes says so.
func (c *Collector) Configure(cfg *CollectorConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg != nil {
		cp := *cfg
		cfg = &cp
	}
	if cfg != nil && c.q == nil {
		q, note, err := openQueue(c.queuePath, cfg.QueueMaxBytes)
		if err != nil {
			return fmt.Errorf("audit collector %s: %w", cfg.Address, err)
		}
		c.q = q
		if note != "" {
			c.notes = append(c.notes, note)
			c.logf("%s", note)
		}
	}
	if cfg != nil {
		c.q.mu.Lock()
		c.q.max = cfg.QueueMaxBytes
		c.q.mu.Unlock()
		if c.sendCfg == nil || *c.sendCfg != *cfg {
			c.gen++
			c.sendCfg = cfg
		}
	}
	c.cfg = cfg
	if c.sendCfg != nil && !c.running && !c.stopping {
		c.running = true
		c.done = make(chan struct{})
		go c.run()
	}
	c.poke()
	return nil
}

func (c *Collector) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Notes returns, once, what opening the queue found (a torn last record cut off): the daemon
// records it in the trail.
func (c *Collector) Notes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.notes
	c.notes = nil
	return n
}

// Forward queues rec for the collector (nothing when none is configured). The record is on disk
// when Forward returns; only a full or unwritable queue fails, and the trail then says that
// forwarding failed.
func (c *Collector) Forward(rec Record) error {
	c.mu.Lock()
	cfg, q := c.cfg, c.q
	c.mu.Unlock()
	if cfg == nil {
		return nil
	}
	if err := q.push(syslogMessage(rec, c.host, c.pid)); err != nil {
		return fmt.Errorf("queueing audit event %d for the collector %s: %w", rec.Seq, cfg.Address, err)
	}
	c.poke()
	return nil
}

// Waiting returns how many records wait in the queue, sent or not.
func (c *Collector) Waiting() int {
	c.mu.Lock()
	q := c.q
	c.mu.Unlock()
	if q == nil {
		return 0
	}
	_, _, n := q.state()
	return n
}

// Problem says why records are not reaching the collector (nil when they are, or when none
// wait): foureyes status shows it.
func (c *Collector) Problem() error {
	c.mu.Lock()
	err, since, addr := c.lastErr, c.failedAt, ""
	if c.sendCfg != nil {
		addr = c.sendCfg.Address
	}
	c.mu.Unlock()
	n := c.Waiting()
	if err == nil || n == 0 {
		return nil
	}
	return fmt.Errorf("audit collector %s unreachable since %s, %d events wait in the queue %s: %w",
		addr, since.Format(time.RFC3339), n, c.queuePath, err)
}

// Close stops the sender, after it sent what waits when the collector answers within drain,
// and closes the queue. What is not sent stays in the queue for the next start.
func (c *Collector) Close(drain time.Duration) error {
	c.mu.Lock()
	c.stopping = true
	done, running := c.done, c.running
	c.poke()
	c.mu.Unlock()
	if running {
		t := time.NewTimer(drain)
		select {
		case <-done:
		case <-t.C:
			c.mu.Lock()
			c.aborted = true
			if c.conn != nil {
				_ = c.conn.Close()
			}
			c.mu.Unlock()
			<-done
		}
		t.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.q == nil {
		return nil
	}
	return c.q.close()
}

// run sends the queue until Close, reconnecting with a growing wait after each failure.
func (c *Collector) run() {
	defer close(c.done)
	backoff := c.t.backoffMin
	for {
		c.mu.Lock()
		cfg, gen, stopping, aborted := c.sendCfg, c.gen, c.stopping, c.aborted
		c.mu.Unlock()
		_, _, waiting := c.q.state()
		if aborted || stopping && (waiting == 0 || c.lastFailed()) {
			return
		}
		if waiting == 0 {
			// Nothing to send: connect only when there is.
			<-c.kick
			continue
		}
		started := time.Now()
		err := c.session(cfg, gen)
		if err == nil {
			backoff = c.t.backoffMin
			continue
		}
		c.mu.Lock()
		aborted = c.aborted
		c.mu.Unlock()
		if aborted {
			return // Close cut the connection: not a failure of the collector
		}
		c.fail(cfg, err)
		if time.Since(started) > c.t.backoffMax {
			backoff = c.t.backoffMin // the connection worked for a good while
		}
		// Jitter keeps a fleet of laptops from reconnecting at the same moment.
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, c.t.backoffMax)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.kick:
			// A new config is tried at once; new records wait for the timer.
			c.mu.Lock()
			again := c.gen != gen || c.stopping
			c.mu.Unlock()
			if !again {
				<-t.C
			}
		}
		t.Stop()
	}
}

func (c *Collector) lastFailed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr != nil
}

func (c *Collector) fail(cfg *CollectorConfig, err error) {
	c.mu.Lock()
	first := c.lastErr == nil
	if first {
		c.failedAt = time.Now()
	}
	c.lastErr = err
	c.mu.Unlock()
	if first {
		c.logf("audit events wait in the queue for the collector %s (retrying): %v", cfg.Address, err)
	}
}

func (c *Collector) ok(cfg *CollectorConfig) {
	c.mu.Lock()
	was := c.lastErr
	c.lastErr = nil
	c.mu.Unlock()
	if was != nil {
		c.logf("audit events reach the collector %s again", cfg.Address)
	}
}

// session connects once and sends until the connection breaks (an error), the config changes
// or the queue is empty while stopping (nil).
func (c *Collector) session(cfg *CollectorConfig, gen uint64) error {
	conn, tcp, err := dialCollector(cfg, c.t.ioTimeout)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		_ = conn.Close()
	}()

	// The collector never writes: a read returns only when the connection ends.
	dead := make(chan struct{})
	var deadErr error
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				deadErr = err
				close(dead)
				return
			}
		}
	}()
	isDead := func() error {
		select {
		case <-dead:
			if errors.Is(deadErr, net.ErrClosed) || deadErr == nil {
				return fmt.Errorf("connection to %s closed", cfg.Address)
			}
			return fmt.Errorf("connection to %s lost: %w", cfg.Address, deadErr)
		default:
			return nil
		}
	}

	type flushed struct {
		end int64
		at  time.Time
	}
	sent, _, _ := c.q.state() // everything not confirmed goes again
	var pending []flushed
	buf := make([]byte, 0, 256<<10)
	for {
		// Confirm what was written long enough ago, on a connection still up, once the peer
		// acknowledged every byte.
		now := time.Now()
		var confirm int64 = -1
		for len(pending) > 0 && now.Sub(pending[0].at) >= c.t.confirmAfter {
			if err := isDead(); err != nil {
				return err
			}
			if !sendQueueEmpty(tcp) {
				break
			}
			confirm = pending[0].end
			pending = pending[1:]
		}
		if confirm >= 0 {
			if err := c.q.confirm(confirm); err != nil {
				return err
			}
		}
		c.mu.Lock()
		stopping, changed := c.stopping, c.gen != gen
		c.mu.Unlock()
		if changed {
			return nil
		}
		frames, next, err := c.q.read(sent, cap(buf), buf[:0])
		if err != nil {
			return err
		}
		if len(frames) > 0 {
			if err := conn.SetWriteDeadline(time.Now().Add(c.t.ioTimeout)); err != nil {
				return fmt.Errorf("sending to %s: %w", cfg.Address, err)
			}
			if _, err := conn.Write(frames); err != nil {
				return fmt.Errorf("sending to %s: %w", cfg.Address, err)
			}
			sent = next
			pending = append(pending, flushed{end: next, at: time.Now()})
			c.ok(cfg)
			continue
		}
		if err := isDead(); err != nil {
			return err
		}
		if stopping && len(pending) == 0 {
			return nil
		}
		// Wait for new records, the connection's end, or the next confirmation.
		var tick <-chan time.Time
		var tm *time.Timer
		if len(pending) > 0 {
			tm = time.NewTimer(max(c.t.confirmAfter-time.Since(pending[0].at), c.t.confirmAfter/10))
			tick = tm.C
		}
		select {
		case <-c.kick:
		case <-dead:
		case <-tick:
		}
		if tm != nil {
			tm.Stop()
		}
	}
}

// dialCollector connects over TCP and completes a TLS handshake (TLS 1.2 or later) that trusts
// only cfg.CAFile. The files are read at each connection, so renewed certificates take effect
// without a restart.
func dialCollector(cfg *CollectorConfig, timeout time.Duration) (*tls.Conn, *net.TCPConn, error) {
	tc, err := collectorTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
	raw, err := d.Dial("tcp", cfg.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", cfg.Address, err)
	}
	conn := tls.Client(raw, tc)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, nil, fmt.Errorf("TLS handshake with %s (verifying %q against %s): %w", cfg.Address, tc.ServerName, cfg.CAFile, err)
	}
	tcp, _ := raw.(*net.TCPConn)
	return conn, tcp, nil
}

// collectorTLS builds the client's TLS config. There is deliberately no way to skip
// verification: a collector that cannot be verified gets nothing.
func collectorTLS(cfg *CollectorConfig) (*tls.Config, error) {
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the collector's CA file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the collector's CA file %s holds no PEM certificate", cfg.CAFile)
	}
	name := cfg.ServerName
	if name == "" {
		if h, _, err := net.SplitHostPort(cfg.Address); err == nil {
			name = h
		}
	}
	tc := &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}
	if cfg.ClientCertFile != "" || cfg.ClientKeyFile != "" {
		if runtime.GOOS != "windows" {
			st, err := os.Stat(cfg.ClientKeyFile)
			if err != nil {
				return nil, fmt.Errorf("reading the client key for the collector: %w", err)
			}
			if st.Mode().Perm()&0o077 != 0 {
				return nil, fmt.Errorf("the client key %s can be read by other users (mode %04o): chmod 600 it", cfg.ClientKeyFile, st.Mode().Perm())
			}
		}
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertFile, cfg.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate for the collector: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// syslogMessage is rec as an RFC 5424 message: facility auth, warning for high severity and info
// otherwise; the event's time; APP-NAME foureyes and the daemon's pid; the event name as MSGID;
// the seq in the standard meta SD-ID's sequenceId where it fits; and as MSG the same text the
// system log gets ([ForwardedText]), which audit compare reads.
func syslogMessage(rec Record, host string, pid int) []byte {
	pri := 4*8 + 6
	if rec.Severity == SeverityHigh {
		pri = 4*8 + 4
	}
	b := make([]byte, 0, 256+len(rec.Raw))
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, ">1 "...)
	b = rec.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, " foureyes "...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, ' ')
	b = append(b, syslogToken(rec.Event, 32)...)
	if rec.Seq <= 2147483647 {
		b = append(b, ` [meta sequenceId="`...)
		b = strconv.AppendUint(b, rec.Seq, 10)
		b = append(b, `"] `...)
	} else {
		b = append(b, " - "...)
	}
	return append(b, forwardMessage(rec)...)
}

// syslogToken makes s a header field of RFC 5424: printable ASCII without spaces, at most n
// bytes, "-" when empty.
func syslogToken(s string, n int) string {
	b := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(b) < n; i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}
