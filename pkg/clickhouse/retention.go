package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Retention configures how long the rows of each table family are kept.
// Zero, the default, keeps them for ever. `touchline retention` removes the
// monthly partitions whose whole month is older than the retention (every
// family is partitioned by toYYYYMM of its time column), so a row lives at
// least its retention and at most one month longer.
type Retention struct {
	// Touchpoints is the retention of touchpoints, by event_time.
	Touchpoints time.Duration `yaml:"touchpoints"`
	// SegmentChanges is the retention of segment_changes, by changed_at.
	SegmentChanges time.Duration `yaml:"segment_changes"`
	// AlertNotifications is the retention of alert_notifications, by
	// notified_at.
	AlertNotifications time.Duration `yaml:"alert_notifications"`
}

// MinRetention is the shortest retention accepted: anything shorter is
// taken for a mistyped unit rather than a wish to keep nothing.
const MinRetention = 24 * time.Hour

// retained is one table under a retention.
type retained struct {
	key, table, column string
	keep               time.Duration
}

// tables lists the table families with their key and time column.
func (r Retention) tables() []retained {
	return []retained{
		{"touchpoints", "touchpoints", "event_time", r.Touchpoints},
		{"segment_changes", "segment_changes", "changed_at", r.SegmentChanges},
		{"alert_notifications", "alert_notifications", "notified_at", r.AlertNotifications},
	}
}

// Validate reports every retention that is neither off (0) nor at least
// MinRetention.
func (r Retention) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	for _, t := range r.tables() {
		ch.Check(t.keep != 0 && t.keep < MinRetention, t.key, "retention %s of %s must be 0 (keep for ever) or at least %s",
			t.keep, t.table, pipefile.FormatDuration(MinRetention))
	}
	return ch.Err()
}

// ExpiredPartitions returns, in ascending order, the monthly partitions
// (YYYYMM, in UTC) of partitions whose whole month is before cutoff: the
// first instant of the next month is at or before cutoff. A month that
// holds the cutoff is kept.
func ExpiredPartitions(partitions []uint32, cutoff time.Time) []uint32 {
	var out []uint32
	for _, p := range partitions {
		next := time.Date(int(p/100), time.Month(p%100)+1, 1, 0, 0, 0, 0, time.UTC)
		if !next.After(cutoff) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Removal is one monthly partition that Expire removed, or would remove.
type Removal struct {
	// Table is the table's name (its Distributed table on a cluster).
	Table string
	// Partition is the month, YYYYMM.
	Partition uint32
	// Rows counts the partition's rows before it was removed, duplicates
	// not yet merged included.
	Rows uint64
	// Cutoff is the time before which the table's rows had expired.
	Cutoff time.Time
}

// Expire removes, for every table family with a retention, the monthly
// partitions whose whole month is before now minus the retention: ALTER
// TABLE ... DROP PARTITION on one server, or, with a cluster, on the
// shard-local tables, on every shard and replica (dropPartition). With dryRun
// it removes nothing. It returns what it removed, or would remove.
func Expire(ctx context.Context, conn driver.Conn, cfg Config, now time.Time, dryRun bool, log *zap.Logger) ([]Removal, error) {
	var out []Removal
	for _, t := range cfg.Retention.tables() {
		if t.keep == 0 {
			continue
		}
		cutoff := now.Add(-t.keep).UTC()
		partitions, err := tablePartitions(ctx, conn, cfg, t.table)
		if err != nil {
			return out, err
		}
		for _, p := range ExpiredPartitions(partitions, cutoff) {
			r := Removal{Table: t.table, Partition: p, Cutoff: cutoff}
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+t.table+" WHERE toYYYYMM("+t.column+") = ?", p).Scan(&r.Rows); err != nil {
				return out, fmt.Errorf("counting the rows of %s in partition %d: %w", t.table, p, err)
			}
			if !dryRun {
				if err := dropPartition(ctx, conn, cfg, t.table, p); err != nil {
					return out, err
				}
				log.Info("dropped an expired partition", zap.String("table", t.table), zap.Uint32("partition", p),
					zap.Uint64("rows", r.Rows), zap.Time("cutoff", cutoff))
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// dropPartition drops partition p of table, on one server, or on its
// shard-local tables on one replica of every shard (OnEveryShard), which
// the shard's other replicas follow.
func dropPartition(ctx context.Context, conn driver.Conn, cfg Config, table string, p uint32) error {
	var err error
	if cfg.Cluster == "" {
		err = conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %d", table, p))
	} else {
		err = OnEveryShard(ctx, conn, cfg, fmt.Sprintf("ALTER TABLE %s.%s%s DROP PARTITION %d", cfg.Database, table, LocalSuffix, p))
	}
	if err != nil {
		return fmt.Errorf("dropping partition %d of %s: %w", p, table, err)
	}
	return nil
}

// errNotMonthly reports a partition that is not a month (YYYYMM).
var errNotMonthly = errors.New("not a monthly partition (YYYYMM)")

// tablePartitions lists the partitions of table's active parts: on the
// server of conn, or, with a cluster, of its shard-local tables on every
// replica of every shard (read through remote() with cfg's user).
func tablePartitions(ctx context.Context, conn driver.Conn, cfg Config, table string) ([]uint32, error) {
	query, args := "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active", []any{cfg.Database, table}
	if cfg.Cluster != "" {
		hosts, err := clusterHosts(ctx, conn, cfg.Cluster)
		if err != nil {
			return nil, err
		}
		query = "SELECT DISTINCT partition FROM remote(?, system, parts, ?, ?) WHERE database = ? AND table = ? AND active"
		args = []any{strings.Join(hosts, ","), cfg.User, cfg.Password, cfg.Database, table + LocalSuffix}
	}
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing the partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("listing the partitions of %s: %w", table, err)
		}
		p, err := strconv.ParseUint(s, 10, 32)
		if err != nil || p%100 < 1 || p%100 > 12 {
			return nil, fmt.Errorf("partition %q of %s: %w", s, table, errNotMonthly)
		}
		out = append(out, uint32(p))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the partitions of %s: %w", table, err)
	}
	return out, nil
}
