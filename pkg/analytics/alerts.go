package analytics

import "fmt"

// AlertStatesQuery reads every stored state of the alerts service
// (alert_states), as the service loads them to resume.
const AlertStatesQuery = `SELECT rule, channel, campaign, status, streak, incident, pending_since,
    fired_at, resolved_at, evaluated_at, value, currency, defined, outbox, version
FROM alert_states FINAL`

// happened renders a time column of alert_states as text in UTC, or NULL
// for a time that has not happened, which the table stores as the epoch
// (DateTime cannot hold the zero time; ClickHouse 18.16 writes the epoch
// as 0000-00-00 00:00:00, current releases as 1970-01-01 00:00:00).
func happened(column, name string) string {
	return "if(toUInt32(" + column + ") = 0, NULL, toString(" + column + ")) AS " + name
}

// AlertStateQuery is the current state of every alert rule and group that
// ever breached, as the alerts service stored it last: its status (ok,
// pending, firing), the open incident and the times of its last incident,
// times in UTC as text and a time that has not happened as NULL, and the
// last value with its currency (the reporting currency for a money KPI, ”
// for the others). Rule, when set, keeps one rule's.
type AlertStateQuery struct {
	Rule string
}

// SQL renders the query.
func (q AlertStateQuery) SQL() (string, error) {
	filter := ""
	if q.Rule != "" {
		filter = "\nWHERE rule = " + quote(q.Rule)
	}
	return fmt.Sprintf(`-- alert state: the last stored state of each rule and group
SELECT rule, channel, campaign, status, incident,
    %s,
    %s,
    %s,
    %s,
    if(defined = 1, toNullable(value), NULL) AS last_value, currency
FROM alert_states FINAL%s
ORDER BY rule, channel, campaign`, happened("pending_since", "since"), happened("fired_at", "last_fired"),
		happened("resolved_at", "last_resolved"), happened("evaluated_at", "evaluated"), filter), nil
}

// AlertHistoryQuery is the incident history: every notification the
// alerts service sent (an incident firing, then resolved) in the range,
// newest first, each with the currency of its value and reference (the
// reporting currency for a money KPI, ” for the others and for
// notifications stored before touchline stored it). Rule, when set, keeps
// one rule's.
type AlertHistoryQuery struct {
	Range Range
	Rule  string
}

// SQL renders the query.
func (q AlertHistoryQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	filter := ""
	if q.Rule != "" {
		filter = " AND rule = " + quote(q.Rule)
	}
	return fmt.Sprintf(`-- alert history: the notifications sent in the range, newest first
SELECT toString(notified_at) AS sent, status, rule, severity, kpi, channel, campaign,
    value, currency, reference, incident, message
FROM alert_notifications FINAL
WHERE notified_at >= %s AND notified_at < %s%s
ORDER BY notified_at DESC, rule, incident, status`, timeLit(q.Range.From), timeLit(q.Range.To), filter), nil
}
