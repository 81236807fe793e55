package clickhouse

import (
	"context"
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
//   - ALTER TABLE t ADD COLUMN ... goes ON CLUSTER to the shard-local
//     t_local (named with its database; each shard runs it on one replica,
//     which ClickHouse waits for its peers to apply); the Distributed t,
//     which reads from the shards only the columns it declares, is then
//     dropped and created again ON CLUSTER over t_local, sharded as its
//     CREATE TABLE in the shipped migrations says. ClickHouse 18.16 runs
//     no ALTER ON CLUSTER on a table that is not replicated in a cluster
//     whose shards are ("isn't replicated, but shard #1 is replicated");
//     a Distributed table holds no rows of its own (inserts are
//     synchronous, ClusterSettings), and a migration interrupted between
//     the two is applied again whole (Migrate).
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
			fmt.Sprintf("ALTER TABLE %s.%s%s%s %s", database, m[1], LocalSuffix, on, m[2]),
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
// on one server, or, with a cluster, on every shard and replica
// (ALTER TABLE <table>_local ON CLUSTER ... DELETE, which every replica
// applies from the replication log), and waits until every server of the
// database has finished every mutation.
func Delete(ctx context.Context, conn driver.Conn, cfg Config, table, where string, args ...any) error {
	stmt := "ALTER TABLE " + table + " DELETE WHERE " + where
	if cfg.Cluster != "" {
		stmt = "ALTER TABLE " + cfg.Database + "." + table + LocalSuffix + " ON CLUSTER " + cfg.Cluster + " DELETE WHERE " + where
	}
	if err := conn.Exec(ctx, stmt, args...); err != nil {
		return fmt.Errorf("deleting from %s: %w", table, err)
	}
	return nil
}

// WaitForMutations waits until the database has no unfinished mutation: on
// the server of conn, or, with a cluster, on every replica of every shard
// (read through remote() with cfg's user).
func WaitForMutations(ctx context.Context, conn driver.Conn, cfg Config) error {
	query, args := "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0", []any(nil)
	if cfg.Cluster != "" {
		hosts, err := clusterHosts(ctx, conn, cfg.Cluster)
		if err != nil {
			return err
		}
		query = "SELECT count() FROM remote(?, system, mutations, ?, ?) WHERE database = ? AND is_done = 0"
		args = []any{strings.Join(hosts, ","), cfg.User, cfg.Password, cfg.Database}
	}
	for {
		var pending uint64
		if err := conn.QueryRow(ctx, query, args...).Scan(&pending); err != nil {
			return fmt.Errorf("waiting for the deletions: %w", err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the deletions: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// clusterHosts returns host:port of every replica of every shard of cluster,
// as the server of conn knows them.
func clusterHosts(ctx context.Context, conn driver.Conn, cluster string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT host_address, toString(port) FROM system.clusters WHERE cluster = ?", cluster)
	if err != nil {
		return nil, fmt.Errorf("listing the servers of cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var host, port string
		if err := rows.Scan(&host, &port); err != nil {
			return nil, fmt.Errorf("listing the servers of cluster %s: %w", cluster, err)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the servers of cluster %s: %w", cluster, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %s is not in the remote_servers of the server", cluster)
	}
	return out, nil
}
