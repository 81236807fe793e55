// Package attributionref is the reference the data-driven attribution
// models are checked against: the definitions of docs/analytics.md written
// out again from raw touchpoints, sharing no code with pkg/analytics. It
// builds the paths itself (conversions in the range with their touches in
// the lookback, one null path per person with touches and no conversion,
// persons resolved through overrides, consecutive repeats collapsed),
// solves the Markov chain's absorption probabilities by Gaussian
// elimination and sums Shapley values over explicit coalitions.
package attributionref

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Event is one touchpoint.
type Event struct {
	Person, Type, Channel string
	At                    time.Time
	// Revenue in currency units.
	Revenue float64
}

// Settings are the attribution settings of a query.
type Settings struct {
	From, To       time.Time
	ConversionType string
	TouchTypes     []string
	Lookback       time.Duration
}

// Row is a path with its counts.
type Row struct {
	Channels           []string
	Conversions, Nulls float64
	Revenue            float64
}

// Paths returns the distinct paths of events, persons mapped by overrides
// (stored id -> surviving id).
func Paths(events []Event, overrides map[string]string, s Settings) []Row {
	touch := map[string]bool{}
	for _, t := range s.TouchTypes {
		touch[t] = true
	}
	byPerson := map[string][]Event{}
	for _, e := range events {
		p := e.Person
		if o, ok := overrides[p]; ok && o != "" {
			p = o
		}
		byPerson[p] = append(byPerson[p], e)
	}
	rows := map[string]*Row{}
	add := func(channels []string, conv bool, revenue float64) {
		var collapsed []string
		for i, c := range channels {
			if i == 0 || c != channels[i-1] {
				collapsed = append(collapsed, c)
			}
		}
		key := strings.Join(collapsed, "\x00")
		r, ok := rows[key]
		if !ok {
			r = &Row{Channels: collapsed}
			rows[key] = r
		}
		if conv {
			r.Conversions++
			r.Revenue += revenue
		} else {
			r.Nulls++
		}
	}
	inRange := func(t time.Time) bool { return !t.Before(s.From) && t.Before(s.To) }
	for _, evs := range byPerson {
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
		var touches, conversions []Event
		for _, e := range evs {
			if !e.At.Before(s.To) || e.At.Before(s.From.Add(-s.Lookback)) {
				continue
			}
			if touch[e.Type] {
				touches = append(touches, e)
			}
			if e.Type == s.ConversionType && inRange(e.At) {
				conversions = append(conversions, e)
			}
		}
		window := func(from, to time.Time, inclusive bool) []string {
			var out []string
			for _, t := range touches {
				if !t.At.Before(from) && (t.At.Before(to) || inclusive && t.At.Equal(to)) {
					out = append(out, t.Channel)
				}
			}
			return out
		}
		if len(conversions) > 0 {
			for _, c := range conversions {
				add(window(c.At.Add(-s.Lookback), c.At, false), true, c.Revenue)
			}
			continue
		}
		if len(touches) == 0 || !inRange(touches[len(touches)-1].At) {
			continue
		}
		last := touches[len(touches)-1].At
		add(window(last.Add(-s.Lookback), last, true), false, 0)
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join(out[i].Channels, "\x00") < strings.Join(out[j].Channels, "\x00")
	})
	return out
}

// Credit is a channel's share of conversions and revenue.
type Credit struct {
	Conversions, Revenue float64
}

// NoTouch is the channel of conversions without touches.
const NoTouch = "(none)"

// Markov returns the credits of the Markov model of the given order.
func Markov(rows []Row, order int) map[string]Credit {
	// States: the tuples of the last up to order channels, numbered.
	index := map[string]int{}
	var tuples [][]string
	state := func(t []string) int {
		k := strings.Join(t, "\x00")
		if i, ok := index[k]; ok {
			return i
		}
		index[k] = len(tuples)
		tuples = append(tuples, append([]string(nil), t...))
		return len(tuples) - 1
	}
	type walk struct {
		states    []int
		conv, all float64
	}
	var walks []walk
	for _, r := range rows {
		if len(r.Channels) == 0 {
			continue
		}
		w := walk{conv: r.Conversions, all: r.Conversions + r.Nulls}
		for i := range r.Channels {
			lo := i + 1 - order
			if lo < 0 {
				lo = 0
			}
			w.states = append(w.states, state(r.Channels[lo:i+1]))
		}
		walks = append(walks, w)
	}
	n := len(tuples)
	probability := func(removed string) float64 {
		gone := make([]bool, n)
		for i, t := range tuples {
			for _, c := range t {
				if c == removed {
					gone[i] = true
				}
			}
		}
		// counts[i][j]: i -> j; n is conversion; out[i]: all out of i.
		counts := make([][]float64, n)
		for i := range counts {
			counts[i] = make([]float64, n+1)
		}
		out := make([]float64, n)
		startTo := make([]float64, n)
		startAll := 0.0
		for _, w := range walks {
			startTo[w.states[0]] += w.all
			startAll += w.all
			for k := 0; k+1 < len(w.states); k++ {
				counts[w.states[k]][w.states[k+1]] += w.all
				out[w.states[k]] += w.all
			}
			last := w.states[len(w.states)-1]
			counts[last][n] += w.conv
			out[last] += w.all
		}
		// (I - Q) x = b over the states; removed states have x = 0.
		a := make([][]float64, n)
		for i := range a {
			a[i] = make([]float64, n+1)
			a[i][i] = 1
			if gone[i] {
				continue
			}
			for j := 0; j < n; j++ {
				if !gone[j] {
					a[i][j] -= counts[i][j] / out[i]
				}
			}
			a[i][n] = counts[i][n] / out[i]
		}
		x := solve(a)
		p := 0.0
		for i := 0; i < n; i++ {
			p += startTo[i] / startAll * x[i]
		}
		return p
	}
	base := probability("")
	effect := map[string]float64{}
	for _, r := range rows {
		for _, c := range r.Channels {
			if _, ok := effect[c]; !ok {
				effect[c] = math.Max(0, 1-probability(c)/base)
			}
		}
	}
	return share(rows, func(set []string) map[string]float64 {
		total := 0.0
		for _, c := range set {
			total += effect[c]
		}
		out := map[string]float64{}
		for _, c := range set {
			out[c] = effect[c] / total
		}
		return out
	})
}

// solve solves the augmented system a by Gaussian elimination with partial
// pivoting.
func solve(a [][]float64) []float64 {
	n := len(a)
	for col := 0; col < n; col++ {
		pivot := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[pivot][col]) {
				pivot = r
			}
		}
		a[col], a[pivot] = a[pivot], a[col]
		for r := 0; r < n; r++ {
			if r == col || a[r][col] == 0 {
				continue
			}
			f := a[r][col] / a[col][col]
			for k := col; k <= n; k++ {
				a[r][k] -= f * a[col][k]
			}
		}
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = a[i][n] / a[i][i]
	}
	return x
}

// Shapley returns the credits of the Shapley model.
func Shapley(rows []Row) map[string]Credit {
	conv, all := map[string]float64{}, map[string]float64{}
	for _, r := range rows {
		k := strings.Join(set(r.Channels), "\x00")
		conv[k] += r.Conversions
		all[k] += r.Conversions + r.Nulls
	}
	v := func(members []string) float64 {
		k := strings.Join(members, "\x00")
		if len(members) == 0 || all[k] == 0 { // v of the empty set is 0
			return 0
		}
		return conv[k] / all[k]
	}
	return share(rows, func(s []string) map[string]float64 {
		n := len(s)
		phi := map[string]float64{}
		total := 0.0
		for i, c := range s {
			others := append(append([]string(nil), s[:i]...), s[i+1:]...)
			sum := 0.0
			for mask := 0; mask < 1<<len(others); mask++ {
				var t []string
				for j, o := range others {
					if mask&(1<<j) != 0 {
						t = append(t, o)
					}
				}
				with := set(append(append([]string(nil), t...), c))
				w := factorial(len(t)) * factorial(n-len(t)-1) / factorial(n)
				sum += w * (v(with) - v(t))
			}
			phi[c] = math.Max(sum, 0)
			total += phi[c]
		}
		for c := range phi {
			phi[c] /= total
		}
		return phi
	})
}

func factorial(n int) float64 {
	f := 1.0
	for i := 2; i <= n; i++ {
		f *= float64(i)
	}
	return f
}

// set returns the sorted distinct channels.
func set(channels []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range channels {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// share credits each converting row's conversions and revenue to its
// channels by the weights of its channel set.
func share(rows []Row, weights func([]string) map[string]float64) map[string]Credit {
	out := map[string]Credit{}
	for _, r := range rows {
		if r.Conversions == 0 {
			continue
		}
		w := map[string]float64{NoTouch: 1}
		if len(r.Channels) > 0 {
			w = weights(set(r.Channels))
		}
		for c, x := range w {
			cr := out[c]
			cr.Conversions += x * r.Conversions
			cr.Revenue += x * r.Revenue
			out[c] = cr
		}
	}
	return out
}
