package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/testenv"
)

// TestUIHungClickHouse runs `touchline ui` twice (queries bounded at 2s),
// one probing ClickHouse every second and one every hour, and stops
// ClickHouse with SIGSTOP. The first's /readyz answers 503 within the
// probe's interval and timeout while /healthz stays 200, and a query is
// answered within the UI's own bound (max_execution_time and 5s), 502 or
// 504 saying that ClickHouse did not answer, rather than waiting on the
// hung server. The second, whose kept connection no probe has taken, sends
// the query on it and answers 504 at the bound: the server did not answer,
// not "narrow the range". After SIGCONT both answer the query again.
func TestUIHungClickHouse(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg := s.Config(uniqueName(t))
	migrated(ctx, t, cfg).Close()
	start := func(probe string) (string, *readiness) {
		t.Helper()
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfgPath := writeConfigWith(t, cfg, fmt.Sprintf("ui:\n  listen: %s\n  max_execution_time: 2s\n  probe_interval: %s\n", addr, probe))
		p, err := testenv.StartProcess(touchlineBin, logPath(t), "--config", cfgPath, "ui")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		ready := watchReadiness(t, addr)
		ready.waitFor(t, http.StatusOK, time.Minute)
		return "http://" + addr, ready
	}
	get := func(url string) (int, string, time.Duration) {
		t.Helper()
		client := &http.Client{Timeout: time.Minute}
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body)), time.Since(start)
	}
	const overview = "/api/overview?from=2026-09-01&to=2026-09-29"
	probed, ready := start("1s")
	kept, _ := start("1h")
	for _, base := range []string{probed, kept} {
		if code, body, _ := get(base + overview); code != http.StatusOK {
			t.Fatalf("before the pause: %d %s", code, body)
		}
	}

	paused := pause(t, s.ClickHouse)
	code, body, took := get(kept + overview)
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "ClickHouse did not answer within ui.max_execution_time (2s) and 5s more") {
		t.Errorf("a query on a kept connection while ClickHouse hangs: %d %s, want 504 saying ClickHouse did not answer", code, body)
	}
	if took < 7*time.Second || took > 12*time.Second {
		t.Errorf("a query on a kept connection while ClickHouse hangs was answered after %s; want at the 2s bound and 5s", took)
	}
	if took := ready.waitFor(t, http.StatusServiceUnavailable, 20*time.Second).Sub(paused); took > 8*time.Second {
		t.Errorf("/readyz said 503 %s after ClickHouse hung; want within the 1s interval and 5s timeout of its probe:%s", took, ready)
	}
	if code, body, _ := get(probed + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while ClickHouse hangs: %d %s, want 200", code, body)
	}
	// A new connection's handshake times out (502), or a query sent on a
	// kept one outlasts the UI's bound (504).
	code, body, took = get(probed + overview)
	if (code != http.StatusBadGateway && code != http.StatusGatewayTimeout) || !strings.Contains(body, "ClickHouse did not answer") {
		t.Errorf("a query while ClickHouse hangs: %d %s, want 502 or 504 saying ClickHouse did not answer", code, body)
	}
	if took > 12*time.Second {
		t.Errorf("a query while ClickHouse hangs was answered after %s; want within the 2s bound and 5s", took)
	}

	if err := s.ClickHouse.Resume(); err != nil {
		t.Fatal(err)
	}
	ready.waitFor(t, http.StatusOK, time.Minute)
	for _, base := range []string{probed, kept} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, _ := get(base + overview)
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after SIGCONT %s still answers %d %s", base, code, body)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Logf("/readyz answered:%s", ready)
}
