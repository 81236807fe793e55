package ui

import (
	"net/http"
	"net/url"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
)

// alertRulesName is the API's name of the list of alert rules, the one
// answer of the API that is read from a file rather than from ClickHouse.
const alertRulesName = "alert-rules"

// alertRulesDoc describes the list of alert rules in the index.
var alertRulesDoc = analysisDoc{Name: alertRulesName, Path: "/api/" + alertRulesName,
	Short: "the alert rules of alerts.yaml in the pipelines directory, in file order (read at start; no SQL)"}

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
