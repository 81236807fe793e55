package alerts

import (
	"slices"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
)

// TestIncidentLifecycle walks one rule and group through pending, firing,
// resolved, a breach within the cooldown, and the next incident.
func TestIncidentLifecycle(t *testing.T) {
	r := &rules.Rule{Name: "ctr", KPI: rules.CTR, For: 3, Cooldown: time.Hour, Severity: "critical"}
	r.Message, _ = rules.ParseMessage(rules.DefaultMessage)
	s := &State{Rule: r.Name, Group: Group{Channel: "email"}, Status: StatusOK}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	step := func(i int, breach bool) *rules.Notification {
		return advance(r, s, Observation{Group: s.Group, Value: 0.01, Defined: true, Breach: breach}, t0.Add(time.Duration(i)*10*time.Minute), windowsAtZero(r))
	}
	var sent []*rules.Notification
	for i, breach := range []bool{true, true, true, true, false, true, true, true, true, true, true, true} {
		if n := step(i, breach); n != nil {
			sent = append(sent, n)
			t.Logf("step %d: %s %s", i, n.Status, n.Key)
		}
		if i == 1 && s.Status != StatusPending {
			t.Fatalf("after two breaches: %s, want pending", s.Status)
		}
	}
	// Fires at the third breach (step 2), resolves at step 4; breaches
	// again from step 5 but the cooldown (until step 4 + 1h = step 10)
	// holds it pending; fires at step 10.
	if len(sent) != 3 || sent[0].Status != Firing || sent[1].Status != Resolved || sent[2].Status != Firing {
		t.Fatalf("sent %d notifications: %+v", len(sent), sent)
	}
	if !sent[0].At.Equal(t0.Add(20*time.Minute)) || !sent[1].At.Equal(t0.Add(40*time.Minute)) || !sent[2].At.Equal(t0.Add(100*time.Minute)) {
		t.Errorf("times %v %v %v", sent[0].At, sent[1].At, sent[2].At)
	}
	if sent[0].Incident != sent[1].Incident || sent[2].Incident == sent[0].Incident || sent[0].Key == sent[1].Key {
		t.Errorf("incidents %s %s %s", sent[0].Key, sent[1].Key, sent[2].Key)
	}
	if sent[0].Message != "ctr firing: ctr of email is 0.01" {
		t.Errorf("message %q", sent[0].Message)
	}
}

func TestPendingIncidentClearsSilently(t *testing.T) {
	r := &rules.Rule{Name: "x", For: 2}
	r.Message, _ = rules.ParseMessage(rules.DefaultMessage)
	s := &State{Status: StatusOK}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if n := advance(r, s, Observation{Breach: true, Defined: true}, at, windowsAtZero(r)); n != nil || s.Status != StatusPending {
		t.Fatalf("first breach: %v %s", n, s.Status)
	}
	if n := advance(r, s, Observation{Defined: true}, at.Add(time.Minute), windowsAtZero(r)); n != nil || s.Status != StatusOK || s.Incident != "" {
		t.Fatalf("clear: %v %+v", n, s)
	}
}

// windowsAtZero is a window for tests that do not look at it.
func windowsAtZero(r *rules.Rule) analytics.Range {
	w, _ := ruleWindows(r, time.Time{})
	return w
}

func TestMessageRangesOverLabels(t *testing.T) {
	rs, err := rules.ParseRules("a.yaml", []byte("rules:\n  - name: x\n    kpi: clicks\n    window: 1h\n    threshold: {below: 5}\n"+
		"    labels: {team: growth, tier: \"1\"}\n    message: '{{.Rule}}{{range $k, $v := .Labels}} {{$k}}={{$v}}{{end}}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Rules[0]
	current, _ := ruleWindows(r, time.Now())
	n := notificationOf(r, &State{Incident: "i"}, Observation{}, time.Now(), current, Firing)
	if n.Message != "x team=growth tier=1" {
		t.Errorf("message %q, want the labels in order", n.Message)
	}
}

// TestNotificationStatesItsCurrency: a money KPI's notification carries the
// reporting currency its value is in, for sinks and message templates.
func TestNotificationStatesItsCurrency(t *testing.T) {
	rs, err := rules.ParseRules("a.yaml", []byte("rules:\n  - name: r\n    kpi: revenue\n    window: 1d\n    threshold: {above: 5}\n"+
		"    message: '{{.KPI}} {{.Value}} {{.Currency}}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Rules[0]
	n := notificationOf(r, &State{Incident: "i"}, Observation{Value: 240, Currency: "USD"}, time.Now(), windowsAtZero(r), Firing)
	if n.Currency != "USD" || n.Message != "revenue 240 USD" {
		t.Errorf("currency %q, message %q; want USD and \"revenue 240 USD\"", n.Currency, n.Message)
	}
	res := OutcomesResult([]Outcome{{Rule: r, Observation: Observation{Value: 240, Defined: true, Currency: "USD"}}})
	if i := slices.Index(res.Columns, "currency"); i != slices.Index(res.Columns, "value")+1 || res.Rows[0][i] != "USD" {
		t.Errorf("alerts eval columns %v, row %v: want the currency after the value", res.Columns, res.Rows[0])
	}
	if v := slackMessage(n)["attachments"].([]map[string]any)[0]["fields"].([]map[string]any)[1]["value"]; v != "240 USD" {
		t.Errorf("slack value field %v, want 240 USD", v)
	}
}
