package analytics

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
	// Currency, when it has a code, converts the conversions' revenue into
	// it at the rate of each conversion's UTC day.
	Currency Currency
}

// SQL returns the query. Its columns: channel, campaign, impressions,
// clicks, conversions (UInt64), revenue_units (currency units), events
// (UInt64). With a reporting currency a currency column follows campaign,
// revenue_units is converted (conversions without a rate left out) and
// unconverted_conversions (UInt64), the conversions whose revenue had no
// rate, ends the row.
func (q TouchpointCountsQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	if err := q.Currency.Validate(); err != nil {
		return "", err
	}
	where := "event_time >= " + timeLit(q.Range.From) + " AND event_time < " + timeLit(q.Range.To)
	if len(q.EventTypes) > 0 {
		where += " AND event_type IN (" + quoteList(q.EventTypes) + ")"
	}
	conversion := "event_type = " + quote(q.ConversionType)
	from, revenue := "touchpoints FINAL\nWHERE "+where, "toFloat64(sumIf(revenue, "+conversion+"))"
	if q.Currency.Code != "" {
		// The conversions' revenue at the rate of each one's UTC day.
		from = q.Currency.converted("channel, campaign, event_type", `(
        SELECT channel, campaign, event_type, revenue AS amount, currency, toDate(event_time) AS rate_day
        FROM touchpoints FINAL
        WHERE `+where+`
    )`, q.Range)
		revenue = "sumIf(money, " + conversion + ")"
	}
	return `SELECT
    channel,
    campaign,` + q.Currency.column() + `
    countIf(event_type IN (` + quoteList(impressionTypes) + `)) AS impressions,
    countIf(event_type IN (` + quoteList(clickTypes) + `)) AS clicks,
    countIf(` + conversion + `) AS conversions,
    ` + revenue + ` / 1000000 AS revenue_units,
    count() AS events` + q.Currency.unconvertedColumn("unconverted_conversions", "countIf("+conversion+" AND unconverted)") + `
FROM ` + from + `
GROUP BY channel, campaign
ORDER BY channel, campaign`, nil
}

// SpendQuery sums the restated spend of Range per channel and campaign:
// the days whose start lies in the range, as ROMIQuery counts them.
type SpendQuery struct {
	Range Range
	// Currency, when it has a code, converts each day's spend into it at
	// that day's rate.
	Currency Currency
}

// SQL returns the query. Its columns: channel, campaign, spend_units
// (currency units). With a reporting currency they are channel, campaign,
// currency, spend_units (converted, rows without a rate left out) and
// unconverted_spend (UInt64), the spend rows without a rate.
func (q SpendQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	if err := q.Currency.Validate(); err != nil {
		return "", err
	}
	days := Range{From: ceilDay(q.Range.From), To: ceilDay(q.Range.To)}
	where := `date >= ` + dateLit(days.From) + ` AND date < ` + dateLit(days.To)
	from, cost := "spend FINAL\nWHERE "+where, "toFloat64(sum(cost))"
	if q.Currency.Code != "" {
		from = q.Currency.converted("channel, campaign", `(
        SELECT channel, campaign, cost AS amount, currency, date AS rate_day
        FROM spend FINAL
        WHERE `+where+`
    )`, days)
		cost = "sum(money)"
	}
	return `SELECT channel, campaign,` + q.Currency.column() + ` ` + cost + ` / 1000000 AS spend_units` +
		q.Currency.unconvertedColumn("unconverted_spend", "toUInt64(sum(unconverted))") + `
FROM ` + from + `
GROUP BY channel, campaign
ORDER BY channel, campaign`, nil
}
