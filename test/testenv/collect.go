package testenv

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/config"
)

// collectYAML returns the collect section of a config file for c: its
// address, write keys, limits, ip handling and timeouts.
func collectYAML(c collect.Config) (string, error) {
	b, err := yaml.Marshal(map[string]any{"collect": map[string]any{
		"addr": c.Addr, "write_keys": c.WriteKeys, "max_body_bytes": c.MaxBodyBytes,
		"max_inflight_bytes": c.MaxInflightBytes,
		"max_batch_records":  c.MaxBatchRecords, "ip": c.IP, "ack_timeout": c.AckTimeout.String(),
		"clock_skew": c.ClockSkew.String(), "probe_interval": c.ProbeInterval.String(), "gc_percent": c.GCPercent,
	}})
	if err != nil {
		return "", fmt.Errorf("writing the collect section: %w", err)
	}
	return string(b), nil
}

// StartCollect builds cmd/collect, runs it with the config file at cfgPath
// (written by WriteConfig from a config whose Collect.Addr is set, e.g.
// "127.0.0.1:<FreePort>"), its output appended to logPath, waits until its
// /readyz answers 200 and returns its base URL ("http://127.0.0.1:port").
// The process is stopped when the test ends.
func StartCollect(t testing.TB, cfgPath, logPath string) string {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("loading %s: %v", cfgPath, err)
	}
	_, port, ok := strings.Cut(cfg.Collect.Addr, ":")
	if !ok || port == "" {
		t.Fatalf("collect.addr %q in %s names no port", cfg.Collect.Addr, cfgPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := Build(ctx, t.TempDir(), "collect")
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProcess(bin, logPath, "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Terminate(30 * time.Second) })
	base := "http://127.0.0.1:" + port
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if _, werr := p.Wait(0); werr == nil {
			t.Fatalf("collect exited before it was ready; see %s", logPath)
		}
		if time.Now().After(deadline) {
			t.Fatalf("collect at %s not ready within 60s (last: %v); see %s", base, err, filepath.Base(logPath))
		}
	}
}
