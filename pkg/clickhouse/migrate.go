package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/schemas"
)

// MigrationsTable records the applied migrations in the configured database.
const MigrationsTable = "touchline_migrations"

// Migration is one file of schemas/clickhouse: NNNN_name.sql.
type Migration struct {
	Version    int
	Name       string
	Statements []string
	Checksum   string
}

// Migrations returns the shipped migrations in version order.
func Migrations() ([]Migration, error) {
	return loadMigrations(schemas.ClickHouse, "clickhouse")
}

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: v, Name: name, Statements: SplitStatements(string(body)), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SplitStatements splits SQL text on semicolons outside quotes and comments,
// dropping comments and empty statements.
func SplitStatements(sql string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote byte
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(sql) {
				i++
				cur.WriteByte(sql[i])
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
			cur.WriteByte(c)
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// Migrate creates the configured database if needed and applies, in order,
// every shipped migration not yet recorded in MigrationsTable. It is
// idempotent: statements use IF NOT EXISTS, and an ADD COLUMN of a column
// that exists counts as done (columnExists), so a migration interrupted
// half-way is simply applied again. It returns the names of the migrations it applied.
// A recorded migration whose file changed since is an error.
func Migrate(ctx context.Context, cfg Config, log *zap.Logger) ([]string, error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	boot, err := open(ctx, cfg, "default", nil, log)
	if err != nil {
		return nil, err
	}
	err = createDatabase(ctx, boot, cfg)
	_ = boot.Close()
	if err != nil {
		return nil, err
	}
	conn, err := Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return applyMigrations(ctx, conn, cfg, migrations, log)
}

// createDatabase creates the database of cfg (ON CLUSTER with a cluster),
// after checking that what it holds already was made for the same layout.
func createDatabase(ctx context.Context, conn driver.Conn, cfg Config) error {
	var engine string
	err := conn.QueryRow(ctx, "SELECT any(engine) FROM system.tables WHERE database = ? AND name = ?", cfg.Database, MigrationsTable).Scan(&engine)
	if err != nil {
		return fmt.Errorf("checking database %s: %w", cfg.Database, err)
	}
	switch {
	case cfg.Cluster != "" && engine != "" && engine != "Distributed":
		return fmt.Errorf("database %s was migrated for one server (%s is %s), and clickhouse.cluster is %s: "+
			"touchline does not convert a database in place; migrate into a new database on the cluster and copy the tables "+
			"(docs/architecture.md, Upgrading to a cluster)", cfg.Database, MigrationsTable, engine, cfg.Cluster)
	case cfg.Cluster == "" && engine == "Distributed":
		return fmt.Errorf("database %s was migrated for a cluster (%s is Distributed), and clickhouse.cluster is empty: set it to the cluster's name",
			cfg.Database, MigrationsTable)
	}
	stmt := "CREATE DATABASE IF NOT EXISTS " + cfg.Database
	if cfg.Cluster != "" {
		stmt += " ON CLUSTER " + cfg.Cluster
	}
	if err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("creating database %s: %w", cfg.Database, err)
	}
	return nil
}

// migrationsTable creates MigrationsTable.
const migrationsTable = `CREATE TABLE IF NOT EXISTS ` + MigrationsTable + ` (
    version UInt32, name String, checksum String, applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`

// statements returns stmts as cfg's layout runs them: unchanged for one
// server, their ClusterStatements for a cluster.
func statements(stmts []string, cfg Config) ([]string, error) {
	if cfg.Cluster == "" {
		return stmts, nil
	}
	var out []string
	for _, s := range stmts {
		c, err := ClusterStatements(s, cfg.Database, cfg.Cluster)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	return out, nil
}

func applyMigrations(ctx context.Context, conn driver.Conn, cfg Config, migrations []Migration, log *zap.Logger) ([]string, error) {
	create, err := statements([]string{migrationsTable}, cfg)
	if err != nil {
		return nil, err
	}
	for _, stmt := range create {
		if err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("creating %s: %w", MigrationsTable, err)
		}
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range migrations {
		label := fmt.Sprintf("%04d_%s", m.Version, m.Name)
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return done, fmt.Errorf("migration %s was applied with checksum %s but the file now has %s: migrations are immutable, add a new one", label, sum, m.Checksum)
			}
			continue
		}
		stmts, err := statements(m.Statements, cfg)
		if err != nil {
			return done, fmt.Errorf("migration %s: %w", label, err)
		}
		for i, stmt := range stmts {
			if err := execMigration(ctx, conn, cfg, stmt); err != nil && !columnExists(stmt, err) {
				return done, fmt.Errorf("migration %s statement %d: %w", label, i+1, err)
			}
		}
		if err := insert(ctx, conn, `INSERT INTO `+MigrationsTable+` (version, name, checksum, applied_at)`, 1, func(b driver.Batch, _ int) error {
			return b.Append(uint32(m.Version), m.Name, m.Checksum, time.Now().UTC())
		}); err != nil {
			return done, fmt.Errorf("recording migration %s: %w", label, err)
		}
		log.Info("migration applied", zap.String("migration", label))
		done = append(done, label)
	}
	return done, nil
}

// execMigration runs one statement of a migration as its layout needs: on a
// cluster, an ALTER (of a shard-local table, ClusterStatements) on one
// replica of every shard (OnEveryShard), anything else through conn.
func execMigration(ctx context.Context, conn driver.Conn, cfg Config, stmt string) error {
	if cfg.Cluster != "" && strings.HasPrefix(stmt, "ALTER TABLE ") {
		return OnEveryShard(ctx, conn, cfg, stmt)
	}
	return conn.Exec(ctx, stmt)
}

// The codes with which ClickHouse refuses to add a column that exists:
// ILLEGAL_COLUMN on 18.16, DUPLICATE_COLUMN on current releases.
const (
	codeDuplicateColumn = 15
	codeIllegalColumn   = 44
)

// columnExists reports whether err is ClickHouse refusing stmt, an ALTER
// TABLE ... ADD COLUMN, because the column exists. ClickHouse 18.16 has no
// ADD COLUMN IF NOT EXISTS, so a migration interrupted after one of its
// ALTERs (or, on a cluster, after the ALTER of the shard-local table and
// before that of the Distributed one) meets the column when it is applied
// again, and counts it as added.
func columnExists(stmt string, err error) bool {
	var ex *ch.Exception
	return strings.HasPrefix(stmt, "ALTER TABLE ") && strings.Contains(stmt, " ADD COLUMN ") && errors.As(err, &ex) &&
		(ex.Code == codeDuplicateColumn || ex.Code == codeIllegalColumn) && strings.Contains(ex.Message, "already exists")
}

func appliedMigrations(ctx context.Context, conn driver.Conn) (map[int]string, error) {
	rows, err := conn.Query(ctx, `SELECT version, argMax(checksum, applied_at) FROM `+MigrationsTable+` GROUP BY version`)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", MigrationsTable, err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var (
			v   uint32
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("reading %s: %w", MigrationsTable, err)
		}
		out[int(v)] = sum
	}
	return out, rows.Err()
}
