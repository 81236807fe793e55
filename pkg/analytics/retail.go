package analytics

import (
	"fmt"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// RefundType is the event type of refunds. A refund nets its revenue (the
// amount refunded) from the order whose order_id it carries.
const RefundType = "refund"

// Groupings of the retail KPIs.
const (
	// KPIsTotal reports one row for every customer.
	KPIsTotal = ""
	// KPIsByChannel groups customers by their acquisition channel.
	KPIsByChannel = "channel"
	// KPIsByCampaign groups customers by the channel and campaign of their
	// acquisition touch.
	KPIsByCampaign = "campaign"
	// KPIsByCohort groups customers by the month of their first purchase.
	KPIsByCohort = "cohort"
)

// RetailKPIsQuery measures the retail KPIs of the orders (purchases) in
// Range: orders, customers, revenue net of refunds, average order value,
// purchase frequency, repeat-purchase rate, time between purchases and a
// projected customer lifetime value (docs/analytics.md defines each).
//
// A customer's acquisition channel and campaign are those of their oldest
// touch (Attribution.TouchTypes) before their first purchase ever, or
// (none); their cohort is the UTC month of that first purchase. Both are
// taken from every event before Range.To, so a customer whose orders span
// several months stays in one cohort.
type RetailKPIsQuery struct {
	Range       Range
	Attribution Attribution
	// By is KPIsTotal, KPIsByChannel, KPIsByCampaign or KPIsByCohort.
	By string
	// Currency, when it has a code, converts orders and refunds into it at
	// the rate of each one's UTC day.
	Currency Currency
	// Model, when set (a rule-based model of Models), credits each order,
	// its revenue and its refunds to the channels (and campaigns) of the
	// touches in its lookback window by the model's shares, as
	// AttributionQuery does; By must then be KPIsByChannel or
	// KPIsByCampaign. The customers' KPIs stay by acquisition channel.
	// Empty (the default) groups customers and all their orders by
	// acquisition.
	Model Model
}

// SQL returns the query. Its columns: the group's keys (none; channel;
// channel, campaign; or cohort, the month's first day), [currency,]
// customers, orders, revenue (currency units, gross), refunds, net_revenue,
// aov, purchase_frequency, repeat_rate, avg_days_between_orders (NULL
// without a repeat order), expected_lifetime and projected_clv (NULL when
// every customer repeated). With a reporting currency, unconverted_orders
// ends the row: the orders of which an amount had no rate, left out of the
// money columns and of aov's orders.
func (q RetailKPIsQuery) SQL() (string, error) {
	if err := q.validate(); err != nil {
		return "", err
	}
	keys, outKeys, groupKeys := q.keys()
	if q.Model != "" {
		return q.creditedSQL(keys, outKeys), nil
	}
	return fmt.Sprintf(`%[1]s
-- acquisition: the oldest touch before the first purchase ever, cohort: its month.
SELECT%[2]s%[3]s
    count() AS customers,
    sum(person_orders) AS orders,
    sum(person_revenue) / 1000000 AS revenue,
    sum(person_refunds) / 1000000 AS refunds,
    revenue - refunds AS net_revenue,
    if(sum(person_unconverted) = orders, NULL, net_revenue / (orders - sum(person_unconverted))) AS aov,
    orders / customers AS purchase_frequency,
    countIf(person_orders >= 2) / customers AS repeat_rate,
    if(sum(person_orders) = customers, NULL, sum(person_span_ms) / (orders - customers) / 86400000) AS avg_days_between_orders,
    if(repeat_rate = 1, NULL, 1 / (1 - repeat_rate)) AS expected_lifetime,
    aov * purchase_frequency * expected_lifetime AS projected_clv%[4]s
FROM
%[5]s
GROUP BY %[6]s
ORDER BY %[7]s`,
		q.header(), outKeys, q.Currency.column(), // 1-3
		q.Currency.unconvertedColumn("unconverted_orders", "sum(person_unconverted)"), // 4
		q.customerRows(keys), groupKeys, orderBy(q.By)), nil // 5-7
}

// header renders the comment that opens the query.
func (q RetailKPIsQuery) header() string {
	return fmt.Sprintf("-- Retail KPIs of the orders (%s) in [%s, %s), refunds (%s) netted by order_id;",
		q.Attribution.ConversionType, q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339), RefundType)
}

// customerRows renders the subquery with one row per customer and group
// of keys: person_orders, person_span_ms (from the first to the last
// order of the range), person_revenue and person_refunds (micros, of the
// orders with every amount converted) and person_unconverted (orders with
// an amount without a rate).
func (q RetailKPIsQuery) customerRows(keys string) string {
	purchase := quote(q.Attribution.ConversionType)
	inRange := "event_time >= " + timeLit(q.Range.From)
	columns := []column{
		{expr: eventMillis, name: "at_ms"},
		col("event_time"),
		col("order_id"),
		col("channel"),
		col("campaign"),
		col("revenue"),
		{expr: "event_type = " + purchase, name: "is_purchase"},
		{expr: "event_type = " + purchase + " AND " + inRange, name: "is_order"},
		{expr: "event_type IN (" + quoteList(q.Attribution.TouchTypes) + ")", name: "is_touch"},
	}
	where := "event_time < " + timeLit(q.Range.To) +
		" AND event_type IN (" + quoteList(append([]string{q.Attribution.ConversionType}, q.Attribution.TouchTypes...)) + ")"
	events := resolvedEvents(columns, where)
	order := "(at_ms, order_id, toFloat64(revenue), toUInt8(0))"
	if q.Currency.Code != "" {
		events = q.Currency.convertedEvents(columns, where, q.Range)
		order = "(at_ms, order_id, money, unconverted)"
	}
	return fmt.Sprintf(`(
    -- per customer: their orders of the range, net of refunds
    SELECT
        %[1]s,
        person,
        count() AS person_orders,
        max(order_ms) - min(order_ms) AS person_span_ms,
        sumIf(order_amount, order_amount_unconverted + refund_unconverted = 0) AS person_revenue,
        sumIf(refunded, order_amount_unconverted + refund_unconverted = 0) AS person_refunds,
        countIf(order_amount_unconverted + refund_unconverted != 0) AS person_unconverted
    FROM
    (
        SELECT
            person, acquisition_channel, acquisition_campaign, cohort_month,
            tupleElement(placed, 1) AS order_ms,
            tupleElement(placed, 2) AS order_id,
            tupleElement(placed, 3) AS order_amount,
            tupleElement(placed, 4) AS order_amount_unconverted
        FROM
        (
            -- per resolved person: the first purchase ever, the acquiring
            -- touch and the orders of the range as (ms, order id, amount,
            -- unconverted)
            SELECT
                person,
                minIf(at_ms, is_purchase) AS first_purchase_ms,
                groupArrayIf(%[2]s, is_order) AS placed_orders,
                %[3]s,
                toString(toStartOfMonth(minIf(event_time, is_purchase))) AS cohort_month
            FROM %[4]s
            GROUP BY person
            HAVING notEmpty(placed_orders)
        )
        ARRAY JOIN placed_orders AS placed
    ) AS orders_of_range
    ANY LEFT JOIN %[5]s AS refunds_by_order USING order_id
    GROUP BY %[1]s, person
)`, keys, order, acquisition, events, q.refunds())
}

// refunds renders the subquery of the refunds of the range per order id:
// order_id, refunded (micros, converted into the reporting currency when
// there is one) and refund_unconverted (1 when an amount had no rate).
func (q RetailKPIsQuery) refunds() string {
	refundWhere := "event_type = " + quote(RefundType) + " AND order_id != '' AND event_time >= " + timeLit(q.Range.From) +
		" AND event_time < " + timeLit(q.Range.To)
	if q.Currency.Code == "" {
		return `(
            SELECT order_id, toFloat64(sum(revenue)) AS refunded, toUInt8(0) AS refund_unconverted
            FROM touchpoints FINAL
            WHERE ` + refundWhere + `
            GROUP BY order_id
        )`
	}
	return `(
            SELECT order_id, sum(money) AS refunded, max(unconverted) AS refund_unconverted
            FROM ` + q.Currency.converted("order_id", `(
                SELECT order_id, revenue AS amount, currency, toDate(event_time) AS rate_day
                FROM touchpoints FINAL
                WHERE `+refundWhere+`
            )`, q.Range) + `
            GROUP BY order_id
        )`
}

// creditedSQL returns the query under q.Model: the orders and their money
// credited to channels (and campaigns) by the model's shares, the
// customers' KPIs by acquisition channel (and campaign). Both halves are
// summed per group from a UNION ALL, as ROMIQuery sets spend against
// revenue, so a group with only credit or only customers has a row.
func (q RetailKPIsQuery) creditedSQL(keys, outKeys string) string {
	credits := AttributionQuery{Range: q.Range, Attribution: q.Attribution, ByCampaign: q.By == KPIsByCampaign, Currency: q.Currency}
	credits.Attribution.Model = q.Model
	groups := groupKeys(credits.ByCampaign)
	orderUnconverted := "toUInt8(0)"
	if q.Currency.Code != "" {
		orderUnconverted = "conversion_unconverted"
	}
	const zeros = `toFloat64(0) AS group_customers,
        toFloat64(0) AS acquired_orders,
        toFloat64(0) AS acquired_span_ms,
        toFloat64(0) AS repeaters,
        toFloat64(0) AS acquired_net_micros,
        toFloat64(0) AS acquired_converted_orders`
	return fmt.Sprintf(`%[1]s
-- orders and revenue credited to channels by the %[2]s model (touches within %[3]s
-- before each order); customers by acquisition: their oldest touch before their first purchase ever.
SELECT%[4]s%[5]s
    sum(group_customers) AS customers,
    sum(credited_orders) AS orders,
    sum(credited_revenue) / 1000000 AS revenue,
    sum(credited_refunds) / 1000000 AS refunds,
    revenue - refunds AS net_revenue,
    if(sum(credited_converted_orders) = 0, NULL, net_revenue / sum(credited_converted_orders)) AS aov,
    if(customers = 0, NULL, sum(acquired_orders) / customers) AS purchase_frequency,
    if(customers = 0, NULL, sum(repeaters) / customers) AS repeat_rate,
    if(sum(acquired_orders) = customers, NULL, sum(acquired_span_ms) / (sum(acquired_orders) - customers) / 86400000) AS avg_days_between_orders,
    if(customers = 0 OR repeat_rate = 1, NULL, 1 / (1 - repeat_rate)) AS expected_lifetime,
    if(sum(acquired_converted_orders) = 0, NULL, sum(acquired_net_micros) / 1000000 / sum(acquired_converted_orders)) * purchase_frequency * expected_lifetime AS projected_clv%[6]s
FROM
(
    -- the orders' credit per group
    SELECT
        %[7]s,
        %[8]s,
        sum(credit) AS credited_orders,
        sumIf(credit * conversion_revenue, %[9]s + refund_unconverted = 0) AS credited_revenue,
        sumIf(credit * refunded, %[9]s + refund_unconverted = 0) AS credited_refunds,
        sumIf(credit, %[9]s + refund_unconverted = 0) AS credited_converted_orders,
        sumIf(credit, %[9]s + refund_unconverted != 0) AS credited_unconverted
    FROM %[10]s AS credited_touches
    ANY LEFT JOIN %[11]s AS refunds_by_order USING order_id
    GROUP BY %[7]s
    UNION ALL
    -- the customers per acquisition group
    SELECT%[12]s
        toFloat64(count()) AS group_customers,
        toFloat64(sum(person_orders)) AS acquired_orders,
        toFloat64(sum(person_span_ms)) AS acquired_span_ms,
        toFloat64(countIf(person_orders >= 2)) AS repeaters,
        toFloat64(sum(person_revenue) - sum(person_refunds)) AS acquired_net_micros,
        toFloat64(sum(person_orders) - sum(person_unconverted)) AS acquired_converted_orders,
        toFloat64(0) AS credited_orders,
        toFloat64(0) AS credited_revenue,
        toFloat64(0) AS credited_refunds,
        toFloat64(0) AS credited_converted_orders,
        toFloat64(0) AS credited_unconverted
    FROM
%[13]s
    GROUP BY %[14]s
)
GROUP BY %[7]s
ORDER BY %[15]s`,
		q.header(), q.Model, pipefile.FormatDuration(q.Attribution.Lookback), // 1-3
		"\n    "+groups+",", q.Currency.column(), // 4-5
		q.Currency.unconvertedColumn("unconverted_orders", "sum(credited_unconverted)"), // 6
		groups, zeros, orderUnconverted, credits.creditRows(true), q.refunds(), // 7-11
		outKeys, q.customerRows(keys), keys, orderBy(q.By)) // 12-15
}

// keys returns the per-customer grouping columns of the query, the select
// items that name them in its result and the result's grouping columns.
func (q RetailKPIsQuery) keys() (inner, outer, group string) {
	switch q.By {
	case KPIsByChannel:
		return "acquisition_channel", "\n    acquisition_channel AS channel,", "acquisition_channel"
	case KPIsByCampaign:
		return "acquisition_channel, acquisition_campaign",
			"\n    acquisition_channel AS channel,\n    acquisition_campaign AS campaign,", "acquisition_channel, acquisition_campaign"
	case KPIsByCohort:
		return "cohort_month", "\n    cohort_month AS cohort,", "cohort_month"
	}
	// One group of every customer, and no row without orders.
	return "toUInt8(1) AS everyone", "", "everyone"
}

// orderBy renders the sort keys of the result.
func orderBy(by string) string {
	switch by {
	case KPIsByChannel:
		return "orders DESC, channel"
	case KPIsByCampaign:
		return "orders DESC, channel, campaign"
	case KPIsByCohort:
		return "cohort"
	}
	return "orders"
}

// Check reports a grouping other than those of RetailKPIsQuery.By.
func (q RetailKPIsQuery) Check() error {
	switch q.By {
	case KPIsTotal, KPIsByChannel, KPIsByCampaign, KPIsByCohort:
		return nil
	}
	return fmt.Errorf("%q: want channel, campaign, cohort or nothing", q.By)
}

// CheckModel reports a Model other than a rule-based one, and a model with
// a grouping other than by channel or campaign.
func (q RetailKPIsQuery) CheckModel() error {
	if q.Model == "" {
		return nil
	}
	if _, err := ParseModel(string(q.Model)); err != nil {
		if q.Model.DataDriven() {
			return fmt.Errorf("%s: the data-driven models credit channels from the counts of whole paths, not each order, so no order's refunds can be netted; want one of the rule-based models", q.Model)
		}
		return err
	}
	if q.By != KPIsByChannel && q.By != KPIsByCampaign {
		return fmt.Errorf("%s credits orders to channels and campaigns: want it with by channel or campaign, not %q", q.Model, q.By)
	}
	return nil
}

func (q RetailKPIsQuery) validate() error {
	if err := q.Range.Validate(); err != nil {
		return err
	}
	var problems []string
	if err := q.Check(); err != nil {
		problems = append(problems, "kpis by "+err.Error())
	}
	if err := q.CheckModel(); err != nil {
		problems = append(problems, "kpis: "+err.Error())
	}
	if err := q.Attribution.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if err := q.Currency.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	return errorList(problems)
}
