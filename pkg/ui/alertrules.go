package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/table"
)

// alertRulesName is the API's name of the list of alert rules, the one
// answer of the API that is read from a file rather than from ClickHouse.
const alertRulesName = "alert-rules"

// alertRulesDoc describes the list of alert rules in the index.
var alertRulesDoc = analysisDoc{Name: alertRulesName, Path: "/api/" + alertRulesName,
	Short: "the alert rules of alerts.yaml in the pipelines directory, in file order (read at start; no SQL)"}

// RuleRows returns the rules of set as a result, one row per rule in file
// order: its name, KPI, scope (the groups it measures), filters, windows,
// condition (its kind, and the condition as text), volume floor, for,
// severity, cooldown and the line of alerts.yaml it starts on. A filter that
// keeps everything is empty.
func RuleRows(set *rules.Rules) *table.Result {
	res := &table.Result{Columns: []string{"rule", "description", "kpi", "model", "scope", "channels", "campaigns", "event_types",
		"window", "delay", "every", "condition", "condition_text", "min_volume", "for", "severity", "cooldown", "source"}}
	for _, r := range set.Rules {
		res.Rows = append(res.Rows, []any{r.Name, r.Description, string(r.KPI), string(r.Model), string(r.Scope),
			strings.Join(r.Channels, ","), strings.Join(r.Campaigns, ","), strings.Join(r.EventTypes, ","),
			pipefile.FormatDuration(r.Window), pipefile.FormatDuration(r.Delay), pipefile.FormatDuration(r.Every),
			string(r.Condition.Kind), ConditionText(r.Condition), r.MinVolume, int64(r.For), r.Severity, pipefile.FormatDuration(r.Cooldown),
			fmt.Sprintf("%s:%d", rules.RulesFile, r.Line)})
	}
	return res
}

// ConditionText renders a rule's condition as a line of text, e.g. "below
// -50% versus previous_window" or "z >= 3 (both) against 14 trailing
// windows, season 1d".
func ConditionText(c rules.Condition) string {
	unit := ""
	if c.Kind == rules.Change {
		unit = "%"
	}
	var bounds []string
	if c.Above != nil {
		bounds = append(bounds, "above "+number(*c.Above)+unit)
	}
	if c.Below != nil {
		bounds = append(bounds, "below "+number(*c.Below)+unit)
	}
	switch c.Kind {
	case rules.Threshold:
		return strings.Join(bounds, " or ")
	case rules.Change:
		return strings.Join(bounds, " or ") + " versus " + c.Versus
	case rules.Anomaly:
		text := fmt.Sprintf("z >= %s (%s) against %d trailing windows", number(c.Z), c.Direction, c.Trailing)
		if c.Season != 0 {
			text += ", season " + pipefile.FormatDuration(c.Season)
		}
		return text
	default: // Silence
		return "no events in the window after some in the " + pipefile.FormatDuration(c.Lookback) + " before"
	}
}

// number renders a float as its shortest exact decimal.
func number(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// serveAlertRules answers /api/alert-rules: the rules read at start, as
// JSON or CSV. It takes no parameters but format, and has no SQL.
func (a *API) serveAlertRules(w http.ResponseWriter, query url.Values) {
	for name, vs := range query {
		switch {
		case len(vs) > 1:
			a.fail(w, alertRulesName, http.StatusBadRequest, "%s: given %d times", name, len(vs))
			return
		case name == "sql":
			a.fail(w, alertRulesName, http.StatusBadRequest, "%s has no SQL: the rules are read from %s in the pipelines directory", alertRulesName, rules.RulesFile)
			return
		case name != "format":
			a.fail(w, alertRulesName, http.StatusBadRequest, "unknown parameter %q for %s: want format", name, alertRulesName)
			return
		}
	}
	format, err := formatOf(query)
	if err != nil {
		a.fail(w, alertRulesName, http.StatusBadRequest, "%v", err)
		return
	}
	a.write(w, alertRulesName, format, a.alertRules)
}
