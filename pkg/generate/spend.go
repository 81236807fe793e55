package generate

import (
	"math"
	"math/rand/v2"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Spend tuning: the share of records restated, and how many days after the
// original the restatement arrives.
const (
	restatePercent = 4
	restateAfter   = 2
)

// Spend calls emit for the daily ad spend of the period and returns nil, or
// stops at the first error emit returns and returns it.
//
// It emits one record per day, in date order, and paid campaign (channel,
// campaign, source): paid_search brand_search and generic_search on google_ads
// and microsoft_ads, paid_social spring_sale and retargeting on meta_ads and
// spring_sale on tiktok_ads, display prospecting on google_ads and retargeting
// on criteo, video brand_video on google_ads, affiliate partners on awin and
// rakuten. Impressions and clicks are those of the generated touchpoints of
// that day and campaign plus a few percent the platform counts and the site
// does not (affiliate records carry no impressions). Cost, in USD, follows
// each campaign's billing: clicks times a CPC drawn per day, impressions times
// a CPM or CPV, or a commission on the revenue of the orders the partner
// referred plus a fee per click. A few records (about 4%, at least one) are
// restated: a second record with the same Key and a corrected cost follows
// two days of records later, or at the end.
//
// Spend needs the per-day ad counts of the touchpoints. After a complete
// Touchpoints call they are at hand; otherwise Spend generates the
// touchpoints itself without emitting them, which takes about as long as
// Touchpoints. The records are the same either way.
func (g *Generator) Spend(emit func(*touchpoint.Spend) error) error {
	counts := g.adCounts
	if counts == nil {
		counts = make([]adCounts, g.days*len(spendKeys))
		if err := g.run(nil, counts); err != nil {
			return err
		}
		g.adCounts = counts
	}
	rng := rand.New(rand.NewPCG(g.keys.spendSeed, g.keys.spend))
	nk := len(spendKeys)
	type restatement struct {
		due int
		sp  touchpoint.Spend
	}
	var queue []restatement
	restated := 0
	flush := func(day int) error {
		kept := queue[:0]
		for _, r := range queue {
			if r.due > day {
				kept = append(kept, r)
				continue
			}
			restated++
			if err := emit(clone(&r.sp)); err != nil {
				return err
			}
		}
		queue = kept
		return nil
	}
	lastDay := make([]touchpoint.Spend, nk)
	for day := 0; day < g.days; day++ {
		date := touchpoint.DayOf(g.cfg.Start.AddDate(0, 0, day))
		for k := range spendKeys {
			sp := record(date, k, counts[day*nk+k], rng)
			if err := emit(clone(&sp)); err != nil {
				return err
			}
			lastDay[k] = sp
			if sp.Cost > 0 && rng.IntN(100) < restatePercent {
				queue = append(queue, restatement{due: day + restateAfter, sp: restate(sp, rng)})
			}
		}
		if err := flush(day); err != nil {
			return err
		}
	}
	if err := flush(math.MaxInt); err != nil {
		return err
	}
	if restated == 0 && g.days > 0 {
		// Make sure restatement handling gets exercised: restate the costliest
		// record of the last day.
		best := 0
		for k := range lastDay {
			if lastDay[k].Cost > lastDay[best].Cost {
				best = k
			}
		}
		sp := restate(lastDay[best], rng)
		return emit(clone(&sp))
	}
	return nil
}

// record returns the spend of one day and spend key.
func record(date touchpoint.Day, k int, c adCounts, rng *rand.Rand) touchpoint.Spend {
	key := &spendKeys[k]
	unit := key.lo + rng.Int64N(key.hi-key.lo+1)
	impressions := c.impressions + c.impressions*rng.Int64N(81)/1000
	clicks := c.clicks + c.clicks*rng.Int64N(51)/1000
	impressions = max(impressions, clicks)
	var cost int64
	switch key.bill {
	case perClick:
		cost = clicks * unit
	case perMille:
		cost = impressions * unit / 1000
	case perView:
		cost = impressions * unit
	case perCommission:
		cost = mulDivInt(c.revenue, unit, 1_000_000) + clicks*20_000
	}
	sp := touchpoint.Spend{
		Date: date, Channel: key.channel, Campaign: key.campaign, Source: key.source,
		Cost: touchpoint.Money(roundCents(cost)), Currency: "USD", Clicks: &clicks,
	}
	if !key.noImpressions {
		sp.Impressions = &impressions
	}
	return sp
}

// restate returns sp with a corrected cost: mostly lower (invalid clicks
// credited back), sometimes higher (late conversions of billable events).
func restate(sp touchpoint.Spend, rng *rand.Rand) touchpoint.Spend {
	permille := 880 + rng.Int64N(171) // 88.0% to 105.0%
	cost := roundCents(int64(sp.Cost) / 1000 * permille)
	if cost == int64(sp.Cost) && cost > 0 {
		cost -= 10_000
	}
	sp.Cost = touchpoint.Money(cost)
	return sp
}

// clone returns a copy of sp that shares nothing with it, for emit to own.
func clone(sp *touchpoint.Spend) *touchpoint.Spend {
	c := *sp
	if sp.Impressions != nil {
		v := *sp.Impressions
		c.Impressions = &v
	}
	if sp.Clicks != nil {
		v := *sp.Clicks
		c.Clicks = &v
	}
	return &c
}

// roundCents rounds micros to whole cents.
func roundCents(m int64) int64 { return (m + 5_000) / 10_000 * 10_000 }

// mulDivInt returns a*b/c for non-negative values without overflow.
func mulDivInt(a, b, c int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return int64(mulDiv(uint64(a), uint64(b), uint64(c)))
}
