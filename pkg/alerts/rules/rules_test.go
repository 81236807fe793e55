package rules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

func TestShippedRulesLoad(t *testing.T) {
	rules, err := LoadRulesFile("../../../pipelines/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Rules) < 5 {
		t.Fatalf("%d shipped rules, want the documented examples", len(rules.Rules))
	}
	ctr := rules.Rules[0]
	if ctr.Name != "ctr-collapse" || ctr.KPI != CTR || ctr.Scope != ScopeChannel || ctr.Window != time.Hour ||
		ctr.Condition.Kind != Change || *ctr.Condition.Below != -50 || ctr.For != 3 || ctr.Cooldown != 2*time.Hour {
		t.Errorf("ctr-collapse read as %+v", ctr)
	}
}

func TestRuleDefaults(t *testing.T) {
	rules, err := ParseRules("a.yaml", []byte("rules:\n  - name: x\n    kpi: clicks\n    window: 1h\n    threshold: {below: 5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := rules.Rules[0]
	if r.Scope != ScopeAll || r.Every != time.Minute || r.For != 1 || r.Severity != "warning" || r.Cooldown != 0 || r.Message == nil {
		t.Errorf("defaults: %+v", r)
	}
}

func TestBadRulesAreRefusedWithFileLineAndReason(t *testing.T) {
	const head = "rules:\n  - name: r\n"
	for _, c := range []struct {
		name, yaml string
		line       int
		reason     string
	}{
		{"unknown kpi", head + "    kpi: ctrr\n    window: 1h\n    threshold: {below: 1}\n", 3, `unknown value "ctrr"`},
		{"unknown key", head + "    kpi: ctr\n    windw: 1h\n", 4, `unknown key "windw"`},
		{"bad duration", head + "    kpi: ctr\n    window: 1 hour\n", 4, `duration "1 hour"`},
		{"window out of range", head + "    kpi: ctr\n    window: 213504d\n", 4, `duration "213504d" is out of range`},
		{"no condition", head + "    kpi: ctr\n    window: 1h\n", 2, "condition is missing"},
		{"two conditions", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    change: {versus: week_ago, below: -5}\n", 6, "one condition"},
		{"change without versus", head + "    kpi: ctr\n    window: 1h\n    change: {below: -5}\n", 5, "versus is missing"},
		{"anomaly trailing too short", head + "    kpi: events\n    window: 1h\n    anomaly: {z: 3, trailing: 2}\n", 5, "at least 3"},
		// Each trailing window is a ClickHouse query per evaluation: a
		// billion of them would never finish (and allocate the windows first).
		{"anomaly trailing too long", head + "    kpi: events\n    window: 1h\n    anomaly: {z: 3, trailing: 1000000000}\n", 5, "at most 366"},
		{"spend by the hour", head + "    kpi: roas\n    window: 1h\n    threshold: {below: 1}\n", 2, "whole days"},
		{"cac per channel", head + "    kpi: cac\n    scope: channel\n    window: 1d\n    threshold: {above: 1}\n", 2, "scope must be all"},
		{"bad template", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    message: '{{.Nope}}'\n", 6, "Nope"},
		// A message's rendering must stay linear in its size: no loop over
		// a number, no templates calling templates (which can double at
		// every level), and a bounded output.
		{"message looping over a number", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    message: '{{range 1000000000}}{{range 1000000000}}x{{end}}{{end}}'\n", 6, "range only over a field"},
		{"message looping over a variable", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    message: '{{$n := 1000000000}}{{range $n}}x{{end}}'\n", 6, "range only over a field"},
		{"message defining templates", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    message: '{{define \"a\"}}x{{end}}{{template \"a\"}}'\n", 6, "may not define templates"},
		{"message calling a template", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    message: '{{if .Rule}}{{template \"message\"}}{{end}}'\n", 6, "may not call templates"},
		{"message too long", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    message: '{{printf \"%020000d\" 1}}'\n", 6, "longer than 16384 bytes"},
		{"bad severity", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    severity: page\n", 6, `unknown value "page"`},
		{"for zero", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n    for: 0\n", 6, "at least 1"},
		{"no_data with a threshold", head + "    kpi: no_data\n    window: 1h\n    threshold: {below: 1}\n", 5, "only it, takes"},
		{"duplicate name", head + "    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n  - name: r\n    kpi: ctr\n    window: 1h\n    threshold: {below: 1}\n", 6, "duplicate name"},
		{"model on ctr", head + "    kpi: ctr\n    model: linear\n    window: 1h\n    threshold: {below: 1}\n", 2, "model applies"},
		{"unknown model", head + "    kpi: roas\n    model: lineal\n    window: 1d\n    threshold: {below: 1}\n", 4, "unknown attribution model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules("alerts.yaml", []byte(c.yaml))
			var ce *pipefile.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *pipefile.ConfigError", err)
			}
			if ce.File != "alerts.yaml" || ce.Line != c.line || !strings.Contains(ce.Reason, c.reason) {
				t.Errorf("got %q (line %d), want line %d with %q", err, ce.Line, c.line, c.reason)
			}
		})
	}
}

// TestParseRulesReportsEveryError: every problem of the file comes out at
// once, each at its line; a valid rule between broken ones is no error.
func TestParseRulesReportsEveryError(t *testing.T) {
	src := "rules:\n" +
		"  - name: low-roas\n" +
		"    kpi: roas\n" +
		"    scope: channel\n" +
		"    window: 7d\n" +
		"    every: soon\n" +
		"    threshold: {below: lots}\n" +
		"  - name: low-ctr\n" +
		"    kpi: ctr\n" +
		"    window: 1h\n" +
		"    threshold: {below: 0.01}\n" +
		"  - name: x\n" +
		"    kpi: roaz\n" +
		"colour: red\n"
	_, err := ParseRules("a.yaml", []byte(src))
	want := []string{
		`a.yaml:6: rule "low-roas": every: duration "soon": want e.g. 30d, 2w, 36h or 90m`,
		`a.yaml:7: rule "low-roas": below: "lots" is not a number`,
		`a.yaml:13: rule "x": kpi: unknown value "roaz": want one of spend, impressions, clicks, ctr, conversions, cvr, cpa, cac, revenue, roas, romi, events, no_data, aov, purchase_frequency, repeat_rate`,
		`a.yaml:14: unknown key "colour": want rules`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// TestAlertRulesFromTheShippedFile: every rule of pipelines/alerts.yaml
// is listed, at its line.
func TestAlertRulesFromTheShippedFile(t *testing.T) {
	set, err := LoadRulesFile("../../../pipelines/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := RuleRows(set)
	if len(res.Rows) != len(set.Rules) || res.Rows[0][0] != "ctr-collapse" || res.Rows[0][12] != "below -50% versus previous_window" {
		t.Errorf("rows %v", res.Rows)
	}
}
