package alerts

import (
	"math"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
)

func ptr(f float64) *float64 { return &f }

func byGroup(obs []Observation) map[string]Observation {
	out := map[string]Observation{}
	for _, o := range obs {
		out[o.Group.Key()] = o
	}
	return out
}

func TestThresholdWithMinimumVolume(t *testing.T) {
	r := &rules.Rule{KPI: rules.CTR, Scope: rules.ScopeChannel, MinVolume: 1000, Condition: rules.Condition{Kind: rules.Threshold, Below: ptr(0.01)}}
	cur := map[Group]*measures{
		{Channel: "email"}:       {impressions: 2000, clicks: 10},  // 0.005: breach
		{Channel: "sms"}:         {impressions: 500, clicks: 0},    // 0 but below the volume
		{Channel: "paid_search"}: {impressions: 2000, clicks: 100}, // 0.05
		{Channel: "web"}:         {events: 7},                      // no impressions: undefined
	}
	got := byGroup(observe(r, cur, nil))
	for key, want := range map[string]bool{"email": true, "sms": false, "paid_search": false, "web": false} {
		if got[key].Breach != want {
			t.Errorf("%s: breach %v, want %v (%+v)", key, got[key].Breach, want, got[key])
		}
	}
	if got["web"].Defined || got["email"].Value != 0.005 || got["email"].Reference != 0.01 {
		t.Errorf("values: %+v", got)
	}
}

func TestChangeAgainstReferenceWindow(t *testing.T) {
	r := &rules.Rule{KPI: rules.Clicks, Scope: rules.ScopeChannel, Condition: rules.Condition{Kind: rules.Change, Versus: rules.PreviousWindow, Below: ptr(-50), Above: ptr(100)}}
	cur := map[Group]*measures{{Channel: "a"}: {clicks: 40}, {Channel: "b"}: {clicks: 60}, {Channel: "c"}: {clicks: 5}, {Channel: "d"}: {clicks: 201}}
	ref := map[Group]*measures{{Channel: "a"}: {clicks: 100}, {Channel: "b"}: {clicks: 100}, {Channel: "d"}: {clicks: 100}, {Channel: "e"}: {clicks: 10}}
	got := byGroup(observe(r, cur, []map[Group]*measures{ref}))
	for key, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true, "e": true} {
		if got[key].Breach != want {
			t.Errorf("%s: breach %v, want %v (%+v)", key, got[key].Breach, want, got[key])
		}
	}
	if got["a"].Score != -60 || got["e"].Score != -100 || got["a"].Reference != 100 {
		t.Errorf("scores: a %+v, e %+v", got["a"], got["e"])
	}
}

func TestAnomalyZScore(t *testing.T) {
	r := &rules.Rule{KPI: rules.Events, Condition: rules.Condition{Kind: rules.Anomaly, Z: 3, Trailing: 5, Direction: rules.Both}}
	series := func(values ...float64) []map[Group]*measures {
		out := make([]map[Group]*measures, len(values))
		for i, v := range values {
			out[i] = map[Group]*measures{{}: {events: v}}
		}
		return out
	}
	trailing := series(10, 12, 8, 10, 10) // mean 10, sample deviation sqrt(2)
	for _, c := range []struct {
		current float64
		breach  bool
		z       float64
	}{{20, true, 10 / math.Sqrt2}, {11, false, 1 / math.Sqrt2}, {5, true, -5 / math.Sqrt2}} {
		o := observe(r, map[Group]*measures{{}: {events: c.current}}, trailing)[0]
		if o.Breach != c.breach || math.Abs(o.Score-c.z) > 1e-9 || o.Reference != 10 {
			t.Errorf("current %v: %+v, want breach %v and z %v", c.current, o, c.breach, c.z)
		}
	}
	r.Condition.Direction = rules.Up
	if o := observe(r, map[Group]*measures{{}: {events: 5}}, trailing)[0]; o.Breach {
		t.Errorf("direction up fired on a drop: %+v", o)
	}
	flat := series(5, 5, 5)
	if o := observe(r, map[Group]*measures{{}: {events: 5}}, flat)[0]; o.Breach {
		t.Errorf("a constant series fired on its own value: %+v", o)
	}
	if o := observe(r, map[Group]*measures{{}: {events: 6}}, flat)[0]; !o.Breach || math.IsInf(o.Score, 0) {
		t.Errorf("a constant series did not fire on a change, or scored infinity: %+v", o)
	}
	r.MinVolume = 21
	if o := observe(r, map[Group]*measures{{}: {events: 20}}, trailing)[0]; o.Breach {
		t.Errorf("fired below the minimum volume: %+v", o)
	}
}

func TestSilence(t *testing.T) {
	r := &rules.Rule{KPI: rules.NoData, Scope: rules.ScopeChannel, Window: time.Hour, Condition: rules.Condition{Kind: rules.Silence, Lookback: 7 * 24 * time.Hour}}
	cur := map[Group]*measures{{Channel: "email"}: {events: 3}}
	lookback := map[Group]*measures{{Channel: "email"}: {events: 30}, {Channel: "sms"}: {events: 2}}
	got := byGroup(observe(r, cur, []map[Group]*measures{lookback}))
	if got["email"].Breach || !got["sms"].Breach || got["sms"].Reference != 2 {
		t.Errorf("silence: %+v", got)
	}
}

func TestWindows(t *testing.T) {
	at := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	r := &rules.Rule{Window: time.Hour, Delay: 30 * time.Second, Condition: rules.Condition{Kind: rules.Anomaly, Trailing: 3, Season: 24 * time.Hour}}
	cur, refs := ruleWindows(r, at)
	end := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	if !cur.To.Equal(end) || !cur.From.Equal(end.Add(-time.Hour)) || len(refs) != 3 || !refs[2].To.Equal(end.AddDate(0, 0, -3)) {
		t.Errorf("windows %v %v", cur, refs)
	}
	r.Condition = rules.Condition{Kind: rules.Change, Versus: rules.WeekAgo}
	if _, refs = ruleWindows(r, at); !refs[0].From.Equal(end.Add(-time.Hour).AddDate(0, 0, -7)) {
		t.Errorf("week ago: %v", refs)
	}
}
