package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// TestClusterMigrateRefusesTheOtherLayout migrates a database for one
// server on a server of the cluster, and another for the cluster: migrate
// refuses the first with the cluster's name and the second without it,
// saying why and where the upgrade is described, and changes neither; run
// again with its own layout, each applies nothing.
func TestClusterMigrateRefusesTheOtherLayout(t *testing.T) {
	c := theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := c.Replicas()[0]

	lone := first.Config(uniqueName(t) + "_lone")
	if _, err := clickhouse.Migrate(ctx, lone, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	asCluster := c.ClickHouseConfig(lone.Database)
	asCluster.Addr = []string{first.Server.Addr()}
	_, err := clickhouse.Migrate(ctx, asCluster, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "was migrated for one server") || !strings.Contains(err.Error(), "Upgrading to a cluster") {
		t.Fatalf("a single-server database migrated for a cluster: %v", err)
	}

	shared := c.ClickHouseConfig(uniqueName(t) + "_shared")
	migrated(ctx, t, shared)
	alone := first.Config(shared.Database)
	_, err = clickhouse.Migrate(ctx, alone, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "was migrated for a cluster") {
		t.Fatalf("a cluster's database migrated for one server: %v", err)
	}

	for _, cfg := range []clickhouse.Config{lone, shared} {
		if done, err := clickhouse.Migrate(ctx, cfg, zap.NewNop()); err != nil || len(done) != 0 {
			t.Errorf("migrating %s again applied %v (%v), want nothing", cfg.Database, done, err)
		}
	}
}
