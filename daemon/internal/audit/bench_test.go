package audit

import (
	"crypto/tls"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures one durable append: encode, write, fsync.
func BenchmarkAppend(b *testing.B) {
	l, _ := openTemp(b, testOptions())
	events := make([]Event, 6)
	for i := range events {
		events[i] = sampleEvent(i)
	}
	i := 0
	for b.Loop() {
		if _, err := l.Append(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerify1M verifies a log of 1,000,000 realistic lines.
func BenchmarkVerify1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	size := writeSynthetic(b, path, 1_000_000)
	b.SetBytes(size)
	for b.Loop() {
		res, err := VerifyFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if res.Lines != 1_000_000 {
			b.Fatalf("verified %d lines", res.Lines)
		}
	}
}

// BenchmarkCollectorQueue measures what the collector adds to each audit line: the RFC 5424
// message built and appended to the queue on disk with an fsync (the trail's own append is
// BenchmarkAppend).
func BenchmarkCollectorQueue(b *testing.B) {
	dir := b.TempDir()
	pki := newTestPKI(b, dir, "bench")
	// Port 1 on loopback refuses: nothing is sent, every record stays queued.
	c := NewCollector(filepath.Join(dir, "collector.queue"), nil)
	c.t = fastTimings
	if err := c.Configure(&CollectorConfig{Address: "127.0.0.1:1", CAFile: pki.CA, QueueMaxBytes: 4 << 30}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(0) })
	recs := benchRecords(b, 6)
	i := 0
	for b.Loop() {
		if err := c.Forward(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCollectorThroughput measures events queued and sent over TLS to a collector that
// reads as fast as it can, until the queue is empty: the sustained rate the forwarder reaches.
func BenchmarkCollectorThroughput(b *testing.B) {
	dir := b.TempDir()
	pki := newTestPKI(b, dir, "bench")
	cert, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		b.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		b.Fatal(err)
	}
	var received atomic.Int64
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := conn.Read(buf)
					received.Add(int64(n))
					if err != nil {
						break
					}
				}
				_ = conn.Close()
			}()
		}
	}()
	b.Cleanup(func() { _ = l.Close() })
	c := NewCollector(filepath.Join(dir, "collector.queue"), nil)
	c.t = fastTimings
	if err := c.Configure(&CollectorConfig{Address: l.Addr().String(), CAFile: pki.CA, ServerName: "collector.test", QueueMaxBytes: 4 << 30}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(0) })
	recs := benchRecords(b, 6)
	i := 0
	start := time.Now()
	for b.Loop() {
		if err := c.Forward(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// Until the last is confirmed, less the wait for confirmation itself.
	for c.Waiting() > 0 {
		time.Sleep(time.Millisecond)
	}
	sent := time.Since(start) - fastTimings.confirmAfter
	b.ReportMetric(float64(i)/sent.Seconds(), "events/s")
	b.ReportMetric(float64(received.Load())/sent.Seconds()/1e6, "MB/s")
}

// benchRecords returns n realistic records.
func benchRecords(b *testing.B, n int) []Record {
	l, _ := openTemp(b, testOptions())
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = mustAppend(b, l, sampleEvent(i))
	}
	return recs
}
