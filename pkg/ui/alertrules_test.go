package ui

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/ui/settings"
)

// testRules has one rule of each condition kind, the defaults of the
// second and fourth left to the parser.
const testRules = `rules:
  - name: ctr-collapse
    description: CTR halved
    kpi: ctr
    scope: channel
    where: {channel: [email, display]}
    window: 1h
    change: {versus: previous_window, below: -50}
    min_volume: 1000
    for: 3
    severity: critical
    cooldown: 2h
  - name: roas-low
    kpi: roas
    model: linear
    window: 7d
    threshold: {below: 1.5, above: 20}
  - name: events-spike
    kpi: events
    where: {event_type: purchase}
    window: 1h
    every: 5m
    anomaly: {z: 3, trailing: 24, season: 1d, direction: up}
  - name: silent
    kpi: no_data
    scope: campaign
    window: 2h
    delay: 10m
    no_data: {lookback: 3d}
`

func alertRulesMux(t *testing.T, yaml string) (*http.ServeMux, *fakeRunner) {
	t.Helper()
	set, err := rules.ParseRules("alerts.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRunner{res: &table.Result{}}
	cfg := settings.DefaultConfig()
	mux := http.NewServeMux()
	Register(mux, NewAPI(f.run, analytics.DefaultAttribution(), set, cfg, NewMetrics(prometheus.NewRegistry()), zap.NewNop()), cfg)
	return mux, f
}

// TestAlertRulesAnswer: /api/alert-rules lists the rules of alerts.yaml in
// file order, each field as written out by hand here, defaults included,
// and never asks ClickHouse.
func TestAlertRulesAnswer(t *testing.T) {
	mux, f := alertRulesMux(t, testRules)
	rec := get(t, mux, "/api/alert-rules")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v: %s", rec.Code, rec.Header(), rec.Body.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	row := func(name, description, kpi, model, scope, channels, eventTypes, window, delay, every, kind, text string,
		minVolume, forCount float64, severity, cooldown, source string) map[string]any {
		return map[string]any{"rule": name, "description": description, "kpi": kpi, "model": model, "scope": scope,
			"channels": channels, "campaigns": "", "event_types": eventTypes, "window": window, "delay": delay, "every": every,
			"condition": kind, "condition_text": text, "min_volume": minVolume, "for": forCount, "severity": severity,
			"cooldown": cooldown, "source": source}
	}
	want := []map[string]any{
		row("ctr-collapse", "CTR halved", "ctr", "", "channel", "email,display", "", "1h0m0s", "0s", "1m0s",
			"change", "below -50% versus previous_window", 1000, 3, "critical", "2h0m0s", "alerts.yaml:2"),
		row("roas-low", "", "roas", "linear", "all", "", "", "7d", "0s", "1m0s",
			"threshold", "above 20 or below 1.5", 0, 1, "warning", "0s", "alerts.yaml:13"),
		row("events-spike", "", "events", "", "all", "", "purchase", "1h0m0s", "0s", "5m0s",
			"anomaly", "z >= 3 (up) against 24 trailing windows, season 1d", 0, 1, "warning", "0s", "alerts.yaml:18"),
		row("silent", "", "no_data", "", "campaign", "", "", "2h0m0s", "10m0s", "1m0s",
			"no_data", "no events in the window after some in the 3d before", 0, 1, "warning", "0s", "alerts.yaml:24"),
	}
	if len(got) != len(want) {
		t.Fatalf("%d rules, want %d: %s", len(got), len(want), rec.Body.String())
	}
	for i := range want {
		for k, v := range want[i] {
			if got[i][k] != v {
				t.Errorf("rule %d %s: %#v, want %#v", i+1, k, got[i][k], v)
			}
		}
		if len(got[i]) != len(want[i]) {
			t.Errorf("rule %d has %d fields, want %d", i+1, len(got[i]), len(want[i]))
		}
	}
	csv := get(t, mux, "/api/alert-rules?format=csv")
	if lines := strings.Split(strings.TrimSpace(csv.Body.String()), "\n"); csv.Code != http.StatusOK || len(lines) != 5 ||
		!strings.HasPrefix(lines[0], "rule,description,kpi,") || !strings.HasPrefix(lines[1], "ctr-collapse,CTR halved,ctr,,channel,\"email,display\",") {
		t.Errorf("csv: %d %s", csv.Code, csv.Body.String())
	}
	for target, want := range map[string]string{
		"/api/alert-rules?sql=1":                  "alert-rules has no SQL: the rules are read from alerts.yaml",
		"/api/alert-rules?rule=x":                 `unknown parameter "rule" for alert-rules: want format`,
		"/api/alert-rules?format=xml":             `format "xml": want json or csv`,
		"/api/alert-rules?format=csv&format=json": "format: given 2 times",
	} {
		rec := get(t, mux, target)
		if msg := errorOf(t, rec); rec.Code != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %q, want 400 with %q", target, rec.Code, msg, want)
		}
	}
	if len(f.queries) != 0 {
		t.Errorf("the rules asked ClickHouse: %v", f.queries)
	}
}

// TestAlertRulesWithoutAFile: with no alerts.yaml there are no rules, an
// empty list rather than an error.
func TestAlertRulesWithoutAFile(t *testing.T) {
	mux, _ := alertRulesMux(t, "")
	rec := get(t, mux, "/api/alert-rules")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("%d %q, want an empty list", rec.Code, rec.Body.String())
	}
}
