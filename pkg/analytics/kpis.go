package analytics

import "strings"

// The event types counted as impressions and clicks, as the channel_kpis
// view counts them (schemas/clickhouse/0003_channel_kpis.sql).
var (
	impressionTypes = []string{"impression"}
	clickTypes      = []string{"click", "email_click", "sms_click"}
)

// TouchpointCountsQuery counts the touchpoints of Range per channel and
// campaign: the base of the touchpoint KPIs of alert rules.
type TouchpointCountsQuery struct {
	Range Range
	// ConversionType is the event type of conversions (and their revenue).
	ConversionType string
	// EventTypes, when set, keeps only these event types.
	EventTypes []string
}

// SQL returns the query. Its columns: channel, campaign, impressions,
// clicks, conversions (UInt64), revenue_units (currency units), events
// (UInt64).
func (q TouchpointCountsQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	where := "event_time >= " + timeLit(q.Range.From) + " AND event_time < " + timeLit(q.Range.To)
	if len(q.EventTypes) > 0 {
		where += " AND event_type IN (" + quoteList(q.EventTypes) + ")"
	}
	conversion := "event_type = " + quote(q.ConversionType)
	return `SELECT
    channel,
    campaign,
    countIf(event_type IN (` + quoteList(impressionTypes) + `)) AS impressions,
    countIf(event_type IN (` + quoteList(clickTypes) + `)) AS clicks,
    countIf(` + conversion + `) AS conversions,
    toFloat64(sumIf(revenue, ` + conversion + `)) / 1000000 AS revenue_units,
    count() AS events
FROM touchpoints FINAL
WHERE ` + where + `
GROUP BY channel, campaign
ORDER BY channel, campaign`, nil
}

// SpendQuery sums the restated spend of Range per channel and campaign:
// the days whose start lies in the range, as ROMIQuery counts them.
type SpendQuery struct {
	Range Range
}

// SQL returns the query. Its columns: channel, campaign, spend_units
// (currency units).
func (q SpendQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	return strings.TrimSpace(`
SELECT channel, campaign, toFloat64(sum(cost)) / 1000000 AS spend_units
FROM spend FINAL
WHERE date >= ` + dateLit(ceilDay(q.Range.From)) + ` AND date < ` + dateLit(ceilDay(q.Range.To)) + `
GROUP BY channel, campaign
ORDER BY channel, campaign`), nil
}
