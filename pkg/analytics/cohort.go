package analytics

import (
	"fmt"
	"strconv"
	"time"
)

// Period is the length of a cohort period, in UTC.
type Period string

// Cohort periods.
const (
	Day   Period = "day"
	Week  Period = "week" // starting on Monday
	Month Period = "month"
)

// periodSQL holds, per period, the function giving the start of a time's
// period, the one numbering periods consecutively, and the start of the
// period n periods after a period start.
var periodSQL = map[Period]struct{ start, number, after string }{
	Day:   {start: "toDate(%s)", number: "toRelativeDayNum(%s)", after: "%s + %s"},
	Week:  {start: "toMonday(%s)", number: "toRelativeWeekNum(%s)", after: "%s + 7 * %s"},
	Month: {start: "toStartOfMonth(%s)", number: "toRelativeMonthNum(%s)", after: "addMonths(%s, %s)"},
}

// Cohort definitions: what places a person in a cohort.
const (
	// FirstPurchase places a person by the time of their first purchase.
	FirstPurchase = "first_purchase"
	// FirstSeen places a person by the time of their first event of any type.
	FirstSeen = "first_seen"
)

// Activities: what makes a cohort member active in a period.
const (
	// PurchaseActivity counts a member active in a period with a purchase.
	PurchaseActivity = "purchase"
	// AnyActivity counts a member active in a period with any event.
	AnyActivity = "any"
)

// CohortQuery measures retention and revenue per person of cohorts.
//
// Everything is evaluated on the events before Range.To, as of that time: a
// person's cohort is the period of their first purchase (or first event)
// before To, and the person belongs to the result when that first event lies
// in Range. Period n of a cohort is the n-th period after the cohort's; only
// periods starting before To are reported.
type CohortQuery struct {
	Range Range
	// Period is the cohort and activity period.
	Period Period
	// Periods is how many periods (0 .. Periods-1) are reported.
	Periods int
	// By is FirstPurchase or FirstSeen.
	By string
	// Activity is PurchaseActivity or AnyActivity.
	Activity string
	// ByChannel splits cohorts by the channel of the event that placed the
	// person in the cohort.
	ByChannel bool
	// PurchaseType is the event type of purchases (the attribution
	// settings' conversion type).
	PurchaseType string
	// Currency, when it has a code, converts each purchase's revenue into
	// it at the rate of the purchase's UTC day.
	Currency Currency
}

// SQL returns the query. Its columns: cohort (the period's first day),
// [channel,] period, cohort_size, active, retention, revenue (currency units,
// of the cohort's purchases in the period), revenue_per_person and
// cumulative_revenue_per_person (the LTV curve). With a reporting currency
// a currency column follows period, revenue is converted (purchases without
// a rate left out) and unconverted_purchases, the cohort's purchases of the
// period whose revenue had no rate, ends the row.
func (q CohortQuery) SQL() (string, error) {
	if err := q.validate(); err != nil {
		return "", err
	}
	p := periodSQL[q.Period]
	periods := strconv.Itoa(q.Periods)
	isPurchase := "event_type = " + quote(q.PurchaseType)
	isCohortEvent, isActivity := isPurchase, isPurchase
	where := "event_time < " + timeLit(q.Range.To)
	if q.By == FirstSeen {
		isCohortEvent = "1"
	}
	if q.Activity == AnyActivity {
		isActivity = "1"
	}
	if q.By == FirstPurchase && q.Activity == PurchaseActivity {
		where += " AND " + isPurchase
	}
	columns := []column{
		col("event_time"),
		col("channel"),
		col("revenue"),
		{expr: fmt.Sprintf(p.number, "event_time"), name: "period_number"},
		{expr: isCohortEvent, name: "is_cohort_event"},
		{expr: isActivity, name: "is_activity"},
		{expr: isPurchase, name: "is_purchase"},
	}
	events := resolvedEvents(columns, where)
	revenue, unconverted := "revenue", ""
	if q.Currency.Code != "" {
		// Only the purchases of persons placed in the range count, and
		// they lie in it: the rates of its days are enough.
		events, revenue = q.Currency.convertedEvents(columns, where, q.Range), "money"
		unconverted = ",\n                groupArrayIf(toUInt64(unconverted), is_purchase) AS purchase_unconverted"
	}
	channel, channelKey := "", ""
	if q.ByChannel {
		channel, channelKey = "\n    first_channel AS channel,", ", first_channel"
	}
	return fmt.Sprintf(`-- Cohorts by %s per %s, activity: %s; persons placed in [%s, %s),
-- everything as of %[5]s.
SELECT
    toString(cohort_start) AS cohort,%s
    period,%[18]s
    cohort_size,
    active,
    active / cohort_size AS retention,
    period_revenue / 1000000 AS revenue,
    revenue / cohort_size AS revenue_per_person,
    cumulative_revenue / 1000000 / cohort_size AS cumulative_revenue_per_person%[19]s
FROM
(
    -- per cohort: its size, and (period offset -> sum) maps of its active
    -- members and of its revenue
    SELECT
        cohort_start%[7]s,
        count() AS cohort_size,
        sumMap(activity_offsets, activity_ones) AS active_map,
        sumMap(purchase_offsets, purchase_revenues) AS revenue_map%[20]s
    FROM
    (
        -- per person: the cohort, and the periods of their activity and of
        -- their purchases as offsets from the cohort's period
        SELECT
            %[8]s AS cohort_start,
            first_channel,
            arrayMap((x, c) -> toInt64(x) - c, activity_numbers, replicate(toInt64(%[9]s), activity_numbers)) AS activity_offsets,
            arrayMap(x -> toUInt64(1), activity_numbers) AS activity_ones,
            arrayMap((x, c) -> toInt64(x) - c, purchase_numbers, replicate(toInt64(%[9]s), purchase_numbers)) AS purchase_offsets,
            purchase_revenues%[21]s
        FROM
        (
            SELECT
                person,
                minIf(event_time, is_cohort_event) AS first_time,
                argMinIf(channel, event_time, is_cohort_event) AS first_channel,
                groupUniqArrayIf(period_number, is_activity) AS activity_numbers,
                groupArrayIf(period_number, is_purchase) AS purchase_numbers,
                groupArrayIf(%[22]s, is_purchase) AS purchase_revenues%[23]s
            FROM %[10]s
            GROUP BY person
            HAVING countIf(is_cohort_event) > 0
        )
        WHERE first_time >= %[11]s AND first_time < %[12]s
    )
    GROUP BY cohort_start%[7]s
)
-- one row per reported period; the maps turned into arrays over offsets
-- 0 .. %[13]s-1 (a period without activity or revenue is missing from them)
ARRAY JOIN
    range(%[13]s) AS period,
    %[14]s AS active,
    %[15]s AS period_revenue,
    arrayCumSum(%[15]s) AS cumulative_revenue%[24]s
WHERE %[16]s < %[17]s
ORDER BY cohort%[7]s, period`,
		q.By, q.Period, q.Activity, // 1-3
		q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339), // 4-5
		channel, channelKey, // 6-7
		fmt.Sprintf(p.start, "first_time"), fmt.Sprintf(p.number, "first_time"), // 8-9
		events, timeLit(q.Range.From), timeLit(q.Range.To), // 10-12
		periods, dense("active_map", periods), dense("revenue_map", periods), // 13-15
		fmt.Sprintf(p.after, "cohort_start", "period"), dateLit(ceilDay(q.Range.To)), // 16-17
		q.Currency.column(), q.Currency.unconvertedColumn("unconverted_purchases", "period_unconverted"), // 18-19
		q.Currency.unconvertedColumn("unconverted_map", "sumMap(purchase_offsets, purchase_unconverted)"),  // 20
		q.Currency.unconvertedColumn("purchase_unconverted", "purchase_unconverted"), revenue, unconverted, // 21-23
		q.Currency.unconvertedColumn("period_unconverted", dense("unconverted_map", periods))), nil // 24
}

// dense renders the array of the values of a (keys, values) map for keys
// 0 .. n-1, zero where a key is missing. The map is passed to the lambda as
// arguments rather than captured: ClickHouse 18.16 does not see columns
// that only a lambda captures.
func dense(m, n string) string {
	return fmt.Sprintf("arrayMap((n, ks, vs) -> if(has(ks, n), vs[indexOf(ks, n)], 0), range(%[2]s), "+
		"replicate(tupleElement(%[1]s, 1), range(%[2]s)), replicate(tupleElement(%[1]s, 2), range(%[2]s)))", m, n)
}

func (q CohortQuery) validate() error {
	if err := q.Range.Validate(); err != nil {
		return err
	}
	var problems []string
	if _, ok := periodSQL[q.Period]; !ok {
		problems = append(problems, fmt.Sprintf("unknown cohort period %q: want day, week or month", q.Period))
	}
	if q.Periods < 1 || q.Periods > 1000 {
		problems = append(problems, fmt.Sprintf("periods %d: want 1 to 1000", q.Periods))
	}
	if q.By != FirstPurchase && q.By != FirstSeen {
		problems = append(problems, fmt.Sprintf("cohorts by %q: want %s or %s", q.By, FirstPurchase, FirstSeen))
	}
	if q.Activity != PurchaseActivity && q.Activity != AnyActivity {
		problems = append(problems, fmt.Sprintf("activity %q: want %s or %s", q.Activity, PurchaseActivity, AnyActivity))
	}
	if q.PurchaseType == "" {
		problems = append(problems, "purchase event type is empty")
	}
	if err := q.Currency.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	return errorList(problems)
}
