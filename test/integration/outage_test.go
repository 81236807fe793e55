package integration

import (
	"context"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestClickHouseOutage stops ClickHouse for 60 seconds while touchpoints
// stream in: the ingest process keeps its memory bounded, recovers by itself
// when ClickHouse is back, and the final counts are exact.
func TestClickHouseOutage(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 4, func(c *config.Config) { c.Ingest.BatchSize = 2000 })
	p := startIngest(t, cfgPath, logPath(t))

	const chunk, chunks = 20_000, 5
	var wantRevenue int64
	wantRevenue += publishGenerated(ctx, t, cfg, chunk, 1)
	if _, err := testenv.WaitTotals(ctx, conn, chunk); err != nil {
		t.Fatal(err)
	}
	_, baselinePeak, err := p.RSS()
	if err != nil {
		t.Fatal(err)
	}

	if err := s.ClickHouse.Stop(); err != nil {
		t.Fatal(err)
	}
	outageEnd := time.Now().Add(60 * time.Second)
	for i := int64(2); i <= chunks; i++ {
		wantRevenue += publishGenerated(ctx, t, cfg, chunk, i)
	}
	var peakDuring int64
	for time.Now().Before(outageEnd) {
		_, peak, err := p.RSS()
		if err != nil {
			t.Fatalf("ingest process died during the outage: %v", err)
		}
		peakDuring = max(peakDuring, peak)
		time.Sleep(time.Second)
	}
	if err := s.ClickHouse.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := testenv.WaitTotals(ctx, conn, chunk*chunks)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, cfg)
	got, _ = testenv.TouchpointTotals(ctx, conn)
	t.Logf("peak RSS %d MiB before the outage, %d MiB during it", baselinePeak>>20, peakDuring>>20)
	if got.Rows != chunk*chunks || got.Revenue != wantRevenue {
		t.Fatalf("got %d rows, revenue %d; want %d rows, revenue %d", got.Rows, got.Revenue, chunk*chunks, wantRevenue)
	}
	// 80,000 records (about 40 MB of Avro) queued while ClickHouse was down:
	// a service that buffered them would grow by far more than this bound.
	const bound = 64 << 20
	if peakDuring > baselinePeak+bound {
		t.Fatalf("peak RSS grew from %d MiB to %d MiB during the outage; bound is +%d MiB", baselinePeak>>20, peakDuring>>20, bound>>20)
	}
	if err := p.Terminate(time.Minute); err != nil {
		t.Fatalf("ingest did not shut down cleanly: %v", err)
	}
}
