package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/table"
)

// RuleRows returns the rules of set as a result (the answer of
// /api/alert-rules and `touchline query alert-rules`), one row per rule in file
// order: its name, KPI, scope (the groups it measures), filters, windows,
// condition (its kind, and the condition as text), volume floor, for,
// severity, cooldown and the line of alerts.yaml it starts on. A filter that
// keeps everything is empty.
func RuleRows(set *Rules) *table.Result {
	res := &table.Result{Columns: []string{"rule", "description", "kpi", "model", "scope", "channels", "campaigns", "event_types",
		"window", "delay", "every", "condition", "condition_text", "min_volume", "for", "severity", "cooldown", "source"}}
	for _, r := range set.Rules {
		res.Rows = append(res.Rows, []any{r.Name, r.Description, string(r.KPI), string(r.Model), string(r.Scope),
			strings.Join(r.Channels, ","), strings.Join(r.Campaigns, ","), strings.Join(r.EventTypes, ","),
			pipefile.FormatDuration(r.Window), pipefile.FormatDuration(r.Delay), pipefile.FormatDuration(r.Every),
			string(r.Condition.Kind), ConditionText(r.Condition), r.MinVolume, int64(r.For), r.Severity, pipefile.FormatDuration(r.Cooldown),
			fmt.Sprintf("%s:%d", RulesFile, r.Line)})
	}
	return res
}

// ConditionText renders a rule's condition as a line of text, e.g. "below
// -50% versus previous_window" or "z >= 3 (both) against 14 trailing
// windows, season 1d".
func ConditionText(c Condition) string {
	unit := ""
	if c.Kind == Change {
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
	case Threshold:
		return strings.Join(bounds, " or ")
	case Change:
		return strings.Join(bounds, " or ") + " versus " + c.Versus
	case Anomaly:
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
