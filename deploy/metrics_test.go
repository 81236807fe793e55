package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/deploy/grafana"
	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/segments"
	"github.com/touchline-io/touchline/pkg/ui"
)

// serviceMetrics registers, for each service, the metrics its command
// registers with the process's registry (pkg/cli/*cmd).
var serviceMetrics = map[string]func(prometheus.Registerer){
	"ingest": func(r prometheus.Registerer) {
		ingest.NewMetrics(r)
		enrich.NewSuppressedCounter(r)
	},
	"identity": func(r prometheus.Registerer) { identity.NewMetrics(r) },
	"segments": func(r prometheus.Registerer) { segments.NewMetrics(r) },
	"alerts":   func(r prometheus.Registerer) { alerts.NewMetrics(r) },
	"activate": func(r prometheus.Registerer) { activate.NewMetrics(r) },
	"collect":  func(r prometheus.Registerer) { collect.NewMetrics(r) },
	"ui":       func(r prometheus.Registerer) { ui.NewMetrics(r) },
}

// recorder is a Registerer that keeps what is registered with it.
type recorder struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// fqName reads a metric's name from its descriptor, the one place a
// vector that has no series yet names it.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedMetrics returns the series names each service exports, by
// service: those of its registry (app.NewRegistry: Go, process, build
// info) and of the metrics its command registers, histograms and summaries
// with their _bucket, _sum and _count series.
func exportedMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for service, register := range serviceMetrics {
		names := map[string]bool{}
		add := func(name string, histogram bool) {
			names[name] = true
			if histogram {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[name+s] = true
				}
			}
		}
		reg := app.NewRegistry()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			add(f.GetName(), f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY)
		}
		rec := &recorder{Registerer: reg}
		register(rec)
		for _, c := range rec.collectors {
			_, histogram := c.(prometheus.Histogram)
			_, histogramVec := c.(*prometheus.HistogramVec)
			descs := make(chan *prometheus.Desc, 16)
			go func() { c.Describe(descs); close(descs) }()
			for d := range descs {
				m := fqName.FindStringSubmatch(d.String())
				if m == nil {
					t.Fatalf("%s: no name in %s", service, d)
				}
				add(m[1], histogram || histogramVec)
			}
		}
		out[service] = names
	}
	return out
}

// promToken finds names in a PromQL expression: metrics, label names
// left after promStrip, functions (followed by a parenthesis) and
// keywords.
var (
	promStrip = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promToken = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// promKeywords are PromQL's words that are neither metrics nor functions.
var promKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}

// promMetrics returns the metric names expr selects.
func promMetrics(expr string) []string {
	s := promStrip.ReplaceAllString(expr, " ")
	var out []string
	for _, m := range promToken.FindAllStringSubmatchIndex(s, -1) {
		name := s[m[0]:m[1]]
		if m[2] >= 0 || slices.Contains(promKeywords, name) || (m[0] > 0 && strings.ContainsAny(s[m[0]-1:m[0]], "0123456789.")) {
			continue // a function, a keyword, or the unit of a number (1e6) or a duration
		}
		out = append(out, name)
	}
	return out
}

// TestPromMetrics: the names the checks below compare with the services'
// are the metrics, not the functions, labels, keywords or durations.
func TestPromMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.99, sum by (le, endpoint) (rate(touchline_collect_request_duration_seconds_bucket{job="a_b"}[5m])))`: {"touchline_collect_request_duration_seconds_bucket"},
		`sum by (namespace) (rate(a_total[10m])) / sum without (x) (b_total offset 1h) > 1e6 and on (job) up == 0`:                 {"a_total", "b_total", "up"},
		`count by (rule) (touchline_alerts_state == 2)`:                                                                            {"touchline_alerts_state"},
	} {
		if got := promMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
}

// checkExported fails the test for every metric of expr that no service
// exports (up is Prometheus's own), and for an expression that names none.
func checkExported(t *testing.T, where, expr string, exported map[string]map[string]bool) {
	t.Helper()
	names := promMetrics(expr)
	if len(names) == 0 {
		t.Errorf("%s: %q names no metric", where, expr)
	}
	for _, name := range names {
		found := name == "up"
		for _, m := range exported {
			found = found || m[name]
		}
		if !found {
			t.Errorf("%s: %s is not a metric any touchline service exports (%q)", where, name, expr)
		}
	}
}

// TestDashboardsNameExportedMetrics: every Prometheus panel of the Grafana
// dashboards selects metrics the services export, and every service has
// panels over its own metrics.
func TestDashboardsNameExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	if exported["ingest"]["touchline_ingest_lag"] || !exported["ingest"]["touchline_ingest_consumer_lag"] ||
		!exported["segments"]["touchline_segments_event_to_change_seconds_bucket"] || !exported["ui"]["go_goroutines"] {
		t.Fatalf("the services' metrics are not read as they are exported: %v", exported["ingest"])
	}
	queries, err := grafana.Queries("grafana/dashboards")
	if err != nil {
		t.Fatal(err)
	}
	panels := map[string]int{}
	for _, q := range queries {
		if q.Datasource != grafana.Prometheus {
			continue
		}
		checkExported(t, q.String(), q.Expr, exported)
		for _, name := range promMetrics(q.Expr) {
			for service := range serviceMetrics {
				if strings.HasPrefix(name, "touchline_"+service+"_") {
					panels[service]++
				}
			}
		}
	}
	for service := range serviceMetrics {
		if panels[service] == 0 {
			t.Errorf("no Prometheus panel shows a metric of %s", service)
		}
	}
}

// rulesFile is the part of a Prometheus rules file the tests read.
type rulesFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestRulesNameExportedMetrics: every alert of the shipped Prometheus
// rules (the ops rules of the Helm chart and the compose stack, and the
// example KPI rules) selects metrics the services export.
func TestRulesNameExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	for _, path := range []string{opsRules, "prometheus/touchline-alerts.rules.yml"} {
		var rules rulesFile
		decodeFile(t, path, yaml.Unmarshal, &rules)
		n := 0
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				checkExported(t, path+": "+r.Alert, r.Expr, exported)
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s has no rule", path)
		}
	}
}

// opsRules is the ops alerts' rules file, shared by the Helm chart and the
// compose stack's Prometheus.
const opsRules = "helm/touchline/files/touchline-ops.rules.yml"

// readFile returns the content of path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
