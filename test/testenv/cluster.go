package testenv

import (
	"context"
	"path/filepath"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/servers"
)

// ClusterName is the name of the test cluster in every server's
// remote_servers.
const ClusterName = "touchline_test"

// Cluster is a real ClickHouse cluster of the test harness: ZooKeeper and
// clickhouse-servers as shards of replicas, all child processes.
type Cluster struct {
	*servers.ClickHouseCluster
}

// StartCluster starts ZooKeeper and shards x replicas clickhouse-servers
// under dir. The error wraps ErrUnavailable when a server is not installed.
func StartCluster(ctx context.Context, dir string, shards, replicas int) (*Cluster, error) {
	c, err := servers.StartClickHouseCluster(ctx, servers.ClusterOptions{
		Dir: filepath.Join(dir, "cluster"), Name: ClusterName, Shards: shards, Replicas: replicas,
	})
	if err != nil {
		return nil, wrapUnavailable(err)
	}
	return &Cluster{c}, nil
}

// ClickHouseConfig returns a configuration that reaches the cluster through
// every server (the first that answers) for database.
func (c *Cluster) ClickHouseConfig(database string) clickhouse.Config {
	cfg := clickhouse.DefaultConfig()
	cfg.Addr = c.Addrs()
	cfg.Database = database
	cfg.Cluster = c.Name
	return cfg
}

// Replicas returns every server, shard by shard, with its shard's number
// (from 1).
func (c *Cluster) Replicas() (out []Replica) {
	for i, shard := range c.Shards {
		for _, srv := range shard {
			out = append(out, Replica{Shard: i + 1, Server: srv})
		}
	}
	return out
}

// Replica is one server of a cluster.
type Replica struct {
	Shard  int
	Server *servers.ClickHouse
}

// Config returns a single-server configuration of the replica alone, for
// reading its shard-local tables.
func (r Replica) Config(database string) clickhouse.Config {
	cfg := clickhouse.DefaultConfig()
	cfg.Addr = []string{r.Server.Addr()}
	cfg.Database = database
	return cfg
}
