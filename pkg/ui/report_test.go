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
