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
	// Currency, when it has a code, converts revenue and spend into it:
	// a purchase's at the rate of its UTC day, spend at its day's.
	Currency Currency
}

// SQL returns the query. Its columns: [day (YYYY-MM-DD),] channel, touchpoints,
// persons (distinct resolved persons with a touchpoint), purchases, revenue
// (currency units, of purchases), spend (currency units) and roas (NULL
// where spend is zero). A channel (or day) with spend and no touchpoints, or
// touchpoints and no spend, appears too. Spend counts the days whose start
// lies in the range, as ROMIQuery does. With a reporting currency a
// currency column follows channel, revenue and spend are converted (money
// without a rate left out), roas is also NULL where any of the row's money
// had no rate, and unconverted_purchases (purchases whose revenue had no
// rate) and unconverted_spend (spend rows without one) end the row.
func (q OverviewQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	if err := q.Currency.Validate(); err != nil {
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
	where := "event_time >= " + timeLit(q.Range.From) + " AND event_time < " + timeLit(q.Range.To) + filter
	events := resolvedEvents(cols, where)
	isPurchase := "event_type = " + quote(q.PurchaseType)
	spendDays := Range{From: ceilDay(q.Range.From), To: ceilDay(q.Range.To)}
	spendFrom := "spend FINAL\n    WHERE date >= " + dateLit(spendDays.From) + " AND date < " + dateLit(spendDays.To) + filter
	revenue, cost, guard := "toFloat64(sumIf(revenue, "+isPurchase+"))", "toFloat64(sum(cost))", ""
	if q.Currency.Code != "" {
		events = q.Currency.convertedEvents(cols, where, q.Range)
		spendCols := "channel, campaign"
		if q.ByDay {
			spendCols += ", date"
		}
		spendFrom = q.Currency.converted(spendCols, `(
        SELECT `+spendCols+`, cost AS amount, currency, date AS rate_day
        FROM `+spendFrom+`
    )`, spendDays)
		revenue, cost = "sumIf(money, "+isPurchase+")", "sum(money)"
		guard = "unconverted_purchases > 0 OR unconverted_spend > 0 OR "
	}
	c := q.Currency
	title := "per channel"
	if q.ByDay {
		title = "per day and channel"
	}
	return fmt.Sprintf(`-- Channel KPIs %[1]s over [%[2]s, %[3]s); spend of the days whose start lies in the range.
SELECT
    %[4]s,%[10]s
    sum(n_touchpoints) AS touchpoints,
    sum(n_persons) AS persons,
    sum(n_purchases) AS purchases,
    sum(revenue_units) AS revenue,
    sum(spend_units) AS spend,
    if(%[13]sspend = 0, NULL, revenue / spend) AS roas%[14]s
FROM
(
    SELECT
        %[5]s,
        count() AS n_touchpoints,
        uniqExact(person) AS n_persons,
        countIf(%[6]s) AS n_purchases,
        %[11]s / 1000000 AS revenue_units,
        toFloat64(0) AS spend_units%[15]s
    FROM %[7]s
    GROUP BY %[4]s
    UNION ALL
    SELECT
        %[9]s,
        toUInt64(0) AS n_touchpoints,
        toUInt64(0) AS n_persons,
        toUInt64(0) AS n_purchases,
        toFloat64(0) AS revenue_units,
        %[12]s / 1000000 AS spend_units%[16]s
    FROM %[8]s
    GROUP BY %[4]s
)
GROUP BY %[4]s
ORDER BY %[4]s`,
		title, q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339), // 1-3
		keys, eventKeys, isPurchase, events, // 4-7
		spendFrom, spendKeys, // 8-9
		c.column(), revenue, cost, guard, // 10-13
		c.unconvertedColumn("unconverted_purchases", "sum(purchases_unconverted)")+c.unconvertedColumn("unconverted_spend", "sum(spend_unconverted)"),   // 14
		c.unconvertedColumn("purchases_unconverted", "countIf("+isPurchase+" AND unconverted)")+c.unconvertedColumn("spend_unconverted", "toUInt64(0)"), // 15
		c.unconvertedColumn("purchases_unconverted", "toUInt64(0)")+c.unconvertedColumn("spend_unconverted", "toUInt64(sum(unconverted))")), nil         // 16
}
