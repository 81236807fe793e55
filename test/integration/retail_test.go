package integration

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/analyticscases"
)

// TestAlertsOnRetailKPIs evaluates aov, purchase_frequency and repeat_rate
// rules per acquisition channel over May on the retail fixture of
// test/analyticscases: the values are those of the hand-computed
// `query kpis --by channel` case.
func TestAlertsOnRetailKPIs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, nil)
	engine, set := caseEngine(ctx, t, cfg, conn, "retail kpis: by acquisition channel", `rules:
  - name: small-baskets
    kpi: aov
    scope: channel
    window: 31d
    every: 1d
    threshold: {below: 60}
  - name: rare-buyers
    kpi: purchase_frequency
    scope: channel
    window: 31d
    every: 1d
    threshold: {below: 2}
  - name: no-return
    kpi: repeat_rate
    scope: all
    window: 31d
    every: 1d
    threshold: {below: 0.5}
`)
	type seen struct {
		value          float64
		defined, fires bool
	}
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, want := range []map[string]seen{
		{"paid_search": {90, true, false}, "email": {50, true, true}, "social": {50, true, true}, "(none)": {50, true, true}},
		{"paid_search": {2.5, true, false}, "email": {1, true, true}, "social": {2, true, false}, "(none)": {1, true, true}},
		{"": {0.6, true, false}},
	} {
		outcomes, err := engine.Plan(ctx, june, []*rules.Rule{set.Rules[i]})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]seen{}
		for _, o := range outcomes {
			got[o.Observation.Group.Key()] = seen{o.Observation.Value, o.Observation.Defined, o.Observation.Breach}
		}
		if len(got) != len(want) {
			t.Errorf("%s: groups %v, want %v", set.Rules[i].Name, got, want)
		}
		for key, w := range want {
			g := got[key]
			if g.defined != w.defined || g.fires != w.fires || math.Abs(g.value-w.value) > 1e-9 {
				t.Errorf("%s: %q = %+v, want %+v", set.Rules[i].Name, key, g, w)
			}
		}
	}
}

// caseEngine loads the fixture of the analytics case called name into the
// database of conn and returns an alerts engine of cfg on it with the rules
// of alertsYAML.
func caseEngine(ctx context.Context, t *testing.T, cfg config.Config, conn driver.Conn, name, alertsYAML string) (*alerts.Engine, *rules.Rules) {
	t.Helper()
	cases, err := analyticscases.All()
	if err != nil {
		t.Fatal(err)
	}
	var fixture analyticscases.Fixture
	for _, c := range cases {
		if c.Name == name {
			fixture = c.Fixture
		}
	}
	if err := fixture.Load(ctx, conn); err != nil {
		t.Fatal(err)
	}
	set, err := rules.ParseRules("alerts.yaml", []byte(alertsYAML))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := alertscmd.NewEngine(ctx, cfg, conn, set, nil, alerts.NewMetrics(prometheus.NewRegistry()), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return engine, set
}
