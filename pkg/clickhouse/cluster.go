package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// LocalSuffix ends the name of a table's shard-local (Replicated*) table on a
// cluster; the Distributed table over it keeps the table's own name.
const LocalSuffix = "_local"

// ClusterSettings returns the settings every connection to a cluster sends
// ahead of the caller's own: insert_distributed_sync = 1, so that an insert
// into a Distributed table returns only once every shard it touched has
// written its rows (to one replica, which its peers fetch them from), and
// offsets committed after the insert are committed after the rows are on
// the shards' disks; and prefer_localhost_replica = 0, so that the shard of
// the server a query reaches is read like the others, over the native
// protocol: ClickHouse 18.16's in-process shortcut for it fails a SELECT
// ... FINAL ... ORDER BY on a Distributed table that leaves out the
// version column ("Cannot find column version in source stream").
func ClusterSettings() ch.Settings {
	return ch.Settings{"insert_distributed_sync": 1, "prefer_localhost_replica": 0}
}

// ProductMode is the distributed_product_mode a cluster's users need: an IN
// or JOIN subquery on a Distributed table inside a query on a Distributed
// table runs once, on the server the query was sent to, and its result goes
// to every shard; with the default (deny) ClickHouse refuses such a query
// ("double-distributed"). clickhouse-go cannot send a string setting to
// ClickHouse 18.16, so it belongs in the users' profile, which Open checks.
const ProductMode = "global"

// checkProductMode reports an error unless the user's profile sets
// distributed_product_mode to ProductMode.
func checkProductMode(ctx context.Context, conn driver.Conn, cfg Config) error {
	var mode string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'distributed_product_mode'").Scan(&mode); err != nil {
		return fmt.Errorf("reading distributed_product_mode: %w", err)
	}
	if mode != ProductMode {
		return fmt.Errorf("clickhouse user %s has distributed_product_mode = %s: on cluster %s, set it to %s in the user's profile (README, ClickHouse cluster)",
			cfg.User, mode, cfg.Cluster, ProductMode)
	}
	return nil
}

// withClusterSettings returns ClusterSettings overridden by settings.
func withClusterSettings(settings ch.Settings) ch.Settings {
	out := ClusterSettings()
	for k, v := range settings {
		out[k] = v
	}
	return out
}

var (
	createTable = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+)\s*(\(.*\))\s*ENGINE = (\w*MergeTree)\(([^)]*)\)(.*)$`)
	orderBy     = regexp.MustCompile(`ORDER BY (?:\(([^)]*)\)|(\w+))\s*$`)
	createMV    = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS(.*)$`)
	fromTable   = regexp.MustCompile(`\b(FROM|JOIN)\s+(\w+)\b`)
	createView  = regexp.MustCompile(`(?s)^CREATE VIEW IF NOT EXISTS (\w+) AS(.*)$`)
	addColumn   = regexp.MustCompile(`(?s)^ALTER TABLE (\w+) (ADD COLUMN .*)$`)
)

// ClusterStatements rewrites one statement of a migration for the cluster
// named cluster, database database:
//   - CREATE TABLE becomes a shard-local table <name>_local ON CLUSTER with
//     the Replicated engine of the same family, replicated under
//     '/clickhouse/tables/{shard}/<database>/<name>_local' as '{replica}',
//     and a Distributed table <name> ON CLUSTER over it, sharded by
//     cityHash64 of the table's ORDER BY key: the rows that
//     ReplacingMergeTree (or AggregatingMergeTree) would fold into one
//     always land on the same shard, so FINAL and merges stay exact;
//   - CREATE MATERIALIZED VIEW ... TO t AS SELECT ... FROM s is created ON
//     CLUSTER on the shard-local tables (named with their database): each
//     shard aggregates the rows it stores, into its own t_local;
//   - CREATE VIEW is created ON CLUSTER on the Distributed tables, its
//     tables named with their database (ClickHouse 18.16 runs distributed
//     DDL in the database default, where it would look for them);
//   - ALTER TABLE t ADD COLUMN ... becomes an ALTER of the shard-local
//     t_local (named with its database), without ON CLUSTER: Migrate
//     runs it on one replica of every shard (OnEveryShard), which
//     ClickHouse waits for the shard's other replicas to apply; the
//     Distributed t, which reads from the shards only the columns it
//     declares, is then dropped and created again ON CLUSTER over
//     t_local, sharded as its CREATE TABLE in the shipped migrations says.
//     ClickHouse 18.16 runs no ALTER ON CLUSTER on a table that is not
//     replicated in a cluster whose shards are ("isn't replicated, but
//     shard #1 is replicated"); a Distributed table holds no rows of its
//     own (inserts are synchronous, ClusterSettings), and a migration
//     interrupted between the two is applied again whole (Migrate).
//   - INSERT is sent once, through the Distributed tables.
//
// Any other statement is an error: a migration must say what it means on a
// cluster before it ships.
func ClusterStatements(stmt, database, cluster string) ([]string, error) {
	on := " ON CLUSTER " + cluster
	switch {
	case createTable.MatchString(stmt):
		m := createTable.FindStringSubmatch(stmt)
		name, columns, engine, args, rest := m[1], m[2], m[3], strings.TrimSpace(m[4]), m[5]
		key := orderBy.FindStringSubmatch(rest)
		if key == nil {
			return nil, fmt.Errorf("table %s: no ORDER BY key to shard by", name)
		}
		local := name + LocalSuffix
		replicated := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", database, local)
		if args != "" {
			replicated += ", " + args
		}
		return []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s %s\nENGINE = Replicated%s(%s)%s",
				database, local, on, columns, engine, replicated, rest),
			distributed(name, database, cluster, key[1]+key[2]),
		}, nil
	case createMV.MatchString(stmt):
		m := createMV.FindStringSubmatch(stmt)
		body := fromTable.ReplaceAllString(m[3], "$1 "+database+".${2}"+LocalSuffix)
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s%s AS%s",
			database, m[1], on, database, m[2], LocalSuffix, body)}, nil
	case createView.MatchString(stmt):
		m := createView.FindStringSubmatch(stmt)
		body := fromTable.ReplaceAllString(m[2], "$1 "+database+".$2")
		return []string{fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s.%s%s AS%s", database, m[1], on, body)}, nil
	case addColumn.MatchString(stmt):
		m := addColumn.FindStringSubmatch(stmt)
		key, err := shippedShardKey(m[1])
		if err != nil {
			return nil, err
		}
		return []string{
			fmt.Sprintf("ALTER TABLE %s.%s%s %s", database, m[1], LocalSuffix, m[2]),
			fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", database, m[1], on),
			distributed(m[1], database, cluster, key),
		}, nil
	case strings.HasPrefix(stmt, "INSERT INTO "):
		return []string{stmt}, nil
	}
	return nil, fmt.Errorf("no cluster form for the statement %.60q", stmt)
}

// distributed returns the statement creating the Distributed table name ON
// CLUSTER over name_local, sharded by cityHash64 of key.
func distributed(name, database, cluster, key string) string {
	local := name + LocalSuffix
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s\nENGINE = Distributed(%s, %s, %s, cityHash64(%s))",
		database, name, cluster, database, local, cluster, database, local, key)
}

// shippedShardKey returns the ORDER BY key of table name's CREATE TABLE in
// the shipped migrations, which its Distributed table is sharded by.
func shippedShardKey(name string) (string, error) {
	migrations, err := Migrations()
	if err != nil {
		return "", err
	}
	for _, m := range migrations {
		for _, stmt := range m.Statements {
			if c := createTable.FindStringSubmatch(stmt); c != nil && c[1] == name {
				if key := orderBy.FindStringSubmatch(c[5]); key != nil {
					return key[1] + key[2], nil
				}
			}
		}
	}
	return "", fmt.Errorf("table %s: no CREATE TABLE with an ORDER BY key in the shipped migrations to shard its Distributed table by", name)
}

// Delete deletes the rows of table that match where (with args for its ?),
// on one server, or, with a cluster, on every shard and replica (ALTER
// TABLE <table>_local ... DELETE on one replica of every shard,
// OnEveryShard, which the shard's other replicas apply from its
// replication log). WaitForMutations waits until they have.
func Delete(ctx context.Context, conn driver.Conn, cfg Config, table, where string, args ...any) error {
	var err error
	if cfg.Cluster == "" {
		err = conn.Exec(ctx, "ALTER TABLE "+table+" DELETE WHERE "+where, args...)
	} else {
		err = OnEveryShard(ctx, conn, cfg, "ALTER TABLE "+cfg.Database+"."+table+LocalSuffix+" DELETE WHERE "+where, args...)
	}
	if err != nil {
		return fmt.Errorf("deleting from %s: %w", table, err)
	}
	return nil
}

// OnEveryShard runs stmt (with args for its ?) on one replica of every
// shard of cfg's cluster, connecting to each replica itself (at its
// host_name and port in system.clusters, as the server of conn knows
// them, with cfg's user and TLS settings). It is for the ALTERs of
// shard-local tables (ADD COLUMN, DELETE, DROP PARTITION), which a
// Replicated table passes on to the shard's other replicas itself.
//
// These do not go ON CLUSTER: ClickHouse 18.16's distributed DDL runs an
// ALTER of a replicated table on each shard's leader replica under a lock
// in ZooKeeper, and that path can stop a server's DDL worker for good
// ("Unexpected ZooKeeper error: Node exists ... /executed. Terminating."),
// seen on the test cluster when an ADD COLUMN met its column; every later
// ON CLUSTER statement then waits for that server until its timeout.
//
// Within a shard, a replica that cannot be reached is skipped for the
// next; an error the server answered with (a column that exists, say) is
// returned as it is, since another replica would answer the same.
func OnEveryShard(ctx context.Context, conn driver.Conn, cfg Config, stmt string, args ...any) error {
	shards, err := shardReplicas(ctx, conn, cfg.Cluster)
	if err != nil {
		return err
	}
	for _, replicas := range shards {
		if err := onOneReplica(ctx, cfg, replicas, stmt, args...); err != nil {
			return err
		}
	}
	return nil
}

// onOneReplica runs stmt on the first of replicas that can be reached.
func onOneReplica(ctx context.Context, cfg Config, replicas []string, stmt string, args ...any) error {
	var unreachable []error
	for _, addr := range replicas {
		one := cfg
		one.Addr, one.MaxOpenConns = []string{addr}, 1
		conn, err := open(ctx, one, cfg.Database, nil, nil)
		if err != nil {
			unreachable = append(unreachable, err)
			continue
		}
		err = conn.Exec(ctx, stmt, args...)
		_ = conn.Close()
		var ex *ch.Exception
		if err == nil || errors.As(err, &ex) || ctx.Err() != nil {
			return err
		}
		unreachable = append(unreachable, fmt.Errorf("%s: %w", addr, err))
	}
	return fmt.Errorf("no replica of the shard of %s could run it: %w", strings.Join(replicas, ", "), errors.Join(unreachable...))
}

// shardReplicas returns host_name:port of the replicas of every shard of
// cluster, shard by shard, as the server of conn knows them.
func shardReplicas(ctx context.Context, conn driver.Conn, cluster string) ([][]string, error) {
	rows, err := conn.Query(ctx, "SELECT shard_num, host_name, toString(port) FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cluster)
	if err != nil {
		return nil, fmt.Errorf("listing the shards of cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var (
		out  [][]string
		last uint32
	)
	for rows.Next() {
		var (
			shard      uint32
			host, port string
		)
		if err := rows.Scan(&shard, &host, &port); err != nil {
			return nil, fmt.Errorf("listing the shards of cluster %s: %w", cluster, err)
		}
		if len(out) == 0 || shard != last {
			out, last = append(out, nil), shard
		}
		out[len(out)-1] = append(out[len(out)-1], net.JoinHostPort(host, port))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the shards of cluster %s: %w", cluster, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %s is not in the remote_servers of the server", cluster)
	}
	return out, nil
}

// WaitForMutations waits until the database has no unfinished mutation:
// on the server of conn, or, with a cluster, until every replica of every
// shard has finished every mutation that ZooKeeper held for its tables
// when it was called (clusterMutations); or until ctx ends.
func WaitForMutations(ctx context.Context, conn driver.Conn, cfg Config) error {
	done := func() (bool, error) {
		var pending uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&pending)
		return pending == 0, err
	}
	if cfg.Cluster != "" {
		want, err := clusterMutations(ctx, conn, cfg)
		if err != nil {
			return fmt.Errorf("waiting for the deletions: %w", err)
		}
		done = func() (bool, error) { return clusterMutationsDone(ctx, conn, cfg, want) }
	}
	for {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("waiting for the deletions: %w", err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the deletions: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tableMutation names a mutation of a replicated table: its table and its
// id, which is its node's name in ZooKeeper and the same on every replica.
type tableMutation struct{ table, id string }

// clusterMutations returns, for each server of cfg's cluster, the
// mutations that ZooKeeper lists for each of its replicated tables of the
// database (the tables and their paths read from the server's
// system.replicas through remote() with cfg's user). They are what the
// server must have finished: a replica's own list of mutations is not
// enough, since a replica started again after a mutation was made lists
// it only once it has read it from ZooKeeper, which can take until its old
// session expires, and until then its rows are all there.
func clusterMutations(ctx context.Context, conn driver.Conn, cfg Config) (map[string][]tableMutation, error) {
	hosts, err := clusterHosts(ctx, conn, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	listed := map[string][]string{} // mutation ids by the table's path in ZooKeeper
	want := map[string][]tableMutation{}
	for _, host := range hosts {
		tables, err := stringRows(ctx, conn, 2, "SELECT table, zookeeper_path FROM remote(?, system, replicas, ?, ?) WHERE database = ?",
			host, cfg.User, cfg.Password, cfg.Database)
		if err != nil {
			return nil, err
		}
		want[host] = nil // a server without replicated tables has nothing to finish
		for _, t := range tables {
			table, path := t[0], t[1]
			ids, ok := listed[path]
			if !ok {
				children, err := stringRows(ctx, conn, 1, "SELECT name FROM system.zookeeper WHERE path = ?", path+"/mutations")
				if err != nil {
					return nil, err
				}
				for _, c := range children {
					ids = append(ids, c[0])
				}
				listed[path] = ids
			}
			for _, id := range ids {
				want[host] = append(want[host], tableMutation{table, id})
			}
		}
	}
	return want, nil
}

// clusterMutationsDone reports whether each server of want (read through
// remote() with cfg's user) has finished the mutations want lists for it.
func clusterMutationsDone(ctx context.Context, conn driver.Conn, cfg Config, want map[string][]tableMutation) (bool, error) {
	for host, mutations := range want {
		if len(mutations) == 0 {
			continue
		}
		finished, err := stringRows(ctx, conn, 2, "SELECT table, mutation_id FROM remote(?, system, mutations, ?, ?) WHERE database = ? AND is_done = 1",
			host, cfg.User, cfg.Password, cfg.Database)
		if err != nil {
			return false, err
		}
		done := map[tableMutation]bool{}
		for _, f := range finished {
			done[tableMutation{f[0], f[1]}] = true
		}
		for _, m := range mutations {
			if !done[m] {
				return false, nil
			}
		}
	}
	return true, nil
}

// stringRows returns the rows of query, whose columns are n strings.
func stringRows(ctx context.Context, conn driver.Conn, n int, query string, args ...any) ([][]string, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		row := make([]string, n)
		dest := make([]any, n)
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// clusterHosts returns host:port of every replica of every shard of cluster,
// as the server of conn knows them (shardReplicas, flattened).
func clusterHosts(ctx context.Context, conn driver.Conn, cluster string) ([]string, error) {
	shards, err := shardReplicas(ctx, conn, cluster)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, replicas := range shards {
		out = append(out, replicas...)
	}
	return out, nil
}
