package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/analytics/request"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/ui/settings"
)

// Runner runs a query and returns its result.
type Runner func(ctx context.Context, sql string) (*table.Result, error)

// codeTimeoutExceeded is ClickHouse's TIMEOUT_EXCEEDED, of a query that
// ran longer than max_execution_time.
const (
	codeTimeoutExceeded = 159 // TIMEOUT_EXCEEDED: max_execution_time
)

// API answers /api/: the list of analyses on /api/ and each analysis on
// /api/<name>, with the parameters of `touchline query <name>` as query
// parameters, plus format (json, the default, or csv) and sql=1 (the SQL
// that `--sql` prints, as text). It is safe for concurrent use.
type API struct {
	run         Runner
	attribution analytics.Attribution
	// stages is the funnel stages of stages.yaml; nil for the defaults.
	stages   analytics.Stages
	identify func(string) (analytics.Identifier, error)
	cfg      settings.Config
	metrics  *Metrics
	log      *zap.Logger
	now      func() time.Time
	// alertRules are the rules of alerts.yaml, read at start.
	alertRules *table.Result
	// limits are the ClickHouse settings the queries run under, as the
	// server reported them, for the index.
	limits map[string]string
}

// NewAPI returns the API that runs its queries with run, under the
// attribution settings of the pipelines directory, and lists alertRules,
// the rules of its alerts.yaml.
func NewAPI(run Runner, attribution analytics.Attribution, alertRules *rules.Rules, cfg settings.Config, metrics *Metrics, log *zap.Logger) *API {
	return &API{run: run, attribution: attribution, alertRules: rules.RuleRows(alertRules), cfg: cfg, metrics: metrics, log: log, now: time.Now}
}

// Metrics are the API's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// NewMetrics registers the API's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchline_ui_requests_total",
			Help: "API requests by analysis and HTTP status.",
		}, []string{"analysis", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "touchline_ui_query_seconds",
			Help:    "Time to run an analysis on ClickHouse and read its result.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"analysis"}),
	}
	reg.MustRegister(m.requests, m.seconds)
	return m
}

// reserved are the query parameters the API reads itself.
var reserved = []string{"format", "sql"}

// ServeHTTP answers a request under /api/.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/api/")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		a.fail(w, label(name), http.StatusMethodNotAllowed, "method %s: the API answers GET", r.Method)
		return
	}
	if name == "" {
		a.index(w)
		return
	}
	if name == alertRulesName {
		a.serveAlertRules(w, r.URL.Query())
		return
	}
	analysis, ok := request.Lookup(name)
	if !ok {
		a.fail(w, "unknown", http.StatusNotFound, "no analysis %q: want one of %s", name, strings.Join(analysisNames(), ", "))
		return
	}
	query := r.URL.Query()
	values, err := readValues(analysis, query)
	if err != nil {
		a.fail(w, name, http.StatusBadRequest, "%v", err)
		return
	}
	format, err := formatOf(query)
	if err != nil {
		a.fail(w, name, http.StatusBadRequest, "%v", err)
		return
	}
	plan, err := analysis.Plan(values, request.Env{Now: a.now(), Attribution: a.attribution, Stages: a.stages, Identify: a.identify})
	sql := plan.SQL
	if err != nil {
		a.fail(w, name, http.StatusBadRequest, "%v", err)
		return
	}
	if query.Get("sql") == "1" || query.Get("sql") == "true" {
		a.reply(w, name, "text/plain; charset=utf-8", []byte(sql+";\n"))
		return
	}
	start := time.Now()
	res, err := a.run(r.Context(), sql)
	if err == nil && plan.Finish != nil {
		if res, err = plan.Finish(res); err != nil {
			// The model's own error (a chain that does not settle): the
			// request's data cannot be answered, and the message says why.
			a.log.Warn("analysis failed", zap.String("analysis", name), zap.String("query", r.URL.RawQuery), zap.Error(err))
			a.fail(w, name, http.StatusUnprocessableEntity, "%v", err)
			return
		}
	}
	a.metrics.seconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if err != nil {
		code, msg := a.failure(r.Context(), err)
		a.log.Warn("analysis failed", zap.String("analysis", name), zap.String("query", r.URL.RawQuery), zap.Int("status", code), zap.Error(err))
		a.fail(w, name, code, "%s", msg)
		return
	}
	a.write(w, name, format, res)
}

// formatOf returns the format a query asks for: json (the default) or csv.
func formatOf(query url.Values) (string, error) {
	format := query.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return "", fmt.Errorf("format %q: want json or csv", format)
	}
	return format, nil
}

// write answers res in format, json or csv.
func (a *API) write(w http.ResponseWriter, name, format string, res *table.Result) {
	var body bytes.Buffer
	if err := res.Write(&body, format); err != nil {
		a.log.Error("writing an analysis", zap.String("analysis", name), zap.Error(err))
		a.fail(w, name, http.StatusInternalServerError, "writing the result failed")
		return
	}
	contentType := "application/json"
	if format == "csv" {
		contentType = "text/csv; charset=utf-8"
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "touchline-"+name+".csv"))
	}
	a.reply(w, name, contentType, body.Bytes())
}

// readValues returns the analysis's parameters of query, refusing
// parameters it does not take and parameters given twice.
func readValues(analysis request.Analysis, query url.Values) (request.Values, error) {
	values := request.Values{}
	for name, vs := range query {
		if len(vs) > 1 {
			return nil, fmt.Errorf("%s: given %d times", name, len(vs))
		}
		if slices.Contains(reserved, name) {
			continue
		}
		if _, ok := analysis.Param(name); !ok {
			known := append([]string{}, reserved...)
			for _, p := range analysis.Params {
				known = append(known, p.Name)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("unknown parameter %q for %s: want %s", name, analysis.Name, strings.Join(known, ", "))
		}
		values[name] = vs[0]
	}
	return values, nil
}

// label returns the metrics label of a path's analysis: its name, index,
// or unknown (so that no request can add labels).
func label(name string) string {
	if name == "" {
		return "index"
	}
	if _, ok := request.Lookup(name); ok || name == alertRulesName {
		return name
	}
	return "unknown"
}

func analysisNames() []string {
	var names []string
	for _, a := range request.Analyses() {
		names = append(names, a.Name)
	}
	return append(names, alertRulesName)
}

// failure returns the status and message of a query that failed: the
// limits of settings.Config by name, and, for anything else, a message that does
// not pass on what ClickHouse said (the log has it).
func (a *API) failure(ctx context.Context, err error) (int, string) {
	var ex *ch.Exception
	isEx := errors.As(err, &ex)
	switch {
	case isEx && ex.Code == codeTimeoutExceeded:
		return http.StatusGatewayTimeout, fmt.Sprintf("the query ran longer than ui.max_execution_time (%s): narrow the range", a.cfg.MaxExecutionTime)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		// ClickHouse stops a query at max_execution_time; one that said
		// nothing for 5 seconds more is a server that does not answer.
		return http.StatusGatewayTimeout, fmt.Sprintf("ClickHouse did not answer within ui.max_execution_time (%s) and 5s more: "+
			"the server is hung or unreachable (the UI's /readyz and log say more)", a.cfg.MaxExecutionTime)
	case errors.Is(err, ch.ErrAcquireConnTimeout):
		return http.StatusServiceUnavailable, "every ClickHouse connection of the ui is busy (clickhouse.max_open_conns): try again shortly"
	case errors.Is(err, table.ErrTooManyRows):
		return http.StatusUnprocessableEntity, fmt.Sprintf("the result has more than ui.max_rows (%d) rows: narrow the range or drop the breakdown", a.cfg.MaxRows)
	}
	return http.StatusBadGateway, "ClickHouse did not answer the query; the UI's log says why"
}

// index lists the analyses and their parameters, and the ClickHouse
// settings every query runs under.
func (a *API) index(w http.ResponseWriter) {
	body, _ := json.MarshalIndent(map[string]any{"analyses": describe(a.attribution), "clickhouse_settings": a.limits}, "", "  ")
	a.reply(w, "index", "application/json", append(body, '\n'))
}

// paramDoc is a parameter of an analysis as the index describes it.
type paramDoc struct {
	Name     string `json:"name"`
	Default  string `json:"default"`
	Kind     string `json:"kind"`
	Required bool   `json:"required"`
	Usage    string `json:"usage"`
}

// analysisDoc is an analysis as the index describes it.
type analysisDoc struct {
	Name   string     `json:"name"`
	Path   string     `json:"path"`
	Short  string     `json:"description"`
	Params []paramDoc `json:"parameters"`
}

// describe returns every analysis with its parameters and their defaults
// under the attribution settings of the pipelines directory.
func describe(attribution analytics.Attribution) []analysisDoc {
	kinds := map[request.Kind]string{request.String: "string", request.Bool: "bool", request.Int: "int"}
	var out []analysisDoc
	for _, an := range request.Analyses() {
		x := analysisDoc{Name: an.Name, Path: "/api/" + an.Name, Short: an.Short}
		defaults := an.Defaults(attribution)
		for _, p := range an.Params {
			x.Params = append(x.Params, paramDoc{Name: p.Name, Default: defaults[p.Name], Kind: kinds[p.Kind], Required: p.Required, Usage: p.Usage})
		}
		out = append(out, x)
	}
	return append(out, alertRulesDoc)
}

// fail answers status with a JSON error message.
func (a *API) fail(w http.ResponseWriter, name string, status int, format string, args ...any) {
	body, _ := json.Marshal(map[string]string{"error": fmt.Sprintf(format, args...)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	a.metrics.requests.WithLabelValues(name, fmt.Sprint(status)).Inc()
}

// reply answers 200 with body.
func (a *API) reply(w http.ResponseWriter, name, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
	a.metrics.requests.WithLabelValues(name, "200").Inc()
}
