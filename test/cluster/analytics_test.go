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
	"github.com/touchline-io/touchline/test/testenv"
)

// migrated migrates database on the cluster and returns a connection to it,
// closed, and the database dropped on the cluster, when t ends: every case
// of the suite has its own database, and a member restarted later loads
// only the databases still there.
func migrated(ctx context.Context, t *testing.T, cfg clickhouse.Config) driver.Conn {
	t.Helper()
	if _, err := clickhouse.Migrate(ctx, cfg, zap.NewNop()); err != nil {
		t.Fatalf("migrating %s on cluster %s: %v", cfg.Database, cfg.Cluster, err)
	}
	conn, err := clickhouse.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database+" ON CLUSTER "+cfg.Cluster); err != nil {
			t.Logf("dropping %s on cluster %s: %v", cfg.Database, cfg.Cluster, err)
		}
	})
	return conn
}

// TestClusterAnalyticsCases runs every hand-computed analytics case (the
// single-server suite's TestAnalyticsCases) on the cluster: the fixture,
// written twice as a replay would, through the Distributed tables, and the
// analysis's SQL unchanged, once every replica has every row.
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
			cfg := c.ClickHouseConfig(uniqueName(t))
			conn := migrated(ctx, t, cfg)
			if err := tc.Fixture.Load(ctx, conn); err != nil {
				t.Fatal(err)
			}
			synced(ctx, t, c, cfg.Database)
			res, err := table.Run(ctx, conn, tc.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, tc.SQL)
			}
			if res, err = tc.Result(res); err != nil {
				t.Fatal(err)
			}
			if err := tc.Check(res.Columns, res.Rows); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// synced waits until every replica of the cluster has fetched every part of
// database's shard-local tables (SYSTEM SYNC REPLICA), so that a read sees
// every row written before, whichever replica it reaches.
func synced(ctx context.Context, t *testing.T, c *testenv.Cluster, database string) {
	t.Helper()
	for _, r := range c.Replicas() {
		conn, err := clickhouse.Open(ctx, r.Config(database), nil)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE 'Replicated%'", database)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name)
		}
		rows.Close()
		for _, name := range tables {
			if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+database+"."+name); err != nil {
				t.Fatalf("syncing %s on %s: %v", name, r.Server.Addr(), err)
			}
		}
		conn.Close()
	}
}
