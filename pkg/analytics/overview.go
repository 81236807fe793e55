package analytics

import (
	"fmt"
	"time"
)

// OverviewQuery reports the channel KPIs of a range: touchpoints, resolved
// persons, purchases, purchase revenue, spend and ROAS per channel, or per
// UTC day and channel.
type OverviewQuery struct {
	Range Range
	// PurchaseType is the event type of purchases (the attribution
	// settings' conversion type); their revenue is the revenue reported.
	PurchaseType string
	// Channel and Campaign, when set, keep only their touchpoints and spend.
	Channel, Campaign string
	// ByDay splits the result by the UTC day of the event (of the spend).
	ByDay bool
}

// SQL returns the query. Its columns: [day (YYYY-MM-DD),] channel, touchpoints,
// persons (distinct resolved persons with a touchpoint), purchases, revenue
// (currency units, of purchases), spend (currency units) and roas (NULL
// where spend is zero). A channel (or day) with spend and no touchpoints, or
// touchpoints and no spend, appears too. Spend counts the days whose start
// lies in the range, as ROMIQuery does.
func (q OverviewQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	if q.PurchaseType == "" {
		return "", fmt.Errorf("overview: purchase event type is empty")
	}
	filter := ""
	if q.Channel != "" {
		filter += " AND channel = " + quote(q.Channel)
	}
	if q.Campaign != "" {
		filter += " AND campaign = " + quote(q.Campaign)
	}
	keys, eventKeys, spendKeys := "channel", "channel", "channel"
	cols := []column{col("channel"), col("event_type"), col("revenue")}
	if q.ByDay {
		keys, eventKeys, spendKeys = "day, channel", "toString(event_date) AS day, channel", "toString(date) AS day, channel"
		cols = append(cols, column{expr: "toDate(event_time)", name: "event_date"})
	}
	events := resolvedEvents(cols, "event_time >= "+timeLit(q.Range.From)+" AND event_time < "+timeLit(q.Range.To)+filter)
	isPurchase := "event_type = " + quote(q.PurchaseType)
	title := "per channel"
	if q.ByDay {
		title = "per day and channel"
	}
	return fmt.Sprintf(`-- Channel KPIs %[1]s over [%[2]s, %[3]s); spend of the days whose start lies in the range.
SELECT
    %[4]s,
    sum(n_touchpoints) AS touchpoints,
    sum(n_persons) AS persons,
    sum(n_purchases) AS purchases,
    sum(revenue_units) AS revenue,
    sum(spend_units) AS spend,
    if(spend = 0, NULL, revenue / spend) AS roas
FROM
(
    SELECT
        %[5]s,
        count() AS n_touchpoints,
        uniqExact(person) AS n_persons,
        countIf(%[6]s) AS n_purchases,
        toFloat64(sumIf(revenue, %[6]s)) / 1000000 AS revenue_units,
        toFloat64(0) AS spend_units
    FROM %[7]s
    GROUP BY %[4]s
    UNION ALL
    SELECT
        %[11]s,
        toUInt64(0) AS n_touchpoints,
        toUInt64(0) AS n_persons,
        toUInt64(0) AS n_purchases,
        toFloat64(0) AS revenue_units,
        toFloat64(sum(cost)) / 1000000 AS spend_units
    FROM spend FINAL
    WHERE date >= %[8]s AND date < %[9]s%[10]s
    GROUP BY %[4]s
)
GROUP BY %[4]s
ORDER BY %[4]s`,
		title, q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339), // 1-3
		keys, eventKeys, isPurchase, events, // 4-7
		dateLit(ceilDay(q.Range.From)), dateLit(ceilDay(q.Range.To)), filter, spendKeys), nil // 8-11
}
