package grafana

import (
	"encoding/json"
	"os"
	"path/filepath"
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
	r := Range{From: from, To: to, Vars: map[string][]string{"channel": {"email", "o'brien"}}}
	got, err := ExpandMacros("SELECT 1 FROM t WHERE $__timeFilter(event_time) AND $__dateFilter( date ) AND x BETWEEN $__fromTime AND $__toTime"+
		" AND channel IN (${channel:singlequote})", r)
	want := "SELECT 1 FROM t WHERE event_time >= toDateTime(1775001600) AND event_time <= toDateTime(1777593599)" +
		" AND date >= toDate('2026-04-01') AND date <= toDate('2026-04-30')" +
		" AND x BETWEEN toDateTime(1775001600) AND toDateTime(1777593599)" +
		` AND channel IN ('email','o\'brien')`
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	for _, sql := range []string{
		"SELECT $__timeInterval(event_time) AS time",
		"SELECT 1 WHERE channel = '$channel'",
		"SELECT 1 WHERE channel = '${channel}'",
		"SELECT 1 WHERE channel IN (${channel:csv})",
		"SELECT 1 WHERE campaign IN (${campaign:singlequote})",
		"SELECT 1 WHERE $__timeFilter()",
	} {
		if _, err := ExpandMacros(sql, r); err == nil || !strings.Contains(err.Error(), "not a macro") {
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
		if q.Variable != "" {
			count["variables"]++
		}
		if (q.Datasource == Prometheus) == (q.Expr == "") || (q.Datasource == ClickHouse) == (q.SQL == "") {
			t.Errorf("%s: data source %q with expr %q and SQL %q", q, q.Datasource, q.Expr, q.SQL)
		}
	}
	if count["touchline-ops.json "+Prometheus] < 30 || count["touchline-channels.json "+ClickHouse] < 10 || count["variables"] != 1 || len(count) != 3 {
		t.Errorf("queries by dashboard and data source: %v", count)
	}
}

// TestDashboardsLayout: every dashboard has its own uid, and its panels
// distinct ids and places on Grafana's 24-column grid that do not overlap
// (Grafana would move an overlapping panel elsewhere).
func TestDashboardsLayout(t *testing.T) {
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	uids := map[string]string{}
	for _, f := range files {
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				ID      int                      `json:"id"`
				Title   string                   `json:"title"`
				GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			} `json:"panels"`
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if other, dup := uids[d.UID]; dup || d.UID == "" {
			t.Errorf("%s: uid %q, also that of %s", f, d.UID, other)
		}
		uids[d.UID] = f
		ids := map[int]bool{}
		for i, p := range d.Panels {
			g := p.GridPos
			if ids[p.ID] || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("%s: panel %q: id %d (repeated: %v), place %+v", f, p.Title, p.ID, ids[p.ID], g)
			}
			ids[p.ID] = true
			for _, q := range d.Panels[:i] {
				o := q.GridPos
				if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
					t.Errorf("%s: panels %q %+v and %q %+v overlap", f, q.Title, o, p.Title, g)
				}
			}
		}
	}
}
