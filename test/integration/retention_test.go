package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// TestRetentionDropsWholeExpiredMonths stores touchpoints and segment
// changes in December 2025 (the last at 23:59 on the 31st), January 2026
// (the first at 00:00 on the 1st) and February 2026 and runs the
// retention at 2026-03-15 12:00 UTC with touchpoints kept 60 days (cutoff
// 2026-01-14 12:00) and segment changes kept for ever: a dry run reports
// December's touchpoints and removes nothing; the run removes exactly
// December's touchpoints, keeps January's (partly before the cutoff) and
// February's and every segment change; a second run finds nothing.
func TestRetentionDropsWholeExpiredMonths(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, nil)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }
	times := []time.Time{day(2025, 12, 1), day(2025, 12, 15), day(2025, 12, 31).Add(13*time.Hour + 59*time.Minute),
		day(2026, 1, 1).Add(-10 * time.Hour), day(2026, 1, 20), day(2026, 2, 3)}
	var tps []clickhouse.TouchpointRow
	var changes []clickhouse.SegmentChangeRow
	for i, at := range times {
		tps = append(tps, clickhouse.TouchpointRow{EventID: fmt.Sprintf("e%d", i), EventTime: at, EventType: "page_view",
			Channel: "web", PersonID: "p", IngestedAt: at})
		changes = append(changes, clickhouse.SegmentChangeRow{Segment: "s", PersonID: fmt.Sprintf("p%d", i), Entered: 1, ChangedAt: at, WrittenAt: at})
	}
	if err := clickhouse.InsertTouchpoints(ctx, conn, tps); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.InsertSegmentChanges(ctx, conn, changes); err != nil {
		t.Fatal(err)
	}
	months := func(table, column string) map[uint32]uint64 {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT toYYYYMM("+column+") AS m, count() FROM "+table+" GROUP BY m")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[uint32]uint64{}
		for rows.Next() {
			var m uint32
			var n uint64
			if err := rows.Scan(&m, &n); err != nil {
				t.Fatal(err)
			}
			out[m] = n
		}
		return out
	}
	before := map[uint32]uint64{202512: 3, 202601: 2, 202602: 1}
	if got := months("touchpoints", "event_time"); !reflect.DeepEqual(got, before) {
		t.Fatalf("touchpoints per month before: %v, want %v", got, before)
	}

	cfg.ClickHouse.Retention.Touchpoints = 60 * 24 * time.Hour
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	cutoff := time.Date(2026, 1, 14, 12, 0, 0, 0, time.UTC)
	want := []clickhouse.Removal{{Table: "touchpoints", Partition: 202512, Rows: 3, Cutoff: cutoff}}
	got, err := clickhouse.Expire(ctx, conn, cfg.ClickHouse, now, true, zap.NewNop())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("dry run: %+v, %v; want %+v", got, err, want)
	}
	if got := months("touchpoints", "event_time"); !reflect.DeepEqual(got, before) {
		t.Fatalf("the dry run removed rows: %v, want %v", got, before)
	}

	got, err = clickhouse.Expire(ctx, conn, cfg.ClickHouse, now, false, zap.NewNop())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("run: %+v, %v; want %+v", got, err, want)
	}
	if got, want := months("touchpoints", "event_time"), map[uint32]uint64{202601: 2, 202602: 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("touchpoints per month after: %v, want %v", got, want)
	}
	if got := months("segment_changes", "changed_at"); !reflect.DeepEqual(got, before) {
		t.Fatalf("segment changes (no retention) per month after: %v, want %v", got, before)
	}
	if got, err = clickhouse.Expire(ctx, conn, cfg.ClickHouse, now, false, zap.NewNop()); err != nil || len(got) != 0 {
		t.Fatalf("second run: %+v, %v; want nothing", got, err)
	}
}

// TestRetentionCommand runs `touchline retention` with alert notifications
// kept 30 days, on one notification from the first day of the month three
// months ago and one from an hour ago: --dry-run prints the old month's
// partition and removes nothing; the run prints it as dropped and leaves
// the recent notification alone.
func TestRetentionCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, nil)
	now := time.Now().UTC()
	old := time.Date(now.Year(), now.Month()-3, 1, 12, 0, 0, 0, time.UTC)
	recent := now.Add(-time.Hour).Truncate(time.Second)
	var rows []clickhouse.AlertNotificationRow
	for i, at := range []time.Time{old, recent} {
		rows = append(rows, clickhouse.AlertNotificationRow{IdempotencyKey: fmt.Sprint("k", i), Incident: "i", Status: "firing", Rule: "r",
			WindowStart: at, WindowEnd: at, NotifiedAt: at})
	}
	if err := clickhouse.InsertAlertNotifications(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "touchline.yaml")
	yaml := fmt.Sprintf("clickhouse:\n  addr: [%s]\n  database: %s\n  retention:\n    alert_notifications: 30d\n",
		cfg.ClickHouse.Addr[0], cfg.ClickHouse.Database)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	left := func() []time.Time {
		t.Helper()
		var out []time.Time
		if err := conn.QueryRow(ctx, "SELECT arraySort(groupArray(notified_at)) FROM alert_notifications").Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	partition := old.Format("200601")
	for _, c := range []struct {
		args []string
		verb string
		left []time.Time
	}{
		{[]string{"--dry-run"}, "would drop", []time.Time{old, recent}},
		{nil, "dropped", []time.Time{recent}},
	} {
		out, err := runTouchline(ctx, append([]string{"retention", "--config", path, "--log-level", "error"}, c.args...)...)
		if want := c.verb + " alert_notifications partition " + partition + " (1 rows, all before "; err != nil || !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 1 {
			t.Fatalf("touchline retention %v: %v\n%s\nwant one line starting %q", c.args, err, out, want)
		}
		if got := left(); fmt.Sprint(got) != fmt.Sprint(c.left) {
			t.Fatalf("after touchline retention %v: notifications at %v, want %v", c.args, got, c.left)
		}
	}
}
