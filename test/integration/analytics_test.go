package integration

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/analyticscases"
)

// TestAnalyticsCases runs every hand-computed analytics case on the real
// ClickHouse server, each in a freshly migrated database holding only its
// fixture (written twice, as a replay would).
func TestAnalyticsCases(t *testing.T) {
	s := servers(t)
	cases, err := analyticscases.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := s.Config(uniqueName(t))
			conn := loadFixture(ctx, t, cfg, c.Fixture)
			res, err := analytics.Run(ctx, conn, c.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, c.SQL)
			}
			if err := c.Check(res.Columns, res.Rows); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// loadFixture migrates the database of cfg, loads f into it and returns a
// connection to it, closed when the test ends.
func loadFixture(ctx context.Context, t *testing.T, cfg config.Config, f analyticscases.Fixture) driver.Conn {
	t.Helper()
	if _, err := clickhouse.Migrate(ctx, cfg.ClickHouse, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := f.Load(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return conn
}
