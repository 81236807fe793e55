package testenv

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
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

// WaitCommitted waits until group has committed the end offset of every
// partition of topics, or ctx ends.
func WaitCommitted(ctx context.Context, cfg config.Config, group string, topics ...string) error {
	cl, err := kafka.NewClient(cfg.Kafka, nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		done, err := kafka.GroupCaughtUp(ctx, adm, group, topics...)
		if err == nil && done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for group %s to commit everything: %w", group, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// UniqueName turns a test's name into a name for its topics, groups and
// database that no other test or run shares.
func UniqueName(testName string) string {
	return fmt.Sprintf("t_%s_%d", strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(testName), "_"), "_"), time.Now().UnixNano()%1_000_000)
}
