package alerts

import (
	"math"
	"sort"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
)

// Observation is a rule's verdict on one group at one evaluation.
type Observation struct {
	Group Group
	// Value is the KPI in the window; Defined is false for a ratio of
	// nothing (e.g. ctr without impressions).
	Value   float64
	Defined bool
	// Volume is what min_volume is compared with.
	Volume float64
	// Reference is what the value was compared with: the reference
	// window's value (change), the trailing mean (anomaly), the events in
	// the lookback (no_data), or the bound crossed (threshold).
	Reference float64
	// Score is the change in percent (change) or the z-score (anomaly).
	Score float64
	// Breach says whether the condition holds.
	Breach bool
	// Currency is the ISO 4217 code of a money KPI's value and reference
	// (the pipelines' reporting currency); empty for the other KPIs and
	// without a reporting currency (money as stored).
	Currency string
}

// observe applies r's condition to the measures of the current window and
// of the reference windows (in Rule.windows' order), returning one
// observation per group, ordered by group key.
func observe(r *rules.Rule, current map[Group]*measures, refs []map[Group]*measures) []Observation {
	groups := map[Group]bool{}
	for g := range current {
		groups[g] = true
	}
	if r.Condition.Kind != rules.Threshold {
		for _, ref := range refs {
			for g := range ref {
				groups[g] = true
			}
		}
	}
	out := make([]Observation, 0, len(groups))
	for g := range groups {
		o := Observation{Group: g}
		o.Value, o.Defined, o.Volume = get(current, g).kpi(r.KPI)
		if o.Defined {
			o.Breach = breach(r, &o, g, refs)
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group.Key() < out[j].Group.Key() })
	return out
}

// get returns g's measures, zero when g saw nothing.
func get(m map[Group]*measures, g Group) *measures {
	if x := m[g]; x != nil {
		return x
	}
	return &measures{}
}

// breach fills o's reference and score and reports whether the condition
// holds for o's defined value.
func breach(r *rules.Rule, o *Observation, g Group, refs []map[Group]*measures) bool {
	c := r.Condition
	if c.Kind == rules.Silence {
		o.Reference = get(refs[0], g).events
		return o.Reference > 0 && o.Value == 0
	}
	if o.Volume < r.MinVolume {
		return false
	}
	switch c.Kind {
	case rules.Threshold:
		if c.Above != nil && o.Value > *c.Above {
			o.Reference = *c.Above
			return true
		}
		if c.Below != nil && o.Value < *c.Below {
			o.Reference = *c.Below
			return true
		}
		return false
	case rules.Change:
		ref, ok, _ := get(refs[0], g).kpi(r.KPI)
		if !ok || ref == 0 {
			return false
		}
		o.Reference = ref
		o.Score = (o.Value - ref) / math.Abs(ref) * 100
		return (c.Above != nil && o.Score > *c.Above) || (c.Below != nil && o.Score < *c.Below)
	default: // Anomaly
		var values []float64
		for _, ref := range refs {
			if v, ok, _ := get(ref, g).kpi(r.KPI); ok {
				values = append(values, v)
			}
		}
		if len(values) < 3 {
			return false
		}
		mean, std := meanStd(values)
		// A constant series gets a tiny deviation, so that anything off
		// it scores far above any z while the score stays finite.
		std = max(std, 1e-9*max(math.Abs(mean), 1))
		o.Reference, o.Score = mean, (o.Value-mean)/std
		switch c.Direction {
		case rules.Up:
			return o.Score >= c.Z
		case rules.Down:
			return o.Score <= -c.Z
		}
		return math.Abs(o.Score) >= c.Z
	}
}

// meanStd returns the mean and the sample standard deviation of values.
func meanStd(values []float64) (mean, std float64) {
	for _, v := range values {
		mean += v
	}
	mean /= float64(len(values))
	var ss float64
	for _, v := range values {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(values)-1))
}
