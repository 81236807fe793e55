package ui

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/analytics/request"
	"github.com/touchline-io/touchline/pkg/table"
)

// The funnel of a report when none is given, as the funnel page's.
const (
	// DefaultFunnelSteps are the funnel's steps.
	DefaultFunnelSteps = "page_view,add_to_cart,purchase"
	// DefaultFunnelWindow is the funnel's conversion window.
	DefaultFunnelWindow = "24h"
)

// ReportOptions are the parameters of an HTML report, as the flags of
// `touchline report` give them: "" takes the default.
type ReportOptions struct {
	// From and To are the range (--from, --to): by default the last 30
	// whole UTC days.
	From, To string
	// Steps and Window are the funnel's (--steps, --window).
	Steps, Window string
	// Currency is the reporting currency of every money figure
	// (--currency), as `touchline query --currency` takes it: by default
	// reporting_currency of attribution.yaml, none when that is empty.
	Currency string
}

// Report is an HTML report planned by PlanReport: the pages it shows and
// the SQL of every query they draw, run by Run and written by WriteHTML.
type Report struct {
	rng      analytics.Range
	made     time.Time
	currency string
	sections []reportSection
	queries  []reportQuery
}

// reportSection is one page of the report with its parameters.
type reportSection struct {
	Page   string            `json:"page"`
	Params map[string]string `json:"params"`
}

// reportQuery is one answer of the API that a page of the report reads,
// found by its analysis and parameters (those not empty): the index (an
// empty analysis) or an analysis with its SQL (`--sql` prints it with a
// semicolon), its rows, as `--format json` prints them, and its CSV.
type reportQuery struct {
	Analysis string            `json:"analysis"`
	Params   map[string]string `json:"params"`
	SQL      string            `json:"sql,omitempty"`
	Rows     json.RawMessage   `json:"rows"`
	CSV      string            `json:"csv,omitempty"`
	// finish, for a data-driven model, computes the answer from the rows
	// of SQL, as the API does.
	finish func(*table.Result) (*table.Result, error)
}

// PlanReport checks opts and returns the report of the overview, ROMI and
// attribution per channel under every model (the data-driven ones too), the funnel and the cohorts
// over the range, with the SQL of each query: the SQL that `touchline
// query` runs for the same parameters, the money queries with --currency
// when opts names one. Errors name the flag at fault.
func PlanReport(opts ReportOptions, attribution analytics.Attribution, now time.Time) (*Report, error) {
	env := request.Env{Now: now, Attribution: attribution, Prefix: "--"}
	rng, err := env.Range(opts.From, opts.To)
	if err != nil {
		return nil, err
	}
	steps, window := opts.Steps, opts.Window
	if steps == "" {
		steps = DefaultFunnelSteps
	}
	if window == "" {
		window = DefaultFunnelWindow
	}
	span := map[string]string{"from": formatTime(rng.From), "to": formatTime(rng.To)}
	with := func(params map[string]string) map[string]string {
		out := map[string]string{"from": span["from"], "to": span["to"]}
		for k, v := range params {
			out[k] = v
		}
		return out
	}
	// The money analyses take the currency, when one is given, as a
	// parameter: their pages label their figures with it.
	money := func(params map[string]string) map[string]string {
		out := with(params)
		if opts.Currency != "" {
			out["currency"] = opts.Currency
		}
		return out
	}
	cohort, _ := request.Lookup("cohort")
	defaults := cohort.Defaults(attribution)
	cohorts := money(map[string]string{"period": defaults["period"], "periods": defaults["periods"], "by": defaults["by"], "activity": defaults["activity"]})
	funnel := with(map[string]string{"steps": steps, "window": window})
	currency := opts.Currency
	if currency == "" {
		currency = attribution.Currency.Code
	}
	r := &Report{rng: rng, made: now.UTC(), currency: currency, sections: []reportSection{
		{"overview", money(nil)}, {"attribution", money(map[string]string{"model": "all"})}, {"funnel", funnel}, {"cohorts", cohorts},
	}}
	index, err := json.Marshal(map[string]any{"analyses": describe(attribution)})
	if err != nil {
		return nil, fmt.Errorf("describing the analyses: %w", err)
	}
	r.queries = append(r.queries, reportQuery{Params: map[string]string{}, Rows: index})
	add := func(analysis string, params map[string]string) error {
		a, _ := request.Lookup(analysis)
		plan, err := a.Plan(request.Values(params), env)
		if err != nil {
			return err
		}
		r.queries = append(r.queries, reportQuery{Analysis: analysis, Params: params, SQL: plan.SQL, finish: plan.Finish})
		return nil
	}
	if err := add("overview", money(nil)); err != nil {
		return nil, err
	}
	if err := add("overview", money(map[string]string{"by-day": "true"})); err != nil {
		return nil, err
	}
	for _, m := range append(append([]analytics.Model{}, analytics.Models...), analytics.DataDrivenModels...) {
		for _, analysis := range []string{"attribution", "romi"} {
			if err := add(analysis, money(map[string]string{"model": string(m)})); err != nil {
				return nil, err
			}
		}
	}
	if err := add("funnel", funnel); err != nil {
		return nil, err
	}
	if err := add("cohort", cohorts); err != nil {
		return nil, err
	}
	return r, nil
}

// formatTime writes t as a date when it is a UTC midnight, else as an RFC
// 3339 time: as --from and --to take it.
func formatTime(t time.Time) string {
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.UTC().Format(time.DateOnly)
	}
	return t.UTC().Format(time.RFC3339)
}

// Run runs every query of the report with run, one after the other.
func (r *Report) Run(ctx context.Context, run Runner) error {
	for i := range r.queries {
		q := &r.queries[i]
		if q.Analysis == "" {
			continue
		}
		res, err := run(ctx, q.SQL)
		if err == nil && q.finish != nil {
			res, err = q.finish(res)
		}
		if err != nil {
			return fmt.Errorf("running the %s query of the report: %w", q.Analysis, err)
		}
		var rows, csv bytes.Buffer
		if err := res.Write(&rows, "json"); err != nil {
			return fmt.Errorf("writing the %s rows of the report: %w", q.Analysis, err)
		}
		if err := res.Write(&csv, "csv"); err != nil {
			return fmt.Errorf("writing the %s CSV of the report: %w", q.Analysis, err)
		}
		q.Rows, q.CSV = rows.Bytes(), csv.String()
	}
	return nil
}

//go:embed report.html
var reportPage string

var reportTemplate = template.Must(template.New("report").Parse(reportPage))

// scriptEnd matches what would end an inline script or open an HTML
// comment inside it; a backslash before the slash or the bang keeps the
// script's meaning.
var scriptEnd = regexp.MustCompile(`(?i)<(/script|!--)`)

// inlineJS returns the embedded script at path as the text of an inline
// script.
func inlineJS(path string) (template.JS, error) {
	b, err := web.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the embedded %s: %w", path, err)
	}
	return template.JS(scriptEnd.ReplaceAll(b, []byte(`<\$1`))), nil
}

// WriteHTML writes the report as one HTML file that needs nothing else:
// the web app's style, ECharts and the app itself inline, the answers of
// the queries as JSON in it, and a Content-Security-Policy that lets it
// load nothing from anywhere.
func (r *Report) WriteHTML(w io.Writer) error {
	css, err := web.ReadFile("web/style.css")
	if err != nil {
		return fmt.Errorf("reading the embedded style: %w", err)
	}
	echarts, err := inlineJS("web/vendor/echarts/echarts.min.js")
	if err != nil {
		return err
	}
	app, err := inlineJS("web/app.js")
	if err != nil {
		return err
	}
	license, err := web.ReadFile("web/vendor/echarts/LICENSE")
	if err != nil {
		return fmt.Errorf("reading the embedded ECharts licence: %w", err)
	}
	notice, err := web.ReadFile("web/vendor/echarts/NOTICE")
	if err != nil {
		return fmt.Errorf("reading the embedded ECharts notice: %w", err)
	}
	err = reportTemplate.Execute(w, map[string]any{
		"From": formatTime(r.rng.From), "To": formatTime(r.rng.To), "Made": r.made.Format(time.RFC3339), "Currency": r.currency,
		"CSS": template.CSS(css), "ECharts": echarts, "App": app, "License": string(license), "Notice": string(notice),
		"Data": map[string]any{"sections": r.sections, "queries": r.queries},
	})
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
