package analytics

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ShapleyCredits shares the conversions of paths by the Shapley model: the
// coalition of a path is the set of its states, and a coalition's value
// v(T) is the conversion rate conversions / (conversions + nulls) of the
// paths whose set is exactly T (0 for a set no path has, and for the empty
// set). A converting path with set S shares its conversions, revenue and
// unconverted conversions among the members of S in proportion to their
// Shapley values in the game v restricted to S, negative values counted
// as 0. Exact for any number of states: the values are summed over the
// subsets of S (2^|S| of them) or over the sets that paths have, whichever
// are fewer. Conversions without touches go to none. Safe for concurrent
// use.
func ShapleyCredits(paths []Path, none string) map[string]Credit {
	g := newGame(paths)
	cache := map[string]map[string]float64{}
	return shareCredits(paths, none, func(p Path) map[string]float64 {
		members := g.members(p.States)
		key := setKey(members)
		if shares, ok := cache[key]; ok {
			return shares
		}
		values := g.shapley(members)
		total := 0.0
		for _, v := range values {
			total += math.Max(v, 0)
		}
		shares := make(map[string]float64, len(members))
		for i, m := range members {
			// The values sum to v(S) > 0 for a converting S, so total > 0.
			shares[g.names[m]] = math.Max(values[i], 0) / total
		}
		cache[key] = shares
		return shares
	})
}

// game is the coalition game of the paths: each set of states that a path
// has, with its conversion rate.
type game struct {
	names []string
	index map[string]int
	// sets are the coalitions that paths have, by setKey, with their
	// members and value.
	sets map[string]coalition
}

type coalition struct {
	members []int
	value   float64
}

func newGame(paths []Path) *game {
	g := &game{index: map[string]int{}, sets: map[string]coalition{}}
	for _, p := range paths {
		for _, s := range p.States {
			if _, ok := g.index[s]; !ok {
				g.index[s] = -1
				g.names = append(g.names, s)
			}
		}
	}
	sort.Strings(g.names)
	for i, s := range g.names {
		g.index[s] = i
	}
	counts := map[string][2]float64{}
	for _, p := range paths {
		if len(p.States) == 0 {
			continue
		}
		key := setKey(g.members(p.States))
		c := counts[key]
		counts[key] = [2]float64{c[0] + p.Conversions, c[1] + p.Nulls}
	}
	for _, p := range paths {
		if len(p.States) == 0 {
			continue
		}
		members := g.members(p.States)
		key := setKey(members)
		c := counts[key]
		if c[0]+c[1] > 0 {
			g.sets[key] = coalition{members: members, value: c[0] / (c[0] + c[1])}
		}
	}
	return g
}

// members returns the sorted indexes of the distinct states.
func (g *game) members(states []string) []int {
	var out []int
	for _, s := range states {
		if i := g.index[s]; !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// setKey is the key of a set of sorted member indexes.
func setKey(members []int) string {
	parts := make([]string, len(members))
	for i, m := range members {
		parts[i] = strconv.Itoa(m)
	}
	return strings.Join(parts, ",")
}

// value returns v of the set of sorted members.
func (g *game) value(members []int) float64 {
	return g.sets[setKey(members)].value
}

// shapley returns the Shapley value of each member of the sorted set s in
// the game v restricted to s: phi(i) = sum over T in s without i of
// |T|! (n - |T| - 1)! / n! * (v(T + i) - v(T)).
func (g *game) shapley(s []int) []float64 {
	n := len(s)
	weight := shapleyWeights(n)
	phi := make([]float64, n)
	if n < 63 && 1<<n <= len(g.sets) {
		g.bySubsets(s, weight, phi)
	} else {
		g.bySets(s, weight, phi)
	}
	return phi
}

// shapleyWeights returns the weights of coalitions of t = 0 .. n-1 other
// members in a game of n: t! (n-t-1)! / n! = 1 / (n * C(n-1, t)).
func shapleyWeights(n int) []float64 {
	weight := make([]float64, n)
	binomial := 1.0
	for t := range n {
		weight[t] = 1 / (float64(n) * binomial)
		binomial = binomial * float64(n-1-t) / float64(t+1)
	}
	return weight
}

// bySubsets sums the Shapley values of s over every subset of s.
func (g *game) bySubsets(s []int, weight, phi []float64) {
	n := len(s)
	values := make([]float64, 1<<n)
	sub := make([]int, 0, n)
	for mask := 1; mask < 1<<n; mask++ {
		sub = sub[:0]
		for i := range n {
			if mask&(1<<i) != 0 {
				sub = append(sub, s[i])
			}
		}
		values[mask] = g.value(sub)
	}
	for mask := 0; mask < 1<<n; mask++ {
		size := bits.OnesCount(uint(mask))
		for i := range n {
			if mask&(1<<i) == 0 {
				phi[i] += weight[size] * (values[mask|1<<i] - values[mask])
			}
		}
	}
}

// bySets sums the Shapley values of s over the sets that paths have:
// only they have a value, and a set U inside s adds weight[|U|-1] * v(U)
// to each of its members and takes weight[|U|] * v(U) from the others.
func (g *game) bySets(s []int, weight, phi []float64) {
	keys := make([]string, 0, len(g.sets))
	for k := range g.sets {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a fixed order of summation
	for _, k := range keys {
		u := g.sets[k]
		if len(u.members) > len(s) || !subset(u.members, s) {
			continue
		}
		for i, m := range s {
			if slices.Contains(u.members, m) {
				phi[i] += weight[len(u.members)-1] * u.value
			} else {
				phi[i] -= weight[len(u.members)] * u.value
			}
		}
	}
}

// subset reports whether the sorted set a lies in the sorted set b.
func subset(a, b []int) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
	}
	return true
}
