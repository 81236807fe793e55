package grafana

import (
	"strings"
	"testing"
	"time"
)

// TestExpandMacros: the expansions are those of Grafana's ClickHouse data
// source, and a macro it would expand to SQL that 18.16 cannot run, or a
// dashboard variable the test cannot fill in, is refused.
func TestExpandMacros(t *testing.T) {
	from := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)   // 1775001600
	to := time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC) // 1777593599
	got, err := ExpandMacros("SELECT 1 FROM t WHERE $__timeFilter(event_time) AND $__dateFilter( date ) AND x BETWEEN $__fromTime AND $__toTime", from, to)
	want := "SELECT 1 FROM t WHERE event_time >= toDateTime(1775001600) AND event_time <= toDateTime(1777593599)" +
		" AND date >= toDate('2026-04-01') AND date <= toDate('2026-04-30')" +
		" AND x BETWEEN toDateTime(1775001600) AND toDateTime(1777593599)"
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	for _, sql := range []string{
		"SELECT $__timeInterval(event_time) AS time",
		"SELECT 1 WHERE channel = '$channel'",
		"SELECT 1 WHERE channel = '${channel}'",
		"SELECT 1 WHERE $__timeFilter()",
	} {
		if _, err := ExpandMacros(sql, from, to); err == nil || !strings.Contains(err.Error(), "not a macro") {
			t.Errorf("%s: %v, want it refused", sql, err)
		}
	}
}

// TestQueries: both dashboards are read, each query with its data source,
// and the rows' panels are not skipped.
func TestQueries(t *testing.T) {
	qs, err := Queries("dashboards")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, q := range qs {
		count[q.Dashboard+" "+q.Datasource]++
		if (q.Datasource == Prometheus) == (q.Expr == "") || (q.Datasource == ClickHouse) == (q.SQL == "") {
			t.Errorf("%s: data source %q with expr %q and SQL %q", q, q.Datasource, q.Expr, q.SQL)
		}
	}
	if count["touchline-ops.json "+Prometheus] < 30 || count["touchline-channels.json "+ClickHouse] < 10 || len(count) != 2 {
		t.Errorf("queries by dashboard and data source: %v", count)
	}
}
