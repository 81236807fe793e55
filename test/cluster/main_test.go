// Package cluster tests touchline on a real ClickHouse cluster: ZooKeeper and
// four clickhouse-server 18.16 processes as 2 shards x 2 replicas (or the
// shape of TOUCHLINE_CLUSTER_SHAPE, e.g. 2x1), started once for the package
// with a real Kafka broker and a lone ClickHouse server to compare with.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/testenv"
)

var (
	cluster      *testenv.Cluster
	single       *testenv.Servers
	touchlineBin string
	skipWhy      string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	shards, replicas := 2, 2
	if shape := os.Getenv("TOUCHLINE_CLUSTER_SHAPE"); shape != "" {
		if _, err := fmt.Sscanf(shape, "%dx%d", &shards, &replicas); err != nil || shards < 1 || replicas < 1 {
			fmt.Fprintf(os.Stderr, "TOUCHLINE_CLUSTER_SHAPE=%q: want SHARDSxREPLICAS, e.g. 2x1\n", shape)
			return 1
		}
	}
	dir, err := os.MkdirTemp("", "touchline-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, err = testenv.StartCluster(ctx, dir, shards, replicas)
	if err != nil {
		if errors.Is(err, testenv.ErrUnavailable) && os.Getenv("CI") != "true" {
			skipWhy = err.Error()
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "starting the clickhouse cluster:", err)
		return 1
	}
	defer cluster.Stop()
	if single, err = testenv.Start(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, "starting kafka and a lone clickhouse server:", err)
		return 1
	}
	defer single.Stop()
	if touchlineBin, err = testenv.Build(ctx, dir, "touchline"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// theCluster returns the shared cluster, skipping the test when its servers
// are not installed outside CI.
func theCluster(t testing.TB) *testenv.Cluster {
	t.Helper()
	if cluster == nil {
		t.Skip(skipWhy)
	}
	return cluster
}

// uniqueName names a test's topics, group and database.
func uniqueName(t testing.TB) string { return testenv.UniqueName(t.Name()) }
