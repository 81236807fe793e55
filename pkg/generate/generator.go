// Package generate produces realistic, deterministic synthetic omnichannel
// traffic: the touchpoints of persons with personas (search-driven shoppers,
// social browsers, email loyalists, app users, store shoppers, deal seekers),
// each with one to three devices, journeys from ad impression to purchase with
// drop-off at every step, cross-device journeys joined by a later login, email,
// SMS and push interactions, store visits, support contacts, refunds and repeat
// purchases; and the daily ad spend consistent with that traffic, including
// restatements.
//
// Ad clicks and web and app visits carry no channel: they carry what a site's
// tracker sees, UTM parameters (google/cpc, bing/cpc, facebook, instagram and
// tiktok/paid_social, gdn and criteo/cpm, youtube/cpv, awin and
// rakuten/affiliate, newsletter/email, sms/sms, push/push) or an organic
// referrer (search engines, social sites, other sites), or nothing for direct
// visits, so the ingest service's channel rules derive it. Every web and app
// event of a session carries the session's utm_source, utm_medium,
// utm_campaign and referrer, as analytics SDKs that persist the campaign
// context do; utm_content and utm_term appear on impressions, clicks and the
// landing page. The channel is explicit only where the producer knows it:
// "email" on email_send, email_open and email_click, "sms" on sms_click,
// "push" on push_open, "offline" on store_visit, store purchases and
// support_contact. Spend records use the channels paid_search, paid_social,
// display, video and affiliate, with campaigns equal to the utm_campaign of
// their traffic.
//
// The same Config (and seed) always gives the same records, byte for byte,
// as long as the period lies in the past. Memory does not grow with the number
// of events: persons are generated one after another and nothing is kept about
// a person once their journey is emitted.
package generate

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Config sizes the synthetic traffic. The zero value is not valid: Events and
// Persons must be set.
type Config struct {
	// Events is the exact number of touchpoints Touchpoints emits. Required,
	// at least 1.
	Events int `yaml:"events"`
	// Persons is the number of distinct persons the touchpoints come from.
	// Required, at least 1. With fewer events than persons, only some persons
	// appear; with many more, persons have long journeys over the period.
	Persons int `yaml:"persons"`
	// Days is the length of the period in days, at most 3660. Default 30.
	Days int `yaml:"days"`
	// Seed makes the traffic reproducible: the same seed and the same other
	// settings give byte-identical records. Default 0, a seed like any other.
	Seed int64 `yaml:"seed"`
	// Start is the first day of the period, truncated to midnight UTC; it must
	// not be before 2000-01-01 nor in the future. Default: today (UTC) minus
	// Days, so the period ends at today's midnight UTC. When the period
	// reaches past the moment New is called, it ends one minute before that
	// moment, so no event lies in the future; the records then depend on
	// when New ran.
	Start time.Time `yaml:"start"`
}

// DefaultDays is the default length of the period.
const DefaultDays = 30

// MaxDays bounds Config.Days.
const MaxDays = 3660

// ErrConfig reports an invalid Config; Validate's and New's errors wrap it.
var ErrConfig = errors.New("invalid generate config")

var minStart = touchpoint.DefaultLimits().MinTime

// Validate reports the first invalid setting, wrapping ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Events < 1:
		return fmt.Errorf("%w: events must be at least 1, got %d", ErrConfig, c.Events)
	case c.Persons < 1:
		return fmt.Errorf("%w: persons must be at least 1, got %d", ErrConfig, c.Persons)
	case c.Days < 0 || c.Days > MaxDays:
		return fmt.Errorf("%w: days must be between 1 and %d (0 for the default %d), got %d", ErrConfig, MaxDays, DefaultDays, c.Days)
	case !c.Start.IsZero() && c.Start.Before(minStart):
		return fmt.Errorf("%w: start %s is before %s", ErrConfig, c.Start.Format(time.DateOnly), minStart.Format(time.DateOnly))
	case !c.Start.IsZero() && touchpoint.DayOf(c.Start).After(time.Now().Add(-time.Minute)):
		return fmt.Errorf("%w: start %s is in the future", ErrConfig, c.Start.Format(time.DateOnly))
	}
	return nil
}

const dayMillis = 24 * 60 * 60 * 1000

// Generator produces the touchpoints and spend records of one Config. Each
// call of Touchpoints or Spend starts from the beginning and emits the same
// records. A Generator is not safe for concurrent use.
type Generator struct {
	cfg         Config
	keys        keys
	start, end  int64 // period in Unix milliseconds, end exclusive
	days        int   // days of the period with at least one millisecond in it
	totalWeight uint64
	adCounts    []adCounts // per day and spend key, once a run completed
	pcg         *rand.PCG
	rng         *rand.Rand
}

// adCounts is what the touchpoints of one day and spend key add up to.
type adCounts struct {
	impressions, clicks int64
	revenue             int64 // micros, converted to USD
}

// New checks cfg, applies its defaults and returns its Generator. It fails,
// wrapping ErrConfig, when cfg is invalid or when the period is too short to
// give every event of the busiest person its own millisecond.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := time.Now()
	if cfg.Days == 0 {
		cfg.Days = DefaultDays
	}
	if cfg.Start.IsZero() {
		cfg.Start = touchpoint.DayOf(now).AddDate(0, 0, -cfg.Days)
	}
	cfg.Start = touchpoint.DayOf(cfg.Start).Time
	g := &Generator{cfg: cfg, keys: newKeys(cfg.Seed)}
	g.start = cfg.Start.UnixMilli()
	g.end = g.start + int64(cfg.Days)*dayMillis
	if limit := now.Add(-time.Minute).UnixMilli(); g.end > limit {
		g.end = limit
	}
	if g.end <= g.start {
		return nil, fmt.Errorf("%w: the period from %s is empty", ErrConfig, cfg.Start.Format(time.DateOnly))
	}
	g.days = int((g.end - g.start + dayMillis - 1) / dayMillis)
	g.pcg = rand.NewPCG(0, 0)
	g.rng = rand.New(g.pcg)

	var p person
	var maxWeight uint64
	for i := 0; i < cfg.Persons; i++ {
		g.seedPerson(i)
		p.head(g.rng, i)
		g.totalWeight += p.weight
		maxWeight = max(maxWeight, p.weight)
	}
	// A person's share of the events is at most ceil(w*E/W)+1.
	if busiest := mulDiv(maxWeight, uint64(cfg.Events), g.totalWeight) + 2; busiest > uint64(g.end-g.start) {
		return nil, fmt.Errorf("%w: %d events from %d persons do not fit in a period of %d ms (a person's events need distinct milliseconds)",
			ErrConfig, cfg.Events, cfg.Persons, g.end-g.start)
	}
	return g, nil
}

// Config returns the configuration with its defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Period returns the period the events lie in: [start, end).
func (g *Generator) Period() (start, end time.Time) {
	return time.UnixMilli(g.start).UTC(), time.UnixMilli(g.end).UTC()
}

func (g *Generator) seedPerson(i int) {
	g.pcg.Seed(g.keys.personSeed, fmix64(uint64(i)^g.keys.person))
}

// mulDiv returns a*b/c rounded down; the result must fit in 64 bits.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// Touchpoints calls emit for exactly Config.Events touchpoints and returns nil,
// or stops at the first error emit returns and returns it. Persons come one
// after another; each person's events are in strictly increasing time order
// inside the period, the stream as a whole is not. emit owns the touchpoint
// it gets and may keep it. Memory stays bounded whatever the number of events.
func (g *Generator) Touchpoints(emit func(*touchpoint.Touchpoint) error) error {
	return g.personTouchpoints(func(_ int, tp *touchpoint.Touchpoint) error { return emit(tp) })
}

// personTouchpoints is Touchpoints, with emit also told the index of the
// person (from 0) each touchpoint belongs to.
func (g *Generator) personTouchpoints(emit func(person int, tp *touchpoint.Touchpoint) error) error {
	counts := make([]adCounts, g.days*len(spendKeys))
	if err := g.run(emit, counts); err != nil {
		return err
	}
	g.adCounts = counts
	return nil
}

// run generates every person's journey, calling emit (when not nil) for each
// touchpoint with the person's index, and adding the ad traffic up in counts.
func (g *Generator) run(emit func(person int, tp *touchpoint.Touchpoint) error, counts []adCounts) error {
	j := &journey{g: g, rng: g.rng, p: &person{}, counts: counts}
	var cum, prev uint64
	for i := 0; i < g.cfg.Persons; i++ {
		g.seedPerson(i)
		j.p.head(g.rng, i)
		cum += j.p.weight
		upto := mulDiv(cum, uint64(g.cfg.Events), g.totalWeight)
		budget := int(upto - prev)
		prev = upto
		if budget == 0 {
			continue
		}
		j.p.body(g.rng, &g.keys)
		if err := j.run(budget, emit); err != nil {
			return err
		}
	}
	return nil
}

// draft is a generated touchpoint waiting for its time and id.
type draft struct {
	tp  *touchpoint.Touchpoint
	gap int64 // desired milliseconds after the previous event of the journey
	ad  int   // spend key of the session's ad traffic, -1 without
}

// run emits budget touchpoints of the journey of j.p, session after session.
func (j *journey) run(budget int, emit func(person int, tp *touchpoint.Touchpoint) error) error {
	j.remaining = budget
	j.last = j.g.start - 1
	j.emitted, j.sessionCount = 0, 0
	for j.remaining > 0 {
		j.buf = j.buf[:0]
		j.session()
		if len(j.buf) == 0 {
			continue
		}
		j.sessionCount++
		for i := range j.buf {
			if j.remaining == 0 {
				break
			}
			d := &j.buf[i]
			t := j.place(d.gap, i == 0)
			d.tp.EventTime = time.UnixMilli(t).UTC()
			d.tp.EventID = j.g.keys.eventID(j.seq)
			j.seq++
			if d.ad >= 0 {
				j.count(d, t)
			}
			if emit != nil {
				if err := emit(j.p.index, d.tp); err != nil {
					return err
				}
			}
			j.remaining--
			j.emitted++
		}
		clear(j.buf) // drop the references to the emitted touchpoints
	}
	return nil
}

// count adds an ad touchpoint to the spend counts of its day.
func (j *journey) count(d *draft, t int64) {
	c := &j.counts[int((t-j.g.start)/dayMillis)*len(spendKeys)+d.ad]
	switch d.tp.EventType {
	case "impression":
		c.impressions++
	case "click":
		c.clicks++
	case "purchase":
		rev := int64(*d.tp.Revenue)
		if d.tp.Currency == "EUR" {
			rev = rev * 108 / 100
		}
		c.revenue += rev
	}
}

// place returns the time of the next event: a session start is spread over
// what is left of the period (the earliest of the expected number of
// remaining session starts, drawn uniformly, and nudged out of the night), an
// event inside a session follows the previous one by about gap. Either way it
// leaves one distinct millisecond for each event still to come, so times are
// strictly increasing and inside the period.
func (j *journey) place(gap int64, sessionStart bool) int64 {
	r := int64(j.remaining)
	span := j.g.end - j.last
	var want int64
	if sessionStart {
		avg := (float64(j.emitted) + float64(4*j.p.persona.sessionLen)) / float64(j.sessionCount-1+4)
		k := max(1, math.Ceil(float64(r)/avg))
		want = int64(float64(span) * (1 - math.Pow(j.rng.Float64(), 1/k)))
		t := j.last + want
		if h := (t + j.p.tz) % dayMillis / 3_600_000; h < 7 && j.rng.Float64() < 0.75 {
			want += (7-h)*3_600_000 + j.rng.Int64N(3*3_600_000)
		}
	} else {
		want = gap
		if avail := span / r; want > avail/2 {
			want = avail / 2
		}
	}
	want = min(max(want, 1), j.g.end-r-j.last)
	j.last += want
	return j.last
}
