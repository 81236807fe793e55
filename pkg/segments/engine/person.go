package engine

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// Event is what segments know of a touchpoint.
type Event struct {
	ID       string            `json:"id"`
	Person   string            `json:"person"`
	At       time.Time         `json:"at"`
	Type     string            `json:"type"`
	Channel  string            `json:"channel,omitempty"`
	Campaign string            `json:"campaign,omitempty"`
	Revenue  float64           `json:"revenue,omitempty"` // currency units
	Props    map[string]string `json:"props,omitempty"`
}

// field returns a filterable or readable field of e: channel, campaign,
// revenue, or a property.
func (e *Event) field(name string) string {
	switch name {
	case "channel":
		return e.Channel
	case "campaign":
		return e.Campaign
	case "revenue":
		return strconv.FormatFloat(e.Revenue, 'f', -1, 64)
	}
	return e.Props[name]
}

// number returns a numeric field of e: revenue, or a property that parses
// as a number.
func (e *Event) number(name string) (float64, bool) {
	if name == "revenue" {
		return e.Revenue, true
	}
	f, err := strconv.ParseFloat(e.Props[name], 64)
	return f, err == nil
}

// aggregate is a lifetime count, sum, minimum and maximum.
type aggregate struct {
	Count int64   `json:"n"`
	Sum   float64 `json:"s,omitempty"`
	Min   float64 `json:"lo,omitempty"`
	Max   float64 `json:"hi,omitempty"`
}

func (a *aggregate) add(x float64) {
	if a.Count == 0 || x < a.Min {
		a.Min = x
	}
	if a.Count == 0 || x > a.Max {
		a.Max = x
	}
	a.Count++
	a.Sum += x
}

func (a *aggregate) merge(b *aggregate) {
	if b.Count == 0 {
		return
	}
	if a.Count == 0 {
		*a = *b
		return
	}
	a.Count += b.Count
	a.Sum += b.Sum
	a.Min, a.Max = math.Min(a.Min, b.Min), math.Max(a.Max, b.Max)
}

// Person is the state of one person: the events of the longest window,
// lifetime aggregates, the latest event of each type the definitions ask
// about, and the segments the person is in.
// The changelog, the local state and transfers keep it in its binary
// encoding (MarshalBinary).
type Person struct {
	ID       string                `json:"id"`
	Events   []Event               `json:"events,omitempty"` // by time, within the longest window
	Lifetime map[string]*aggregate `json:"lifetime,omitempty"`
	Last     map[string]Event      `json:"last,omitempty"`
	Members  []string              `json:"members,omitempty"` // sorted
	// Timer is when the person must be evaluated next without a new
	// event; zero when never.
	Timer time.Time `json:"timer"`
}

func newPerson(id string) *Person {
	p := &Person{ID: id}
	p.init()
	return p
}

// init makes the maps of a decoded person usable.
func (p *Person) init() {
	if p.Lifetime == nil {
		p.Lifetime = map[string]*aggregate{}
	}
	if p.Last == nil {
		p.Last = map[string]Event{}
	}
}

// apply adds e to the person's state under d. Events come in time order;
// an event id already among the kept events is ignored, and so is an event
// that no feature function of d reads (it would only take a place among
// the kept events and set timers that change nothing).
func (p *Person) apply(d *Definitions, e Event) {
	if !d.reads(&e) {
		return
	}
	for i := range p.Events {
		if p.Events[i].ID == e.ID {
			return
		}
	}
	if d.maxWindow > 0 {
		p.Events = append(p.Events, e)
		if extra := len(p.Events) - d.MaxKeptEvents; extra > 0 {
			p.Events = append(p.Events[:0], p.Events[extra:]...)
		}
	}
	for key, s := range d.specs {
		if s.window != 0 || !s.matches(&e) {
			continue
		}
		switch s.fn {
		case fnCount, fnSum, fnMin, fnMax:
			x, ok := 1.0, true
			if s.fn != fnCount {
				x, ok = e.number(s.field)
			}
			if ok {
				a := p.Lifetime[key]
				if a == nil {
					a = &aggregate{}
					p.Lifetime[key] = a
				}
				a.add(x)
			}
		}
	}
	if d.tracksLast[e.Type] {
		if last, ok := p.Last[e.Type]; !ok || !e.At.Before(last.At) {
			p.Last[e.Type] = e
		}
	}
}

// expire drops the events that left the longest window as of now.
func (p *Person) expire(d *Definitions, now time.Time) {
	cut := 0
	for cut < len(p.Events) && !p.Events[cut].At.After(now.Add(-d.maxWindow)) {
		cut++
	}
	p.Events = p.Events[cut:]
}

// absorb merges other's state into p.
func (p *Person) absorb(other *Person) {
	seen := map[string]bool{}
	for _, e := range p.Events {
		seen[e.ID] = true
	}
	for _, e := range other.Events {
		if !seen[e.ID] {
			p.Events = append(p.Events, e)
		}
	}
	sort.SliceStable(p.Events, func(i, j int) bool { return p.Events[i].At.Before(p.Events[j].At) })
	for key, a := range other.Lifetime {
		if mine := p.Lifetime[key]; mine != nil {
			mine.merge(a)
		} else {
			c := *a
			p.Lifetime[key] = &c
		}
	}
	for t, e := range other.Last {
		if mine, ok := p.Last[t]; !ok || e.At.After(mine.At) {
			p.Last[t] = e
		}
	}
}

// empty reports whether the person holds nothing worth keeping.
func (p *Person) empty() bool {
	return len(p.Events) == 0 && len(p.Lifetime) == 0 && len(p.Last) == 0 && len(p.Members) == 0
}

// nextTimer returns the first instant after now at which a condition of d
// may change for the person without a new event: an event leaving a window,
// or a duration written in the definitions (or a whole day) passing since
// the latest event of a type that since(), days_since() or the RFM scores
// read. Zero when there is none.
func (p *Person) nextTimer(d *Definitions, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, e := range p.Events {
		for _, o := range d.offsets {
			consider(e.At.Add(o))
		}
	}
	for _, t := range d.sinceTypes {
		last, ok := p.Last[t]
		if !ok {
			continue
		}
		for _, o := range d.offsets {
			consider(last.At.Add(o))
		}
		days := now.Sub(last.At) / (24 * time.Hour)
		consider(last.At.Add((days + 1) * 24 * time.Hour))
	}
	return next
}

// value computes call c for the person as of now.
func (p *Person) value(d *Definitions, c *boundCall, now time.Time) any {
	s := &c.spec
	switch s.fn {
	case fnCount, fnSum, fnMin, fnMax:
		var a aggregate
		if s.window == 0 {
			if l := p.Lifetime[c.text]; l != nil {
				a = *l
			}
		} else {
			from := now.Add(-s.window)
			for i := range p.Events {
				e := &p.Events[i]
				if !e.At.After(from) || e.At.After(now) || !s.matches(e) {
					continue
				}
				x, ok := 1.0, true
				if s.fn != fnCount {
					x, ok = e.number(s.field)
				}
				if ok {
					a.add(x)
				}
			}
		}
		switch s.fn {
		case fnCount:
			return a.Count
		case fnSum:
			return a.Sum
		case fnMin:
			return a.Min
		}
		return a.Max
	case fnLast:
		if e, ok := p.Last[s.eventType]; ok {
			return e.field(s.field)
		}
		return ""
	case fnLastTime:
		if e, ok := p.Last[s.eventType]; ok {
			return e.At
		}
		return time.Unix(0, 0).UTC()
	case fnSince:
		if e, ok := p.Last[s.eventType]; ok {
			return now.Sub(e.At)
		}
		return never
	case fnDaysSince:
		if e, ok := p.Last[s.eventType]; ok {
			return int64(now.Sub(e.At) / (24 * time.Hour))
		}
		return int64(-1)
	}
	return p.rfm(d, s.field, now)
}

// rfm returns one RFM score as of now: 0 without purchases, else 1 to 5.
func (p *Person) rfm(d *Definitions, field string, now time.Time) int64 {
	r := d.RFM
	last, ok := p.Last[r.EventType]
	if !ok {
		return 0
	}
	if field == "recency" {
		days := float64(now.Sub(last.At) / (24 * time.Hour))
		score := int64(5)
		for _, b := range r.Recency {
			if days <= b {
				return score
			}
			score--
		}
		return 1
	}
	bands, x := r.Frequency, float64(0)
	if a := p.Lifetime[d.rfmKeys[0]]; a != nil {
		x = float64(a.Count)
	}
	if field == "monetary" {
		bands, x = r.Monetary, 0
		if a := p.Lifetime[d.rfmKeys[1]]; a != nil {
			x = a.Sum
		}
	}
	score := int64(1)
	for _, b := range bands {
		if x >= b {
			score++
		}
	}
	return score
}

// rfmCount and rfmRevenue are the lifetime specs the RFM scores read.
func rfmCount(r RFM) spec   { return spec{fn: fnCount, eventType: r.EventType} }
func rfmRevenue(r RFM) spec { return spec{fn: fnSum, eventType: r.EventType, field: "revenue"} }
