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

// Query is one query of a dashboard panel, or the query that lists the
// values of a dashboard variable.
type Query struct {
	// Dashboard is the file the query is in, Panel the panel's title,
	// Variable the variable's name.
	Dashboard, Panel, Variable string
	// Datasource is the type of the query's data source (Prometheus or
	// ClickHouse).
	Datasource string
	// Expr is a Prometheus query's expression, SQL a ClickHouse query's
	// statement, macros unexpanded.
	Expr, SQL string
}

// String names the query for an error message.
func (q Query) String() string {
	if q.Variable != "" {
		return fmt.Sprintf("%s: variable %s", q.Dashboard, q.Variable)
	}
	return fmt.Sprintf("%s: panel %q", q.Dashboard, q.Panel)
}

type datasource struct {
	Type string `json:"type"`
}

// variable is a dashboard variable, whose query Grafana runs on its data
// source to list its values.
type variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Datasource *datasource `json:"datasource"`
	Query      any         `json:"query"`
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
			Panels     []panel `json:"panels"`
			Templating struct {
				List []variable `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range d.Templating.List {
			sql, _ := v.Query.(string)
			if v.Type != "query" || v.Datasource == nil || sql == "" {
				return nil, fmt.Errorf("%s: variable %s: want a query variable with its data source and SQL", f, v.Name)
			}
			out = append(out, Query{Dashboard: filepath.Base(f), Variable: v.Name, Datasource: v.Datasource.Type, SQL: sql})
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
// and a dashboard variable: $name, or ${name} with an optional :format.
var macro = regexp.MustCompile(`\$__(\w+)(?:\(([^)]*)\))?|\$\{(\w+)(?::(\w+))?\}|\$\w+`)

// Range is what ExpandMacros fills a statement's macros and variables in
// with: the dashboard's time range and the values chosen for its
// variables, by name.
type Range struct {
	From, To time.Time
	Vars     map[string][]string
}

// ExpandMacros expands the macros and variables of sql as Grafana and its
// ClickHouse data source do: $__timeFilter(col) to "col >= toDateTime(FROM)
// AND col <= toDateTime(TO)" in Unix seconds, $__dateFilter(col) to
// "col >= toDate('YYYY-MM-DD') AND col <= toDate('YYYY-MM-DD')",
// $__fromTime and $__toTime to toDateTime(SECONDS), and ${name:singlequote}
// to the variable's values, each quoted, joined by commas. Any other macro
// or form is an error: the dashboards use only these, which run on
// ClickHouse 18.16 ($__timeInterval expands to toStartOfInterval, which
// 18.16 lacks).
func ExpandMacros(sql string, r Range) (string, error) {
	var err error
	dateTime := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	date := func(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format(time.DateOnly)) }
	between := func(col, lo, hi string) string { return fmt.Sprintf("%s >= %s AND %s <= %s", col, lo, col, hi) }
	out := macro.ReplaceAllStringFunc(sql, func(m string) string {
		sub := macro.FindStringSubmatch(m)
		name, arg := sub[1], strings.TrimSpace(sub[2])
		switch {
		case name == "timeFilter" && arg != "":
			return between(arg, dateTime(r.From), dateTime(r.To))
		case name == "dateFilter" && arg != "":
			return between(arg, date(r.From), date(r.To))
		case name == "fromTime" && sub[2] == "":
			return dateTime(r.From)
		case name == "toTime" && sub[2] == "":
			return dateTime(r.To)
		case sub[3] != "" && sub[4] == "singlequote" && len(r.Vars[sub[3]]) > 0:
			quoted := make([]string, len(r.Vars[sub[3]]))
			for i, v := range r.Vars[sub[3]] {
				quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
			}
			return strings.Join(quoted, ",")
		}
		if err == nil {
			err = fmt.Errorf("%s: not a macro the dashboards may use (only $__timeFilter(col), $__dateFilter(col), $__fromTime, $__toTime, and ${variable:singlequote} of a variable with values)", m)
		}
		return m
	})
	return out, err
}
