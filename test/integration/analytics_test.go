package integration

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/test/analyticscases"
)

// TestAnalyticsCases runs every hand-computed analytics case on the real
// ClickHouse server, each in a freshly migrated database holding only its
// fixture (written twice, as a replay would).
func TestAnalyticsCases(t *testing.T) {
	s := servers(t)
	cases, err := analyticscases.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := s.Config(uniqueName(t))
			conn := loadFixture(ctx, t, cfg, c.Fixture)
			res, err := table.Run(ctx, conn, c.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, c.SQL)
			}
			if res, err = c.Result(res); err != nil {
				t.Fatal(err)
			}
			if err := c.Check(res.Columns, res.Rows); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// loadFixture migrates the database of cfg, loads f into it and returns a
// connection to it, closed when the test ends.
func loadFixture(ctx context.Context, t *testing.T, cfg config.Config, f analyticscases.Fixture) driver.Conn {
	t.Helper()
	conn := migrated(ctx, t, cfg)
	if err := f.Load(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestQueryCommand runs `touchline query` on fixtures and checks its JSON
// output against the same hand-computed rows, and its CSV and --sql forms.
func TestQueryCommand(t *testing.T) {
	s := servers(t)
	cases, err := analyticscases.All()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]analyticscases.Case{}
	for _, c := range cases {
		byName[c.Name] = c
	}
	for _, tc := range []struct {
		caseName string
		args     []string
	}{
		{"funnel: breakdown by the channel of the first step-1 event",
			[]string{"funnel", "--steps", "page_view,purchase", "--window", "1d", "--breakdown", "channel", "--from", "2026-03-02", "--to", "2026-03-09"}},
		{"attribution: linear", []string{"attribution", "--model", "linear", "--lookback", "30d", "--from", "2026-04-01", "--to", "2026-05-01T00:00:00Z"}},
		{"romi: first touch per campaign", []string{"romi", "--model", "first_touch", "--by-campaign", "--from", "2026-04-01", "--to", "2026-05-01"}},
		{"currency: ROMI per channel in USD, linear", []string{"romi", "--model", "linear", "--currency", "USD", "--from", "2026-04-01", "--to", "2026-05-01"}},
		{"data-driven: markov ROMI", []string{"romi", "--model", "markov", "--from", "2026-07-01", "--to", "2026-08-01"}},
		{"data-driven: shapley with two channels by hand", []string{"attribution", "--model", "shapley", "--from", "2026-07-01", "--to", "2026-08-01"}},
		{"data-driven: markov of order 2 on generated journeys against the reference",
			[]string{"attribution", "--model", "markov", "--order", "2", "--from", "2026-07-01", "--to", "2026-08-01"}},
		{"retail kpis: by acquisition channel", []string{"kpis", "--by", "channel", "--from", "2026-05-01", "--to", "2026-06-01"}},
		{"retail kpis: orders and revenue credited by the linear model",
			[]string{"kpis", "--model", "linear", "--by", "channel", "--from", "2026-05-01", "--to", "2026-06-01"}},
		{"stages: by acquisition channel", []string{"stages", "--by", "channel", "--from", "2026-05-01", "--to", "2026-06-01"}},
		{"cohort: monthly by first purchase across the year boundary",
			[]string{"cohort", "--period", "month", "--periods", "3", "--from", "2025-11-01", "--to", "2026-02-01"}},
		{"currency: weekly cohorts revenue and LTV in USD",
			[]string{"cohort", "--period", "week", "--periods", "3", "--currency", "USD", "--from", "2026-04-01", "--to", "2026-05-01"}},
		{"currency: overview per channel in USD", []string{"overview", "--currency", "USD", "--from", "2026-04-01", "--to", "2026-05-01"}},
	} {
		c, ok := byName[tc.caseName]
		if !ok {
			t.Fatalf("no case %q", tc.caseName)
		}
		t.Run(strings.Join(tc.args[:3], " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := s.Config(uniqueName(t))
			loadFixture(ctx, t, cfg, c.Fixture)
			query := func(extra ...string) []byte {
				args := append([]string{"query"}, tc.args...)
				args = append(args, "--clickhouse-addr", cfg.ClickHouse.Addr[0], "--database", cfg.ClickHouse.Database,
					"--pipelines", cfg.Pipelines)
				out, err := exec.CommandContext(ctx, touchlineBin, append(args, extra...)...).Output()
				if err != nil {
					t.Fatalf("touchline %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
				}
				return out
			}
			var objects []map[string]any
			out := query("--format", "json")
			if err := json.Unmarshal(out, &objects); err != nil {
				t.Fatalf("not a JSON array: %v\n%s", err, out)
			}
			rows := make([][]any, len(objects))
			for i, o := range objects {
				if len(o) != len(c.Columns) {
					t.Fatalf("row %d has keys %v, want %v", i+1, o, c.Columns)
				}
				for _, col := range c.Columns {
					rows[i] = append(rows[i], o[col])
				}
			}
			if err := c.Check(c.Columns, rows); err != nil {
				t.Fatal(err)
			}
			csvOut, err := csv.NewReader(bytes.NewReader(query("--format", "csv"))).ReadAll()
			if err != nil || len(csvOut) != len(c.Want)+1 || strings.Join(csvOut[0], ",") != strings.Join(c.Columns, ",") {
				t.Errorf("csv: %v, %v", csvOut, err)
			}
			if sql := string(query("--sql")); strings.TrimSpace(sql) != c.SQL+";" {
				t.Errorf("--sql printed\n%s\nwant the query of the case\n%s", sql, c.SQL)
			}
		})
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
