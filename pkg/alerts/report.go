package alerts

import (
	"time"

	"github.com/touchline-io/touchline/pkg/table"
)

// OutcomesResult renders outcomes as a table: one row per rule and group,
// with what a notification would say ("" when none would be sent).
func OutcomesResult(outcomes []Outcome) *table.Result {
	res := &table.Result{Columns: []string{"rule", "kpi", "channel", "campaign", "window_start", "window_end",
		"value", "currency", "volume", "reference", "score", "breach", "before", "after", "streak", "sends", "message"}}
	for _, o := range outcomes {
		ob := o.Observation
		var value any
		if ob.Defined {
			value = ob.Value
		}
		sends, message := "", ""
		if n := o.Notification; n != nil {
			sends, message = n.Status, n.Message
		}
		res.Rows = append(res.Rows, []any{o.Rule.Name, string(o.Rule.KPI), ob.Group.Channel, ob.Group.Campaign,
			o.Window.From, o.Window.To, value, ob.Currency, ob.Volume, ob.Reference, ob.Score, boolValue(ob.Breach),
			string(o.Before), string(o.State.Status), int64(o.State.Streak), sends, message})
	}
	return res
}

// StatesResult renders stored states as a table; unless all, only open
// incidents (pending and firing) and states with undelivered notifications.
func StatesResult(states []*State, all bool) *table.Result {
	res := &table.Result{Columns: []string{"rule", "channel", "campaign", "status", "incident", "since",
		"fired_at", "resolved_at", "evaluated_at", "value", "undelivered"}}
	for _, s := range states {
		if !all && s.Status == StatusOK && len(s.Outbox) == 0 {
			continue
		}
		var value any
		if s.Defined {
			value = s.Value
		}
		res.Rows = append(res.Rows, []any{s.Rule, s.Group.Channel, s.Group.Campaign, string(s.Status), s.Incident,
			timeValue(s.PendingSince), timeValue(s.FiredAt), timeValue(s.ResolvedAt), timeValue(s.EvaluatedAt),
			value, int64(deliveries(s.Outbox))})
	}
	return res
}

func boolValue(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// timeValue renders never (zero or the epoch) as NULL.
func timeValue(t time.Time) any {
	if t.Unix() <= 0 {
		return nil
	}
	return t.UTC()
}
