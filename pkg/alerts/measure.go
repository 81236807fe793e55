package alerts

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/table"
)

// Group is what a rule measures one value for: everything (both fields
// empty), a channel, or a channel's campaign.
type Group struct {
	Channel, Campaign string
}

// Key identifies the group within its rule: "", "email" or "email/spring".
func (g Group) Key() string {
	if g.Campaign == "" && !strings.Contains(g.Channel, "/") {
		return g.Channel
	}
	return g.Channel + "/" + g.Campaign
}

// measures are the sums a group's KPIs are computed from, in one window.
type measures struct {
	impressions, clicks, conversions, events float64
	revenue, spend                           float64
	attributedConversions, attributedRevenue float64
	newCustomers                             float64
	// orders, customers, repeatCustomers and netRevenue are those of the
	// retail KPIs, per acquisition group.
	orders, customers, repeatCustomers, netRevenue float64
	// unconverted counts the conversions (attributed ones for the
	// attributed KPIs) and spend rows whose money had no exchange rate into
	// the reporting currency.
	unconverted float64
}

func (m *measures) add(o *measures) {
	m.impressions += o.impressions
	m.clicks += o.clicks
	m.conversions += o.conversions
	m.events += o.events
	m.revenue += o.revenue
	m.spend += o.spend
	m.attributedConversions += o.attributedConversions
	m.attributedRevenue += o.attributedRevenue
	m.newCustomers += o.newCustomers
	m.orders += o.orders
	m.customers += o.customers
	m.repeatCustomers += o.repeatCustomers
	m.netRevenue += o.netRevenue
	m.unconverted += o.unconverted
}

// ratio returns a/b, undefined when b is zero.
func ratio(a, b float64) (float64, bool) {
	if b == 0 {
		return 0, false
	}
	return a / b, true
}

// kpi returns the value of k, whether it is defined (ratios of nothing are
// not, nor money KPIs over money part of which had no exchange rate), and
// the volume min_volume is compared with.
func (m *measures) kpi(k rules.KPI) (value float64, defined bool, volume float64) {
	if k.Money() && m.unconverted > 0 {
		return 0, false, 0
	}
	switch k {
	case rules.Spend:
		return m.spend, true, m.spend
	case rules.Impressions:
		return m.impressions, true, m.impressions
	case rules.Clicks:
		return m.clicks, true, m.clicks
	case rules.CTR:
		value, defined = ratio(m.clicks, m.impressions)
		return value, defined, m.impressions
	case rules.Conversions:
		return m.conversions, true, m.conversions
	case rules.CVR:
		value, defined = ratio(m.conversions, m.clicks)
		return value, defined, m.clicks
	case rules.CPA:
		value, defined = ratio(m.spend, m.attributedConversions)
		return value, defined, m.attributedConversions
	case rules.CAC:
		value, defined = ratio(m.spend, m.newCustomers)
		return value, defined, m.newCustomers
	case rules.Revenue:
		return m.revenue, true, m.conversions
	case rules.ROAS:
		value, defined = ratio(m.attributedRevenue, m.spend)
		return value, defined, m.spend
	case rules.ROMI:
		value, defined = ratio(m.attributedRevenue-m.spend, m.spend)
		return value, defined, m.spend
	case rules.AOV:
		value, defined = ratio(m.netRevenue, m.orders)
		return value, defined, m.orders
	case rules.PurchaseFrequency:
		value, defined = ratio(m.orders, m.customers)
		return value, defined, m.customers
	case rules.RepeatRate:
		value, defined = ratio(m.repeatCustomers, m.customers)
		return value, defined, m.customers
	default: // Events, NoData
		return m.events, true, m.events
	}
}

// Source measures rules' windows in ClickHouse.
type Source struct {
	conn        driver.Conn
	attribution analytics.Attribution
}

// NewSource returns a Source reading conn; attribution holds the defaults of
// pipelines/attribution.yaml (conversion type, touches, lookback, model).
func NewSource(conn driver.Conn, attribution analytics.Attribution) *Source {
	return &Source{conn: conn, attribution: attribution}
}

// currencyOf returns the currency r's values are in: the reporting currency
// of the pipelines for a money KPI, when they name one; none (the zero
// Currency) for the other KPIs, which need no rates.
func (s *Source) currencyOf(r *rules.Rule) analytics.Currency {
	if r.KPI.Money() {
		return s.attribution.Currency
	}
	return analytics.Currency{}
}

// measure returns the measures of every group of r in window w.
func (s *Source) measure(ctx context.Context, r *rules.Rule, w analytics.Range) (map[Group]*measures, error) {
	rows := map[Group]*measures{} // per (channel, campaign), before filters and scope
	row := func(channel, campaign string) *measures {
		g := Group{Channel: channel, Campaign: campaign}
		if rows[g] == nil {
			rows[g] = &measures{}
		}
		return rows[g]
	}
	cur := s.currencyOf(r)
	switch {
	case r.KPI.Attributed():
		a := s.attribution
		if r.Model != "" {
			a.Model = r.Model
		}
		money := firstMeasure(cur)
		if err := s.scan(ctx, analytics.ROMIQuery{Range: w, Attribution: a, ByCampaign: true, Currency: cur}, func(res []any) {
			m := row(res[0].(string), res[1].(string))
			m.attributedConversions, m.attributedRevenue, m.spend = res[money].(float64), res[money+1].(float64), res[money+2].(float64)
			if cur.Code != "" {
				m.unconverted = res[len(res)-2].(float64) + res[len(res)-1].(float64)
			}
		}); err != nil {
			return nil, err
		}
	case r.KPI.Retail():
		// Each customer has one acquisition channel and campaign, so the
		// groups' customers, orders and revenue add up.
		n := firstMeasure(cur)
		q := analytics.RetailKPIsQuery{Range: w, Attribution: s.attribution, By: analytics.KPIsByCampaign, Currency: cur}
		if err := s.scan(ctx, q, func(res []any) {
			m := row(res[0].(string), res[1].(string))
			m.customers, m.orders = float64(res[n].(uint64)), float64(res[n+1].(uint64))
			m.netRevenue = res[n+4].(float64)
			m.repeatCustomers = math.Round(res[n+7].(float64) * m.customers)
			if cur.Code != "" {
				m.unconverted = float64(res[len(res)-1].(uint64))
			}
		}); err != nil {
			return nil, err
		}
	case r.KPI.NeedsSpend(): // spend, cac
		money := firstMeasure(cur)
		if err := s.scan(ctx, analytics.SpendQuery{Range: w, Currency: cur}, func(res []any) {
			m := row(res[0].(string), res[1].(string))
			m.spend = res[money].(float64)
			if cur.Code != "" {
				m.unconverted = float64(res[money+1].(uint64))
			}
		}); err != nil {
			return nil, err
		}
		if r.KPI == rules.CAC {
			if err := s.scan(ctx, analytics.NewCustomersQuery{Range: w, ConversionType: s.attribution.ConversionType}, func(res []any) {
				row("", "").newCustomers = float64(res[0].(uint64))
			}); err != nil {
				return nil, err
			}
		}
	default:
		q := analytics.TouchpointCountsQuery{Range: w, ConversionType: s.attribution.ConversionType, EventTypes: r.EventTypes, Currency: cur}
		n := firstMeasure(cur)
		if err := s.scan(ctx, q, func(res []any) {
			m := row(res[0].(string), res[1].(string))
			m.impressions, m.clicks, m.conversions = float64(res[n].(uint64)), float64(res[n+1].(uint64)), float64(res[n+2].(uint64))
			m.revenue, m.events = res[n+3].(float64), float64(res[n+4].(uint64))
			if cur.Code != "" {
				m.unconverted = float64(res[n+5].(uint64))
			}
		}); err != nil {
			return nil, err
		}
	}
	out := map[Group]*measures{}
	for g, m := range rows {
		// The blended new-customer count has no channel: it passes the
		// filters, which select spend.
		blended := g == Group{}
		if !blended && (!keeps(r.Channels, g.Channel) || !keeps(r.Campaigns, g.Campaign)) {
			continue
		}
		scoped := scopedGroup(r, g)
		if out[scoped] == nil {
			out[scoped] = &measures{}
		}
		out[scoped].add(m)
	}
	return out, nil
}

// firstMeasure returns the index of the first measure of a row keyed by
// channel and campaign: in a reporting currency, its column comes first.
func firstMeasure(c analytics.Currency) int {
	if c.Code != "" {
		return 3
	}
	return 2
}

// scoped returns the group of r that row group g counts for.
func scopedGroup(r *rules.Rule, g Group) Group {
	switch r.Scope {
	case rules.ScopeChannel:
		return Group{Channel: g.Channel}
	case rules.ScopeCampaign:
		return g
	}
	return Group{}
}

// keeps reports whether a filter (empty: keep all) keeps value.
func keeps(filter []string, value string) bool {
	return len(filter) == 0 || slices.Contains(filter, value)
}

// query is an analytics query.
type query interface{ SQL() (string, error) }

// scan runs q and calls each with every result row.
func (s *Source) scan(ctx context.Context, q query, each func([]any)) error {
	sql, err := q.SQL()
	if err != nil {
		return err
	}
	res, err := table.Run(ctx, s.conn, sql)
	if err != nil {
		return err
	}
	for _, row := range res.Rows {
		each(row)
	}
	return nil
}

// windows returns the window r measures when evaluated at at, and the
// reference windows its condition compares it with.
func ruleWindows(r *rules.Rule, at time.Time) (current analytics.Range, refs []analytics.Range) {
	end := at.UTC().Add(-r.Delay).Truncate(time.Second)
	current = analytics.Range{From: end.Add(-r.Window), To: end}
	shifted := func(d time.Duration) analytics.Range {
		return analytics.Range{From: current.From.Add(-d), To: current.To.Add(-d)}
	}
	c := r.Condition
	switch c.Kind {
	case rules.Change:
		if c.Versus == rules.WeekAgo {
			refs = append(refs, shifted(7*24*time.Hour))
		} else {
			refs = append(refs, shifted(r.Window))
		}
	case rules.Anomaly:
		step := r.Window
		if c.Season > 0 {
			step = c.Season
		}
		for k := 1; k <= c.Trailing; k++ {
			refs = append(refs, shifted(time.Duration(k)*step))
		}
	case rules.Silence:
		refs = append(refs, analytics.Range{From: current.From.Add(-c.Lookback), To: current.From})
	}
	return current, refs
}

// describe renders a window for messages and logs.
func describe(w analytics.Range) string {
	return fmt.Sprintf("[%s, %s)", w.From.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
}
