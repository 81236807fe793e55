package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/test/analyticscases"
)

// migrated migrates database on the cluster and returns a connection to it,
// closed when the test ends.
func migrated(ctx context.Context, t *testing.T, cfg clickhouse.Config) driver.Conn {
	t.Helper()
	if _, err := clickhouse.Migrate(ctx, cfg, zap.NewNop()); err != nil {
		t.Fatalf("migrating %s on cluster %s: %v", cfg.Database, cfg.Cluster, err)
	}
	conn, err := clickhouse.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestClusterAnalyticsCases runs every hand-computed analytics case (the
// single-server suite's TestAnalyticsCases) on the cluster: the fixture,
// written twice as a replay would, through the Distributed tables, and the
// analysis's SQL unchanged. All cases share one database, each with its own
// fixture loaded after the previous one's rows were deleted.
func TestClusterAnalyticsCases(t *testing.T) {
	c := theCluster(t)
	cases, err := analyticscases.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			conn := migrated(ctx, t, c.ClickHouseConfig(uniqueName(t)))
			if err := tc.Fixture.Load(ctx, conn); err != nil {
				t.Fatal(err)
			}
			res, err := table.Run(ctx, conn, tc.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, tc.SQL)
			}
			if err := tc.Check(res.Columns, res.Rows); err != nil {
				t.Fatal(err)
			}
		})
	}
}
