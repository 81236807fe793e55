package integration

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/testenv"
)

// publishGenerated publishes n generated touchpoints and returns the revenue
// they carry.
func publishGenerated(ctx context.Context, t *testing.T, cfg config.Config, n int, seed int64) int64 {
	t.Helper()
	revenue, err := testenv.PublishGenerated(ctx, cfg, n, seed, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return revenue
}

// setup prepares topics (partitions each) and a migrated database named after
// the test, and writes the service config file.
func setup(ctx context.Context, t *testing.T, partitions int32, tune func(*config.Config)) (config.Config, driver.Conn, string) {
	t.Helper()
	cfg := servers(t).Config(uniqueName(t))
	if tune != nil {
		tune(&cfg)
	}
	conn, err := testenv.Prepare(ctx, cfg, partitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cfg, conn, configFile(t, cfg)
}

// configFile writes cfg as a service config file and returns its path.
func configFile(t *testing.T, cfg config.Config) string {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// startResolver runs the identity resolver as a process until the test ends.
func startResolver(t *testing.T, cfgPath, log string) *testenv.Process {
	t.Helper()
	p, err := testenv.StartProcess(touchlineBin, log, "identity", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func startIngest(t *testing.T, cfgPath, log string) *testenv.Process {
	t.Helper()
	p, err := testenv.StartProcess(ingestBin, log, "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

// TestIngestExactUnderCrashAndReplay publishes 100,000 touchpoints, kills the
// ingest process with SIGKILL at a random point, restarts it, then resets the
// consumer group to the earliest offsets and consumes everything again: the
// deduplicated count and revenue are exact after each step.
func TestIngestExactUnderCrashAndReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 4, func(c *config.Config) { c.Ingest.BatchSize = 5000 })
	const n, chunk = 100_000, 5_000
	log := logPath(t)

	// Publish while the service runs, and kill it with SIGKILL at a random
	// moment after a random chunk; publish the rest while it is down.
	killAfter := chunk * (2 + rand.IntN(n/chunk-4))
	killDelay := time.Duration(rand.IntN(500)) * time.Millisecond
	p := startIngest(t, cfgPath, log)
	wantRevenue, err := testenv.PublishGenerated(ctx, cfg, n, 42, chunk, func(published int) error {
		if published == killAfter {
			time.Sleep(killDelay)
			p.Kill()
			before, err := testenv.TouchpointTotals(ctx, conn)
			t.Logf("killed ingest %s after %d records were published, with %d rows written (%v)", killDelay, published, before.Rows, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if wantRevenue <= 0 {
		t.Fatalf("generated traffic has no revenue")
	}

	p = startIngest(t, cfgPath, log)
	got, err := testenv.WaitTotals(ctx, conn, n)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, cfg)
	got, _ = testenv.TouchpointTotals(ctx, conn)
	if got.Rows != n || got.Revenue != wantRevenue {
		t.Fatalf("after crash: got %d rows, revenue %d; want %d rows, revenue %d", got.Rows, got.Revenue, n, wantRevenue)
	}
	if err := p.Terminate(time.Minute); err != nil {
		t.Fatalf("ingest did not shut down cleanly: %v", err)
	}

	// Replay everything from the earliest offsets.
	resetToEarliest(ctx, t, cfg)
	// ingested_at has second resolution: start the replay in a later second,
	// so rows it rewrites are told apart from the first ingestion.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	replayStart := time.Now().UTC().Truncate(time.Second)
	p = startIngest(t, cfgPath, log)
	waitCommitted(ctx, t, cfg)
	if err := p.Terminate(time.Minute); err != nil {
		t.Fatalf("ingest did not shut down cleanly: %v", err)
	}
	got, err = testenv.TouchpointTotals(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	// Every event was ingested again (the surviving version of each is from
	// the replay), and still counted once.
	var replayed uint64
	if err := conn.QueryRow(ctx, "SELECT countIf(ingested_at >= ?) FROM touchpoints FINAL", replayStart).Scan(&replayed); err != nil {
		t.Fatal(err)
	}
	if replayed != n {
		t.Fatalf("the replay rewrote %d of %d events", replayed, n)
	}
	if got.Rows != n || got.Revenue != wantRevenue {
		t.Fatalf("after replay: got %d rows, revenue %d; want %d rows, revenue %d", got.Rows, got.Revenue, n, wantRevenue)
	}
}

func admin(t *testing.T, cfg config.Config) *kadm.Client {
	t.Helper()
	cl, err := kafka.NewClient(cfg.Kafka, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// waitCommitted waits until the ingest group has committed the end offset of
// every partition of the touchpoints and spend topics.
func waitCommitted(ctx context.Context, t *testing.T, cfg config.Config) {
	t.Helper()
	waitTopicsCommitted(ctx, t, cfg, cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend)
}

// waitTopicsCommitted waits until the ingest group has committed the end
// offset of every partition of topics.
func waitTopicsCommitted(ctx context.Context, t *testing.T, cfg config.Config, topics ...string) {
	t.Helper()
	adm := admin(t, cfg)
	for {
		done, err := kafka.GroupCaughtUp(ctx, adm, cfg.Ingest.Group, topics...)
		if err == nil && done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the ingest group to commit everything: %v", ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// resetToEarliest commits offset 0 for every partition of the ingest group, as
// `kafka-consumer-groups --reset-offsets --to-earliest` does.
func resetToEarliest(ctx context.Context, t *testing.T, cfg config.Config) {
	t.Helper()
	resetGroup(ctx, t, cfg, cfg.Ingest.Group, cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend)
}
