package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/table"
)

// reportData matches the answers inlined in a report.
var reportData = regexp.MustCompile(`(?s)<script>window\.TOUCHLINE_REPORT = (.*?);</script>`)

// TestReportIsOneFileThatLoadsNothing: the report of a range holds the
// answer of each of its queries (the index, the overview per channel and
// per day, attribution and ROMI under each of the eight models, the funnel and
// the cohorts), loads nothing from outside the file, and text from the data
// cannot end its script.
func TestReportIsOneFileThatLoadsNothing(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	r, err := PlanReport(ReportOptions{}, analytics.DefaultAttribution(), now)
	if err != nil {
		t.Fatal(err)
	}
	hostile := "</script><script>alert(1)</script><!--"
	f := &fakeRunner{res: &table.Result{Columns: []string{"channel", "revenue"}, Rows: [][]any{{hostile, 12.5}}}}
	// The path queries of the data-driven models get one path, from which
	// the report computes their credits.
	paths := &table.Result{Columns: []string{"path", "conversions", "revenue", "nulls", "kind", "spend"},
		Rows: [][]any{{"email", uint64(1), 12.5, uint64(0), "path", 0.0}}}
	run := func(ctx context.Context, sql string) (*table.Result, error) {
		res, err := f.run(ctx, sql)
		if strings.Contains(sql, "GROUP BY path") {
			return paths, err
		}
		return res, err
	}
	if err := r.Run(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	if len(f.queries) != 20 {
		t.Errorf("%d queries ran, want 20: 2 overviews, 8 attributions, 8 ROMIs, the funnel and the cohorts", len(f.queries))
	}
	var out bytes.Buffer
	if err := r.WriteHTML(&out); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	if !strings.Contains(page, `content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:"`) {
		t.Error("the report has no Content-Security-Policy that forbids loading anything")
	}
	// The default range is the last 30 whole UTC days up to the day of now.
	if !strings.Contains(page, "<title>touchline report, 2026-10-25 to 2026-11-24</title>") {
		t.Errorf("the report's title does not name the default range: %s", regexp.MustCompile(`<title>.*</title>`).FindString(page))
	}
	markup := regexp.MustCompile(`(?s)<script>.*?</script>`).ReplaceAllString(page, "")
	for _, m := range regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*["']?([^"' >]*)`).FindAllStringSubmatch(markup, -1) {
		if !strings.HasPrefix(m[1], "data:") && !strings.HasPrefix(m[1], "#") {
			t.Errorf("the report refers to %q outside itself", m[1])
		}
	}
	if opened, closed := strings.Count(page, "<script>"), strings.Count(strings.ToLower(page), "</script"); opened != 3 || closed != 3 {
		t.Errorf("%d scripts opened and %d closed, want the 3 scripts (ECharts, data, app)", opened, closed)
	}
	m := reportData.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the report holds no data")
	}
	var data struct {
		Sections []reportSection `json:"sections"`
		Queries  []struct {
			Analysis string            `json:"analysis"`
			Params   map[string]string `json:"params"`
			SQL      string            `json:"sql"`
			Rows     json.RawMessage   `json:"rows"`
			CSV      string            `json:"csv"`
		} `json:"queries"`
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("the report's data is not JSON: %v", err)
	}
	var pages []string
	for _, s := range data.Sections {
		pages = append(pages, s.Page+" "+s.Params["from"]+" "+s.Params["to"])
	}
	if want := "overview 2026-10-25 2026-11-24,attribution 2026-10-25 2026-11-24,funnel 2026-10-25 2026-11-24,cohorts 2026-10-25 2026-11-24"; strings.Join(pages, ",") != want {
		t.Errorf("sections %v, want %s", pages, want)
	}
	romi := 0
	for i, q := range data.Queries {
		if q.Analysis == "" {
			continue
		}
		if q.SQL != f.queries[i-1] {
			t.Errorf("%s: the report shows SQL other than it ran", q.Analysis)
		}
		channel, csv := hostile, "channel,revenue\n"
		if analytics.Model(q.Params["model"]).DataDriven() {
			channel, csv = "email", "channel,conversions,revenue"
		}
		var rows []map[string]any
		if err := json.Unmarshal(q.Rows, &rows); err != nil || len(rows) != 1 || rows[0]["channel"] != channel || rows[0]["revenue"] != 12.5 {
			t.Errorf("%s: rows %s (%v)", q.Analysis, q.Rows, err)
		}
		if !strings.HasPrefix(q.CSV, csv) {
			t.Errorf("%s: CSV %q", q.Analysis, q.CSV)
		}
		if q.Analysis == "romi" {
			romi++
		}
	}
	if romi != len(analytics.Models)+len(analytics.DataDrivenModels) {
		t.Errorf("%d ROMI queries, want one per model", romi)
	}

	f.err = errors.New("connection refused")
	if err := r.Run(t.Context(), f.run); err == nil || !strings.Contains(err.Error(), "running the overview query of the report: connection refused") {
		t.Errorf("a failed query: %v", err)
	}
}

// TestReportInAReportingCurrency: with --currency every money query of the
// report (overviews, attributions, ROMIs, cohorts) takes it as a parameter,
// so the pages label their figures with it, and converts into it; the
// funnel, which has no money, does not. Without --currency the reporting
// currency of attribution.yaml converts them, as for touchline query.
func TestReportInAReportingCurrency(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	eur := analytics.DefaultAttribution()
	eur.Currency.Code = "EUR"
	for _, c := range []struct {
		name        string
		opts        ReportOptions
		attribution analytics.Attribution
		param, code string
	}{
		{"--currency", ReportOptions{Currency: "USD"}, analytics.DefaultAttribution(), "USD", "USD"},
		{"--currency over reporting_currency", ReportOptions{Currency: "USD"}, eur, "USD", "USD"},
		{"reporting_currency", ReportOptions{}, eur, "", "EUR"},
	} {
		r, err := PlanReport(c.opts, c.attribution, now)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		money := 0
		for _, q := range r.queries {
			if q.Analysis == "" {
				continue
			}
			// Rule-based queries label their rows with the code; the
			// data-driven path queries compare each row's currency with it.
			converts := strings.Contains(q.SQL, "'"+c.code+"' AS currency") || strings.Contains(q.SQL, "currency = '"+c.code+"'")
			if q.Analysis == "funnel" {
				if converts || q.Params["currency"] != "" {
					t.Errorf("%s: the funnel takes a currency: %v", c.name, q.Params)
				}
				continue
			}
			money++
			if !converts || q.Params["currency"] != c.param {
				t.Errorf("%s: %s %v converts into %s: %v, want it with the parameter %q", c.name, q.Analysis, q.Params, c.code, converts, c.param)
			}
		}
		for _, s := range r.sections {
			want := c.param
			if s.Page == "funnel" {
				want = ""
			}
			if s.Params["currency"] != want {
				t.Errorf("%s: section %s has the parameters %v", c.name, s.Page, s.Params)
			}
		}
		if money != 19 {
			t.Errorf("%s: %d money queries, want 19: 2 overviews, 8 attributions, 8 ROMIs and the cohorts", c.name, money)
		}
		var out bytes.Buffer
		if err := r.WriteHTML(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "; money in "+c.code+" at each day's exchange rate;") {
			t.Errorf("%s: the report's header does not say the money is in %s", c.name, c.code)
		}
	}
	if _, err := PlanReport(ReportOptions{Currency: "usd"}, analytics.DefaultAttribution(), now); err == nil ||
		!strings.Contains(err.Error(), `--currency: reporting currency "usd" is not an ISO 4217 code`) {
		t.Errorf("--currency usd: %v, want it refused by name", err)
	}
}
