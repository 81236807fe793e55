// Command dump prints, as JSON, every ClickHouse statement touchline ships:
// the migrations' statements in order, the named queries (with the SQL
// examples of README.md and docs/ and the SQL of the Grafana dashboards; run
// it from the repository root), and the analytics
// cases (fixture inserts, query, expected rows), for check.py to run on a
// current ClickHouse engine (chDB).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/touchline-io/touchline/deploy/grafana"
	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/segments"
	"github.com/touchline-io/touchline/test/analyticscases"
	"github.com/touchline-io/touchline/test/docsql"
)

type shipped struct {
	Migrations []string          `json:"migrations"`
	Queries    map[string]string `json:"queries"`
	Cases      []analyticsCase   `json:"cases"`
}

type analyticsCase struct {
	Name    string   `json:"name"`
	Inserts []string `json:"inserts"`
	SQL     string   `json:"sql"`
	Columns []string `json:"columns"`
	Key     int      `json:"key"`
	Want    [][]any  `json:"want"`
	// Finish says that Go computes the result from the rows of SQL:
	// check.py has test/chdb/finish run it.
	Finish bool `json:"finish,omitempty"`
}

func main() {
	ms, err := clickhouse.Migrations()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := shipped{Queries: map[string]string{"alerts.states": analytics.AlertStatesQuery,
		"segments.member_counts": analytics.SegmentCountsQuery,
		"segments.merges":        strings.ReplaceAll(segments.MergesQuery, "?", "0")}}
	state, _ := analytics.AlertStateQuery{Rule: "roas_drop"}.SQL()
	history, err := analytics.AlertHistoryQuery{Range: analytics.LastDays(time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), 30)}.SQL()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out.Queries["alerts.state"], out.Queries["alerts.history"] = state, history
	for _, m := range ms {
		out.Migrations = append(out.Migrations, m.Statements...)
	}
	for i, q := range identity.DescribeQueries() {
		// Sample arguments: an array where has() takes one, else a string.
		q = strings.ReplaceAll(q, "has(?", "has(['p_1']")
		out.Queries[fmt.Sprintf("resolver.describe_%d", i+1)] = strings.ReplaceAll(q, "?", "'p_1'")
	}
	for i, q := range activate.Statements() {
		q = strings.ReplaceAll(q, "has(?", "has(['p_1']")
		out.Queries[fmt.Sprintf("activate.query_%d", i+1)] = strings.ReplaceAll(q, "?", "'p_1'")
	}
	for i, q := range identity.ForgetStatements() {
		out.Queries[fmt.Sprintf("resolver.forget_%d", i+1)] = strings.ReplaceAll(q, "?", "['p_1']")
	}
	// The SQL examples of README.md and docs/, run from the repository root.
	blocks, err := docsql.Blocks(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, b := range blocks {
		out.Queries["docs "+b.String()] = b.SQL
	}
	// The SQL of the Grafana dashboards' ClickHouse panels and variables,
	// their macros and variables expanded as Grafana expands them.
	panels, err := grafana.Queries("deploy/grafana/dashboards")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, q := range panels {
		if q.Datasource != grafana.ClickHouse {
			continue
		}
		sql, err := grafana.ExpandMacros(q.SQL, grafana.Range{From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
			To: time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC), Vars: map[string][]string{"channel": {"email", "paid_search"}}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out.Queries["grafana "+q.String()] = sql
	}
	cases, err := analyticscases.All()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, c := range cases {
		out.Cases = append(out.Cases, analyticsCase{Name: c.Name, Inserts: c.Fixture.Inserts(), SQL: c.SQL,
			Columns: c.Columns, Key: c.Key, Want: c.Want, Finish: c.Finish != nil})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
