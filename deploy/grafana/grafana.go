// Package grafana reads touchline's Grafana dashboards, the JSON files of
// deploy/grafana/dashboards, for the tests that check their queries: every
// Prometheus expression against the metrics the services export, and every
// ClickHouse panel's SQL on a real server, with the macros of Grafana's
// ClickHouse data source expanded as the plugin expands them.
package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Datasource types of the dashboards' panels.
const (
	Prometheus = "prometheus"
	ClickHouse = "grafana-clickhouse-datasource"
)

// Query is one query of a dashboard panel.
type Query struct {
	// Dashboard is the file the query is in, Panel the panel's title.
	Dashboard, Panel string
	// Datasource is the type of the query's data source (Prometheus or
	// ClickHouse).
	Datasource string
	// Expr is a Prometheus query's expression, SQL a ClickHouse query's
	// statement, macros unexpanded.
	Expr, SQL string
}

// String names the query for an error message.
func (q Query) String() string { return fmt.Sprintf("%s: panel %q", q.Dashboard, q.Panel) }

type datasource struct {
	Type string `json:"type"`
}

type panel struct {
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []struct {
		Datasource *datasource `json:"datasource"`
		Expr       string      `json:"expr"`
		RawSQL     string      `json:"rawSql"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a row's panels
}

// Queries returns the queries of every panel of every dashboard (*.json)
// in dir, rows' panels included.
func Queries(dir string) ([]Query, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboard in %s", dir)
	}
	var out []Query
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading a dashboard: %w", err)
		}
		var d struct {
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = appendQueries(out, filepath.Base(f), d.Panels)
	}
	return out, nil
}

func appendQueries(out []Query, dashboard string, panels []panel) []Query {
	for _, p := range panels {
		for _, t := range p.Targets {
			ds := t.Datasource
			if ds == nil {
				ds = p.Datasource
			}
			q := Query{Dashboard: dashboard, Panel: p.Title, Expr: t.Expr, SQL: t.RawSQL}
			if ds != nil {
				q.Datasource = ds.Type
			}
			out = append(out, q)
		}
		out = appendQueries(out, dashboard, p.Panels)
	}
	return out
}

// macro matches a macro of the ClickHouse data source, with its argument,
// and a dashboard variable ($name or ${name}).
var macro = regexp.MustCompile(`\$__(\w+)(?:\(([^)]*)\))?|\$\{?\w+\}?`)

// ExpandMacros expands the macros of sql for the time range from-to as
// Grafana's ClickHouse data source does: $__timeFilter(col) to
// "col >= toDateTime(FROM) AND col <= toDateTime(TO)" in Unix seconds,
// $__dateFilter(col) to "col >= toDate('YYYY-MM-DD') AND col <=
// toDate('YYYY-MM-DD')", $__fromTime and $__toTime to toDateTime(SECONDS).
// Any other macro, and any dashboard variable, is an error: the dashboards
// use only these, which run on ClickHouse 18.16 ($__timeInterval expands to
// toStartOfInterval, which 18.16 lacks).
func ExpandMacros(sql string, from, to time.Time) (string, error) {
	var err error
	dateTime := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	date := func(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format(time.DateOnly)) }
	between := func(col, lo, hi string) string { return fmt.Sprintf("%s >= %s AND %s <= %s", col, lo, col, hi) }
	out := macro.ReplaceAllStringFunc(sql, func(m string) string {
		sub := macro.FindStringSubmatch(m)
		name, arg := sub[1], strings.TrimSpace(sub[2])
		switch {
		case name == "timeFilter" && arg != "":
			return between(arg, dateTime(from), dateTime(to))
		case name == "dateFilter" && arg != "":
			return between(arg, date(from), date(to))
		case name == "fromTime" && sub[2] == "":
			return dateTime(from)
		case name == "toTime" && sub[2] == "":
			return dateTime(to)
		}
		if err == nil {
			err = fmt.Errorf("%s: not a macro the dashboards may use (only $__timeFilter(col), $__dateFilter(col), $__fromTime, $__toTime)", m)
		}
		return m
	})
	return out, err
}
