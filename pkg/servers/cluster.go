package servers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
)

// memberStartTimeout bounds each start of a cluster member: a restart loads
// every replicated table of every database and reconnects them to
// ZooKeeper, which takes longer than a lone server's start.
const memberStartTimeout = 3 * time.Minute

// ClusterOptions configures StartClickHouseCluster. Dir and Name are
// required.
type ClusterOptions struct {
	// Dir holds ZooKeeper's and every server's directory. Required.
	Dir string
	// Name is the cluster's name in remote_servers. Required.
	Name string
	// Shards and Replicas give the cluster's shape. Default 2 and 2.
	Shards, Replicas int
	// Users adds users to every server, as ClickHouseOptions.Users.
	Users map[string]string
	// Logger receives the package's own messages. Default: no logging.
	Logger *zap.Logger
}

// ClickHouseCluster is a ZooKeeper server and ClickHouse servers as shards of
// replicas, with internal_replication and distributed DDL, every server on
// 127.0.0.1.
type ClickHouseCluster struct {
	// Name is the cluster's name in remote_servers.
	Name string
	// ZooKeeper coordinates the replicas and the distributed DDL.
	ZooKeeper *ZooKeeper
	// Shards holds each shard's replicas.
	Shards [][]*ClickHouse
}

// StartClickHouseCluster starts ZooKeeper and opts.Shards x opts.Replicas
// clickhouse-servers under opts.Dir, with the macros {shard} ("01", "02",
// ...) and {replica} ("s01r1", ...), and waits until every one answers. On
// error it stops what it started.
func StartClickHouseCluster(ctx context.Context, opts ClusterOptions) (*ClickHouseCluster, error) {
	if opts.Dir == "" || !userName.MatchString(opts.Name) {
		return nil, errors.New("starting a clickhouse cluster: ClusterOptions.Dir and a plain Name are required")
	}
	if opts.Shards <= 0 {
		opts.Shards = 2
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 2
	}
	zk, err := StartZooKeeper(ctx, ZooKeeperOptions{Dir: filepath.Join(opts.Dir, "zookeeper"), Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	c := &ClickHouseCluster{Name: opts.Name, ZooKeeper: zk}
	ports := make([][]int, opts.Shards)
	var all []*int
	for s := range ports {
		ports[s] = make([]int, opts.Replicas)
		for r := range ports[s] {
			all = append(all, &ports[s][r])
		}
	}
	if err := fillFreePorts(all...); err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting a clickhouse cluster: %w", err)
	}
	for s := range ports {
		var shard []*ClickHouse
		for r := range ports[s] {
			id := fmt.Sprintf("s%02dr%d", s+1, r+1)
			srv, err := StartClickHouse(ctx, ClickHouseOptions{
				Dir: filepath.Join(opts.Dir, id), TCPPort: ports[s][r], Users: opts.Users, Logger: opts.Logger,
				StartTimeout: memberStartTimeout,
				Cluster: &ClusterMember{Name: opts.Name, Shard: fmt.Sprintf("%02d", s+1), Replica: id,
					Shards: ports, ZooKeeperPort: zk.Port()},
			})
			if err != nil {
				c.Shards = append(c.Shards, shard)
				c.Stop()
				return nil, fmt.Errorf("starting clickhouse %s of cluster %s: %w", id, opts.Name, err)
			}
			shard = append(shard, srv)
		}
		c.Shards = append(c.Shards, shard)
	}
	for _, shard := range c.Shards {
		for _, srv := range shard {
			if err := srv.proc.waitReady(ctx, srv.opts.StartTimeout, srv.zooKeeperReady); err != nil {
				c.Stop()
				return nil, fmt.Errorf("waiting for clickhouse %s to reach zookeeper: %w", srv.Addr(), err)
			}
		}
	}
	// One distributed DDL through the queue before the cluster is handed
	// out proves that every server's DDL worker runs.
	first := c.Shards[0][0]
	warm := func(ctx context.Context) error {
		return first.post(ctx, "CREATE DATABASE IF NOT EXISTS default ON CLUSTER "+opts.Name)
	}
	if err := first.proc.waitReady(ctx, first.opts.StartTimeout, warm); err != nil {
		c.Stop()
		return nil, fmt.Errorf("running a first distributed DDL on cluster %s: %w", opts.Name, err)
	}
	return c, nil
}

// post runs query, a statement that writes, through the HTTP interface.
func (c *ClickHouse) post(ctx context.Context, query string) error {
	body, err := c.Query(ctx, "", query)
	if err != nil {
		return err
	}
	return body.Close()
}

// zooKeeperReady checks that the server reads ZooKeeper: a server whose
// first session failed while ZooKeeper was starting answers /ping but fails
// distributed DDL until it has a new session.
func (c *ClickHouse) zooKeeperReady(ctx context.Context) error {
	_, err := c.get(ctx, "/?query="+url.QueryEscape("SELECT count() FROM system.zookeeper WHERE path = '/'"))
	return err
}

// Addrs returns every server's native-protocol address, shard by shard.
func (c *ClickHouseCluster) Addrs() []string {
	var out []string
	for _, shard := range c.Shards {
		for _, srv := range shard {
			out = append(out, srv.Addr())
		}
	}
	return out
}

// Stop stops every server, all at once, then ZooKeeper.
func (c *ClickHouseCluster) Stop() {
	var wg sync.WaitGroup
	for _, shard := range c.Shards {
		for _, srv := range shard {
			wg.Go(func() { _ = srv.Stop() })
		}
	}
	wg.Wait()
	_ = c.ZooKeeper.Stop()
}
