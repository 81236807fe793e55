package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
)

// TestWebUIAlerts stores alert states and notifications as the alerts
// service does, and drives Chromium over the alerts page: it logs no error,
// its rules table lists the rules of alerts.yaml as /api/alert-rules and
// `touchline query alert-rules` do (and by hand), each with its groups' current states,
// its cards count what was stored (by hand: one firing, one pending, two
// incidents fired and one resolved in the range, a notification before it
// left out), and its tables equal `touchline query alert-state` and
// `alert-history` for the same range and rule, the currency of a money
// KPI's value beside it; the SQL view shows --sql.
func TestWebUIAlerts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := servers(t).Config(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 9, day, hour, minute, 0, 0, time.UTC) }
	store := alerts.NewStore(conn)
	evaluated := at(20, 10, 0)
	if err := store.Save(ctx, []*alerts.State{
		{Rule: "roas_drop", Group: alerts.Group{Channel: "paid_search"}, Status: alerts.StatusFiring, Streak: 3, Incident: "inc-1",
			PendingSince: at(10, 8, 0), FiredAt: at(10, 9, 0), EvaluatedAt: evaluated, Value: 0.8, Defined: true},
		{Rule: "roas_drop", Group: alerts.Group{Channel: "email"}, Status: alerts.StatusPending, Streak: 1, Incident: "inc-3",
			PendingSince: at(20, 9, 55), EvaluatedAt: evaluated, Value: 1.1, Defined: true},
		{Rule: "spend_pacing", Group: alerts.Group{Channel: "display"}, Status: alerts.StatusOK,
			FiredAt: at(5, 12, 0), ResolvedAt: at(6, 12, 0), EvaluatedAt: evaluated, Currency: "EUR"},
	}); err != nil {
		t.Fatal(err)
	}
	notification := func(key, incident, status, rule, channel string, when time.Time, value, reference float64) *rules.Notification {
		return &rules.Notification{Key: key, Incident: incident, Status: status, Rule: rule, KPI: rules.ROAS, Severity: "critical",
			Channel: channel, Value: value, Reference: reference, WindowStart: when.Add(-time.Hour), WindowEnd: when, At: when,
			Message: rule + " " + status + " on " + channel}
	}
	// spend_pacing's values are money, in the reporting currency EUR.
	inEUR := func(n *rules.Notification) *rules.Notification { n.KPI, n.Currency = rules.Spend, "EUR"; return n }
	if err := store.Record(ctx, []*rules.Notification{
		notification("k0", "inc-0", alerts.Firing, "roas_drop", "paid_search", time.Date(2026, 8, 20, 0, 0, 0, 0, time.UTC), 0.5, 2),
		notification("k1", "inc-1", alerts.Firing, "roas_drop", "paid_search", at(10, 9, 0), 0.8, 2),
		inEUR(notification("k2", "inc-2", alerts.Firing, "spend_pacing", "display", at(5, 12, 0), 1500, 1000)),
		inEUR(notification("k3", "inc-2", alerts.Resolved, "spend_pacing", "display", at(6, 12, 0), 900, 1000)),
	}); err != nil {
		t.Fatal(err)
	}
	cfg.Pipelines = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Pipelines, rules.RulesFile), []byte(uiAlertRules), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startUI(ctx, t, cfg)
	b := newBrowser(ctx, t)
	shots := artifacts(t)

	p := b.show(t, base+"/#/alerts?from=2026-09-01&to=2026-09-29", filepath.Join(shots, "alerts.png"))
	for card, want := range map[string]string{"firing": "1", "pending": "1", "fired": "2", "resolved": "1"} {
		if p.Cards[card] != want {
			t.Errorf("card %s shows %q, want %s", card, p.Cards[card], want)
		}
	}
	// The rules, first: as /api/alert-rules and `touchline query
	// alert-rules` list them, with each rule's state joined from the stored
	// states; by hand from uiAlertRules.
	var apiRules []map[string]any
	getJSON(t, base+"/api/alert-rules", &apiRules)
	cliRules := cliRows(ctx, t, cfg, "alert-rules")
	if !reflect.DeepEqual(apiRules, cliRules) {
		t.Errorf("/api/alert-rules answers\n%v\ntouchline query alert-rules prints\n%v", apiRules, cliRules)
	}
	states := []string{"1 firing, 1 pending", "1 ok", "not evaluated yet"}
	for i := range min(len(cliRules), len(states)) {
		cliRules[i]["state"] = states[i]
	}
	sameRows(t, "alert rules", p.Tables["alert-rules"], cliRules)
	var shownRules []string
	for _, r := range p.Tables["alert-rules"] {
		shownRules = append(shownRules, strings.Join([]string{r["rule"], r["state"], r["kpi"], r["scope"], r["channels"], r["window"], r["every"],
			r["condition"], r["condition_text"], r["for"], r["severity"], r["cooldown"], r["source"]}, "|"))
	}
	if want := []string{
		"roas_drop|1 firing, 1 pending|roas|channel||1d|1m0s|threshold|below 1.5|3|critical|0s|alerts.yaml:2",
		"spend_pacing|1 ok|spend|channel|display,paid_search|1d|1m0s|change|above 50% versus week_ago|1|warning|1d|alerts.yaml:9",
		"ctr_collapse|not evaluated yet|ctr|all||1h0m0s|5m0s|threshold|below 0.01|1|warning|0s|alerts.yaml:16",
	}; strings.Join(shownRules, "\n") != strings.Join(want, "\n") {
		t.Errorf("alert rules shown:\n%s\nwant:\n%s", strings.Join(shownRules, "\n"), strings.Join(want, "\n"))
	}
	state := cliRows(ctx, t, cfg, "alert-state")
	sameRows(t, "alert state", p.Tables["alert-state"], state)
	history := cliRows(ctx, t, cfg, append([]string{"alert-history"}, uiRange...)...)
	sameRows(t, "alert history", p.Tables["alert-history"], history)
	// By hand: the states by rule and channel, never-happened times and an
	// undefined value as dashes; the notifications of the range newest first.
	if s := p.Tables["alert-state"]; len(s) != 3 || s[0]["channel"] != "email" || s[0]["status"] != "pending" || s[0]["since"] != "2026-09-20 09:55:00" ||
		s[0]["last_fired"] != "—" || s[0]["last_value"] != "1.10" || s[0]["currency"] != "" || s[2]["last_value"] != "—" || s[2]["currency"] != "EUR" || s[2]["last_resolved"] != "2026-09-06 12:00:00" {
		t.Errorf("alert state: %v", s)
	}
	var sent []string
	for _, r := range p.Tables["alert-history"] {
		sent = append(sent, r["sent"]+" "+r["status"]+" "+r["value"]+" "+r["currency"])
	}
	if want := "[2026-09-10 09:00:00 firing 0.80  2026-09-06 12:00:00 resolved 900.00 EUR 2026-09-05 12:00:00 firing 1,500.00 EUR]"; len(sent) != 3 || fmt.Sprint(sent) != want {
		t.Errorf("alert history: %v, want %s", sent, want)
	}
	if p.Charts != 1 {
		t.Errorf("%d charts drawn, want the notifications per day", p.Charts)
	}
	b.sqlView(ctx, t, cfg, [][]string{{"alert-state"}, append([]string{"alert-history"}, uiRange...)})

	// One rule's.
	p = b.show(t, base+"/#/alerts?from=2026-09-01&to=2026-09-29&rule=roas_drop", filepath.Join(shots, "alerts-rule.png"))
	sameRows(t, "alert state of roas_drop", p.Tables["alert-state"], cliRows(ctx, t, cfg, "alert-state", "--rule", "roas_drop"))
	sameRows(t, "alert history of roas_drop", p.Tables["alert-history"], cliRows(ctx, t, cfg, append([]string{"alert-history", "--rule", "roas_drop"}, uiRange...)...))
	if r := p.Tables["alert-rules"]; len(r) != 1 || r[0]["rule"] != "roas_drop" || r[0]["state"] != "1 firing, 1 pending" {
		t.Errorf("roas_drop: rules shown %v, want its own alone", r)
	}
	if len(p.Tables["alert-state"]) != 2 || len(p.Tables["alert-history"]) != 1 {
		t.Errorf("roas_drop: %d states and %d notifications, want 2 and 1", len(p.Tables["alert-state"]), len(p.Tables["alert-history"]))
	}
}

// uiAlertRules are the rules of TestWebUIAlerts: the first two have stored
// states, the third none.
const uiAlertRules = `rules:
  - name: roas_drop
    kpi: roas
    scope: channel
    window: 1d
    threshold: {below: 1.5}
    for: 3
    severity: critical
  - name: spend_pacing
    kpi: spend
    scope: channel
    where: {channel: [display, paid_search]}
    window: 1d
    change: {versus: week_ago, above: 50}
    cooldown: 1d
  - name: ctr_collapse
    kpi: ctr
    window: 1h
    every: 5m
    threshold: {below: 0.01}
`
