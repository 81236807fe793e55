package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestSigtermFlushesAndCommits gives the service a batch size and flush
// interval it never reaches, waits until it holds every record in memory,
// and sends SIGTERM: the records must be in ClickHouse and their offsets
// committed when the process exits.
func TestSigtermFlushesAndCommits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	port := freePort(t)
	cfg, conn, cfgPath := setup(ctx, t, 2, func(c *config.Config) {
		c.Ingest.BatchSize = 1_000_000
		c.Ingest.FlushInterval = time.Hour
		c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	})
	const n = 3000
	revenue := publishGenerated(ctx, t, cfg, n, 5)
	p := startIngest(t, cfgPath, logPath(t))
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	for !strings.Contains(scrape(metrics), "touchline_ingest_records_consumed_total{topic=\""+cfg.Kafka.Topics.Touchpoints+"\"} 3000") {
		if ctx.Err() != nil {
			t.Fatalf("the service never consumed all %d records:\n%s", n, scrape(metrics))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, _ := testenv.TouchpointTotals(ctx, conn); got.Rows != 0 {
		t.Fatalf("%d rows written before SIGTERM; the test needs them held in memory", got.Rows)
	}
	if err := p.Terminate(time.Minute); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	got, err := testenv.TouchpointTotals(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != n || got.Revenue != revenue {
		t.Fatalf("after SIGTERM: %d rows, revenue %d; want %d, %d", got.Rows, got.Revenue, n, revenue)
	}
	waitCommitted(ctx, t, cfg)
}

func scrape(url string) string {
	resp, err := http.Get(url) //nolint:gosec // loopback test URL
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
