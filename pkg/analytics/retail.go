package analytics

import (
	"fmt"
	"time"
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
	refundWhere := "event_type = " + quote(RefundType) + " AND order_id != '' AND " + inRange +
		" AND event_time < " + timeLit(q.Range.To)
	refunds := `(
            SELECT order_id, toFloat64(sum(revenue)) AS refunded, toUInt8(0) AS refund_unconverted
            FROM touchpoints FINAL
            WHERE ` + refundWhere + `
            GROUP BY order_id
        )`
	if q.Currency.Code != "" {
		events = q.Currency.convertedEvents(columns, where, q.Range)
		order = "(at_ms, order_id, money, unconverted)"
		refunds = `(
            SELECT order_id, sum(money) AS refunded, max(unconverted) AS refund_unconverted
            FROM ` + q.Currency.converted("order_id", `(
                SELECT order_id, revenue AS amount, currency, toDate(event_time) AS rate_day
                FROM touchpoints FINAL
                WHERE `+refundWhere+`
            )`, q.Range) + `
            GROUP BY order_id
        )`
	}
	return fmt.Sprintf(`-- Retail KPIs of the orders (%[1]s) in [%[2]s, %[3]s), refunds (%[4]s) netted by order_id;
-- acquisition: the oldest touch before the first purchase ever, cohort: its month.
SELECT%[5]s%[6]s
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
    aov * purchase_frequency * expected_lifetime AS projected_clv%[7]s
FROM
(
    -- per customer: their orders of the range, net of refunds
    SELECT
        %[8]s,
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
            -- per resolved person: touches oldest first, the first purchase
            -- ever and the orders of the range as (ms, order id, amount,
            -- unconverted)
            SELECT
                person,
                arraySort(groupArrayIf((at_ms, channel, campaign), is_touch)) AS touches,
                minIf(at_ms, is_purchase) AS first_purchase_ms,
                groupArrayIf(%[9]s, is_order) AS placed_orders,
                %[10]s,
                toString(toStartOfMonth(minIf(event_time, is_purchase))) AS cohort_month
            FROM %[11]s
            GROUP BY person
            HAVING notEmpty(placed_orders)
        )
        ARRAY JOIN placed_orders AS placed
    ) AS orders_of_range
    ANY LEFT JOIN %[12]s AS refunds_by_order USING order_id
    GROUP BY %[8]s, person
)
GROUP BY %[13]s
ORDER BY %[14]s`,
		q.Attribution.ConversionType, q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339), RefundType, // 1-4
		outKeys, q.Currency.column(), // 5-6
		q.Currency.unconvertedColumn("unconverted_orders", "sum(person_unconverted)"), // 7
		keys, order, acquisition, events, refunds, // 8-12
		groupKeys, orderBy(q.By)), nil // 13-14
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

func (q RetailKPIsQuery) validate() error {
	if err := q.Range.Validate(); err != nil {
		return err
	}
	var problems []string
	if err := q.Check(); err != nil {
		problems = append(problems, "kpis by "+err.Error())
	}
	if err := q.Attribution.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if err := q.Currency.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	return errorList(problems)
}
