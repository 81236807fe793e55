package analytics

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Model is a multi-touch attribution model: how a conversion's credit is
// shared among the touches that preceded it.
type Model string

// The attribution models. Weights are per touch, oldest first, and sum to 1.
const (
	// FirstTouch gives all credit to the oldest touch.
	FirstTouch Model = "first_touch"
	// LastTouch gives all credit to the newest touch.
	LastTouch Model = "last_touch"
	// LastNonDirect gives all credit to the newest touch whose channel is not
	// direct, or to the newest touch when all are direct.
	LastNonDirect Model = "last_non_direct"
	// Linear shares credit equally.
	Linear Model = "linear"
	// PositionBased gives 40% to the oldest and 40% to the newest touch and
	// shares 20% among the touches between; one touch gets 100%, two 50% each.
	PositionBased Model = "position_based"
	// TimeDecay weighs a touch by 2^(-(conversion time - touch time)/half-life),
	// normalised so the weights sum to 1.
	TimeDecay Model = "time_decay"
)

// Models lists every attribution model.
var Models = []Model{FirstTouch, LastTouch, LastNonDirect, Linear, PositionBased, TimeDecay}

// ParseModel returns the model named s.
func ParseModel(s string) (Model, error) {
	for _, m := range Models {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(Models))
	for i, m := range Models {
		names[i] = string(m)
	}
	if Model(s).DataDriven() {
		return "", fmt.Errorf("model %s is data-driven, chosen per query (--model %s): want one of %s", s, s, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("unknown attribution model %q: want one of %s", s, strings.Join(names, ", "))
}

// NoTouch is the channel and campaign credited with a conversion that had no
// touch in its lookback window.
const NoTouch = "(none)"

// Attribution says what converts, what counts as a touch, and how credit is
// shared. Its defaults live in pipelines/attribution.yaml.
type Attribution struct {
	// ConversionType is the event type of conversions; their revenue is
	// what gets attributed.
	ConversionType string
	// TouchTypes are the event types that count as touches.
	TouchTypes []string
	// Lookback is how far before a conversion a touch may be:
	// conversion time - Lookback <= touch time < conversion time.
	Lookback time.Duration
	// HalfLife is the time decay model's half-life.
	HalfLife time.Duration
	// Model is the default model.
	Model Model
	// Currency is the default reporting currency of the money queries
	// (reporting_currency and max_rate_age); each query takes its own in
	// its Currency field, which a caller sets from this one or a flag.
	Currency Currency
}

// DefaultAttribution returns the attribution settings that hold when
// pipelines/attribution.yaml does not say otherwise.
func DefaultAttribution() Attribution {
	return Attribution{
		ConversionType: "purchase",
		TouchTypes:     []string{"click", "email_click", "sms_click", "push_open", "store_visit"},
		Lookback:       30 * 24 * time.Hour,
		HalfLife:       7 * 24 * time.Hour,
		Model:          TimeDecay,
		Currency:       Currency{MaxRateAge: DefaultMaxRateAge},
	}
}

// Validate reports settings no query can run with.
func (a Attribution) Validate() error {
	var problems []string
	if a.ConversionType == "" {
		problems = append(problems, "conversion_type is empty")
	}
	if len(a.TouchTypes) == 0 {
		problems = append(problems, "touch_types is empty")
	}
	for _, t := range a.TouchTypes {
		if t == "" {
			problems = append(problems, "touch_types has an empty entry")
		}
	}
	if a.Lookback < time.Millisecond {
		problems = append(problems, fmt.Sprintf("lookback %s is shorter than a millisecond", a.Lookback))
	}
	if a.HalfLife < time.Millisecond {
		problems = append(problems, fmt.Sprintf("half_life %s is shorter than a millisecond", a.HalfLife))
	}
	if _, err := ParseModel(string(a.Model)); err != nil {
		problems = append(problems, err.Error())
	}
	if err := a.Currency.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	return errorList(problems)
}

// AttributionQuery attributes the revenue of the conversions in Range to
// channels (and campaigns) under Attribution.Model.
type AttributionQuery struct {
	Range       Range
	Attribution Attribution
	// ByCampaign splits the result by campaign within each channel.
	ByCampaign bool
	// Currency, when it has a code, converts revenue into it.
	Currency Currency
}

// SQL returns the query. Its columns: channel, [campaign,] conversions
// (fractional credit), revenue (currency units). With a reporting currency
// they are channel, [campaign,] currency, conversions, revenue (converted),
// unconverted_conversions (the credit of conversions whose revenue has no
// rate, left out of revenue).
func (q AttributionQuery) SQL() (string, error) {
	if err := q.validate(); err != nil {
		return "", err
	}
	keys := groupKeys(q.ByCampaign)
	return q.header("Multi-touch attribution") + `SELECT
    ` + keys + `,` + q.Currency.column() + `
    sum(credit) AS conversions,
    sum(credit * conversion_revenue) / 1000000 AS revenue` + q.Currency.unconvertedColumn("unconverted_conversions", "sum(credit * conversion_unconverted)") + `
FROM ` + q.credits() + `
GROUP BY ` + keys + `
ORDER BY revenue DESC, ` + keys, nil
}

// ROMIQuery sets attributed revenue against spend per channel (and campaign).
type ROMIQuery struct {
	Range       Range
	Attribution Attribution
	// ByCampaign splits the result by campaign within each channel.
	ByCampaign bool
	// Currency, when it has a code, converts revenue and spend into it.
	Currency Currency
}

// SQL returns the query. Its columns: channel, [campaign,] conversions,
// revenue, spend (currency units), roas, romi, cpa (NULL where spend or
// conversions are zero). With a reporting currency they are channel,
// [campaign,] currency, conversions, revenue, spend (both converted), roas,
// romi, cpa (also NULL where any money of the row has no rate),
// unconverted_conversions (the credit of conversions whose revenue has no
// rate) and unconverted_spend (spend rows without a rate), what was left
// out of revenue and spend.
func (q ROMIQuery) SQL() (string, error) {
	a := AttributionQuery(q)
	if err := a.validate(); err != nil {
		return "", err
	}
	keys := groupKeys(q.ByCampaign)
	spendDays := Range{From: ceilDay(q.Range.From), To: ceilDay(q.Range.To)}
	spendWhere := `date >= ` + dateLit(spendDays.From) + ` AND date < ` + dateLit(spendDays.To)
	spendFrom, spendSum, ratioGuard := `spend FINAL
    WHERE `+spendWhere, "sum(cost)", ""
	if q.Currency.Code != "" {
		spendFrom = q.Currency.converted(keys, `(
        SELECT `+keys+`, cost AS amount, currency, date AS rate_day
        FROM spend FINAL
        WHERE `+spendWhere+`
    )`, spendDays)
		spendSum = "sum(money)"
		ratioGuard = "unconverted_conversions > 0 OR unconverted_spend > 0 OR "
	}
	return a.header("ROMI per channel") + `-- Spend: days whose start lies in the range, restatements applied (FINAL).
SELECT
    ` + keys + `,` + a.Currency.column() + `
    sum(attributed_conversions) AS conversions,
    sum(attributed_revenue) AS revenue,
    sum(spend_units) AS spend,
    if(` + ratioGuard + `spend = 0, NULL, revenue / spend) AS roas,
    if(` + ratioGuard + `spend = 0, NULL, (revenue - spend) / spend) AS romi,
    if(` + ratioGuard + `spend = 0 OR conversions = 0, NULL, spend / conversions) AS cpa` +
		a.Currency.unconvertedColumn("unconverted_conversions", "sum(credit_unconverted)") +
		a.Currency.unconvertedColumn("unconverted_spend", "sum(spend_unconverted)") + `
FROM
(
    SELECT
        ` + keys + `,
        sum(credit) AS attributed_conversions,
        sum(credit * conversion_revenue) / 1000000 AS attributed_revenue,
        toFloat64(0) AS spend_units` + a.Currency.unconvertedColumn("credit_unconverted", "sum(credit * conversion_unconverted)") +
		a.Currency.unconvertedColumn("spend_unconverted", "toFloat64(0)") + `
    FROM ` + a.credits() + `
    GROUP BY ` + keys + `
    UNION ALL
    SELECT
        ` + keys + `,
        toFloat64(0) AS attributed_conversions,
        toFloat64(0) AS attributed_revenue,
        ` + spendSum + ` / 1000000 AS spend_units` + a.Currency.unconvertedColumn("credit_unconverted", "toFloat64(0)") +
		a.Currency.unconvertedColumn("spend_unconverted", "toFloat64(sum(unconverted))") + `
    FROM ` + spendFrom + `
    GROUP BY ` + keys + `
)
GROUP BY ` + keys + `
ORDER BY revenue DESC, spend DESC, ` + keys, nil
}

func groupKeys(byCampaign bool) string {
	if byCampaign {
		return "channel, campaign"
	}
	return "channel"
}

func (q AttributionQuery) validate() error {
	if err := q.Range.Validate(); err != nil {
		return err
	}
	if err := q.Currency.Validate(); err != nil {
		return err
	}
	return q.Attribution.Validate()
}

func (q AttributionQuery) header(title string) string {
	a := q.Attribution
	return fmt.Sprintf(`-- %s, model %s: conversions (%s) in [%s, %s),
-- touches (%s) within %s before each conversion; time decay half-life %s.
`, title, a.Model, a.ConversionType, q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339),
		strings.Join(a.TouchTypes, ", "), pipefile.FormatDuration(a.Lookback), pipefile.FormatDuration(a.HalfLife))
}

// credits renders a subquery with one row per (conversion, credited touch):
// channel, campaign, credit (the touch's share of the conversion) and
// conversion_revenue (the whole conversion's revenue in micros); with a
// reporting currency, the revenue converted (0 without a rate) and
// conversion_unconverted, 1 when it had no rate.
func (q AttributionQuery) credits() string {
	return q.creditRows(false)
}

// creditRows renders the subquery of credits; with orders, each row also
// has order_id, the conversion's order id, for the retail KPIs to net its
// refunds.
func (q AttributionQuery) creditRows(orders bool) string {
	a := q.Attribution
	lookback := strconv.FormatInt(a.Lookback.Milliseconds(), 10)
	isConversion, where := touchWindow(q.Range, a)
	columns := []column{
		{expr: eventMillis, name: "at_ms"},
		col("event_id"),
		col("channel"),
		col("campaign"),
		col("revenue"),
		{expr: "event_type IN (" + quoteList(a.TouchTypes) + ")", name: "is_touch"},
		{expr: isConversion, name: "is_conversion"},
	}
	conversion := "(at_ms, revenue)"
	conversionItems, extraColumns := "", ""
	if q.Currency.Code != "" {
		// The revenue of each event converted at the rate of its UTC day.
		conversion = "(at_ms, money, unconverted)"
		conversionItems = "\n            tupleElement(conversion, 3) AS conversion_unconverted,"
		extraColumns = ",\n        conversion_unconverted"
	}
	if orders {
		columns = append(columns, col("order_id"))
		conversion = strings.TrimSuffix(conversion, ")") + ", order_id)"
		conversionItems += "\n            tupleElement(conversion, " + strconv.Itoa(strings.Count(conversion, ",")+1) + ") AS order_id,"
		extraColumns += ",\n        order_id"
	}
	events := resolvedEvents(columns, where)
	if q.Currency.Code != "" {
		events = q.Currency.convertedEvents(columns, where, Range{From: q.Range.From.Add(-a.Lookback), To: q.Range.To})
	}
	return `
(
    -- one row per conversion and credited touch
    SELECT
        tupleElement(touch, 3) AS channel,
        tupleElement(touch, 4) AS campaign,
        credit,
        conversion_revenue` + extraColumns + `
    FROM
    (
        -- each conversion with the touches of its lookback window, oldest
        -- first, or the single pseudo-touch (none) when there is none
        SELECT
            tupleElement(conversion, 1) AS conversion_ms,
            tupleElement(conversion, 2) AS conversion_revenue,` + conversionItems + `
            arrayFilter(t -> tupleElement(t, 1) < conversion_ms AND tupleElement(t, 1) + ` + lookback + ` >= conversion_ms, touches) AS window_touches,
            if(empty(window_touches), [(toUInt64(0), '', ` + quote(NoTouch) + `, ` + quote(NoTouch) + `)], window_touches) AS credited,
            length(credited) AS n,` + lastNonDirect(a) + `
            ` + weights(a) + ` AS credits
        FROM
        (
            -- per resolved person: touches as (ms, event id, channel,
            -- campaign) sorted by time, and conversions as (ms, revenue)
            SELECT
                person,
                arraySort(groupArrayIf((at_ms, event_id, channel, campaign), is_touch)) AS touches,
                groupArrayIf(` + conversion + `, is_conversion) AS conversions
            FROM ` + events + `
            GROUP BY person
            HAVING notEmpty(conversions)
        )
        ARRAY JOIN conversions AS conversion
    )
    ARRAY JOIN credited AS touch, credits AS credit
    WHERE credit > 0
)`
}

// lastNonDirect renders, for the last non-direct model only, the select
// items that find the index of the newest touch whose channel is not direct
// (the newest touch when all are).
func lastNonDirect(a Attribution) string {
	if a.Model != LastNonDirect {
		return ""
	}
	return `
            arrayFilter((i, t) -> tupleElement(t, 3) != 'direct', arrayEnumerate(credited), credited) AS non_direct_indexes,
            if(empty(non_direct_indexes), n, arrayElement(non_direct_indexes, length(non_direct_indexes))) AS last_non_direct,`
}

// weights renders the array of credits of the touches in `credited` (oldest
// first, n of them) under the model.
func weights(a Attribution) string {
	switch a.Model {
	case FirstTouch:
		return "arrayMap(i -> toFloat64(i = 1), arrayEnumerate(credited))"
	case LastTouch:
		return "arrayMap(i -> toFloat64(i = n), arrayEnumerate(credited))"
	case LastNonDirect:
		return "arrayMap(i -> toFloat64(i = last_non_direct), arrayEnumerate(credited))"
	case Linear:
		return "arrayMap(i -> 1 / n, arrayEnumerate(credited))"
	case PositionBased:
		return "arrayMap(i -> multiIf(n = 1, toFloat64(1), n = 2, 0.5, i = 1 OR i = n, 0.4, 0.2 / (n - 2)), arrayEnumerate(credited))"
	case TimeDecay:
		// Relative to the newest touch, which weighs 1, so the sum never
		// underflows to zero; normalising makes it equal to the formula.
		halfLife := strconv.FormatInt(a.HalfLife.Milliseconds(), 10)
		return `arrayMap(w -> w / arraySum(decay), arrayMap(t -> pow(2, (toFloat64(tupleElement(t, 1)) - toFloat64(tupleElement(arrayElement(credited, n), 1))) / ` + halfLife + `), credited) AS decay)`
	}
	panic("unvalidated attribution model " + string(a.Model))
}
