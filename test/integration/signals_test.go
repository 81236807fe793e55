package integration

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/config"
)

// TestSecondSigintEndsAStuckShutdownAtOnce runs the ingest binary with its
// records held in memory and its ClickHouse behind a proxy that the test
// stalls: the first SIGINT starts the final flush, which hangs on the stalled
// ClickHouse (for up to ingest.shutdown_timeout, 30 s); the second SIGINT
// used to be swallowed and now ends the process at once, by the signal.
func TestSecondSigintEndsAStuckShutdownAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	port := freePort(t)
	proxy := stallingProxy(t, servers(t).ClickHouse.Addr())
	cfg, _, cfgPath := setup(ctx, t, 2, func(c *config.Config) {
		c.Ingest.BatchSize = 1_000_000
		c.Ingest.FlushInterval = time.Hour
		c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
		c.ClickHouse.Addr = []string{proxy.addr}
	})
	const n = 500
	publishGenerated(ctx, t, cfg, n, 9)
	p := startIngest(t, cfgPath, logPath(t))
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	want := fmt.Sprintf("touchline_ingest_records_consumed_total{topic=%q} %d", cfg.Kafka.Topics.Touchpoints, n)
	for !strings.Contains(scrape(metrics), want) {
		if ctx.Err() != nil {
			t.Fatalf("the service never consumed all %d records:\n%s", n, scrape(metrics))
		}
		time.Sleep(100 * time.Millisecond)
	}
	proxy.stalled.Store(true)
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// The first SIGINT is a graceful shutdown: the final flush is under way
	// and stuck on the stalled ClickHouse, so the process still runs.
	if state, err := p.Wait(2 * time.Second); err == nil {
		t.Fatalf("the first SIGINT ended the process at once (%v) although its flush could not reach ClickHouse", state)
	}
	start := time.Now()
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	state, err := p.Wait(5 * time.Second)
	if err != nil {
		t.Fatalf("after a second SIGINT: %v", err)
	}
	ws := state.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("after a second SIGINT: %v, want killed by SIGINT", state)
	}
	t.Logf("exited %s after the second SIGINT", time.Since(start))
}

// proxy forwards TCP connections to a server until stalled is set; from
// then on it holds every byte it reads, as a hung server would.
type proxy struct {
	addr    string
	stalled atomic.Bool
}

// stallingProxy starts a proxy to target for the duration of the test.
func stallingProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(c, s, done)
			go p.pipe(s, c, done)
		}
	}()
	return p
}

// pipe copies from src to dst until either closes or the test ends,
// holding what it reads while the proxy is stalled.
func (p *proxy) pipe(src, dst net.Conn, done <-chan struct{}) {
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.stalled.Load() {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
