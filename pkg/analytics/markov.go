package analytics

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// markovTolerance is the largest change of any state's conversion
// probability in the last sweep of the solver: the probabilities it
// returns are that close to the fixed point (for chains that leave a state
// with probability well above the tolerance).
const markovTolerance = 1e-15

// markovMaxSweeps bounds the solver: a chain that has not settled after
// this many sweeps is reported, never iterated forever.
const markovMaxSweeps = 100000

// MarkovCredits shares the conversions of paths by the Markov model of the
// given order: a chain whose states are the last order states of a path
// (start -> states -> conversion or null), transition probabilities
// counted over every path (conversions and nulls alike); the removal effect
// of a state s is 1 - P(conversion without s) / P(conversion), where
// removing s sends every transition into a chain state containing s to
// null; each converting path's conversions, revenue and unconverted
// conversions are shared among its distinct states in proportion to their
// removal effects. Conversions without touches go to none. Safe for
// concurrent use.
func MarkovCredits(paths []Path, order int, none string) (map[string]Credit, error) {
	if order < 1 || order > MaxMarkovOrder {
		return nil, fmt.Errorf("markov order %d is not within 1 to %d", order, MaxMarkovOrder)
	}
	c := buildChain(paths, order)
	base, err := c.conversion(nil)
	if err != nil {
		return nil, err
	}
	removal := map[string]float64{}
	for _, s := range c.names {
		if base == 0 {
			break // no path with touches converts: nothing to share
		}
		p, err := c.conversion(c.containing[s])
		if err != nil {
			return nil, err
		}
		removal[s] = math.Max(0, 1-p/base)
	}
	var shareErr error
	credits := shareCredits(paths, none, func(p Path) map[string]float64 {
		states := distinct(p.States)
		total := 0.0
		for _, s := range states {
			total += removal[s]
		}
		if total <= 0 {
			shareErr = fmt.Errorf("markov: the path %s converts but none of its states has a removal effect", strings.Join(p.States, " > "))
			return nil
		}
		out := make(map[string]float64, len(states))
		for _, s := range states {
			out[s] = removal[s] / total
		}
		return out
	})
	return credits, shareErr
}

// chain is an absorbing Markov chain over the states of paths.
type chain struct {
	// nodes are the chain's states; an edge's weight counts the paths
	// that took it.
	nodes []node
	// start are the transitions from the start, and startWeight their sum.
	start       []edge
	startWeight float64
	// names are the path states in sorted order, and containing the
	// nodes that contain each.
	names      []string
	containing map[string][]int
}

// node is one state of the chain: its transitions to other nodes, the
// weight of those to conversion, and the weight of all its transitions.
type node struct {
	out               []edge
	converted, weight float64
}

type edge struct {
	to     int
	weight float64
}

// buildChain counts the transitions of paths in a chain of the given order.
func buildChain(paths []Path, order int) *chain {
	c := &chain{containing: map[string][]int{}}
	ids := map[string]int{}
	weights := map[[2]int]float64{} // from (-1: start) -> to
	id := func(window []string) int {
		key := strings.Join(window, " > ")
		if n, ok := ids[key]; ok {
			return n
		}
		n := len(c.nodes)
		ids[key] = n
		c.nodes = append(c.nodes, node{})
		for _, s := range distinct(window) {
			if _, ok := c.containing[s]; !ok {
				c.names = append(c.names, s)
			}
			c.containing[s] = append(c.containing[s], n)
		}
		return n
	}
	for _, p := range paths {
		w := p.Conversions + p.Nulls
		if len(p.States) == 0 || w == 0 {
			continue
		}
		from := -1
		for i := range p.States {
			to := id(p.States[max(0, i+1-order) : i+1])
			weights[[2]int{from, to}] += w
			from = to
		}
		c.nodes[from].converted += p.Conversions
		c.nodes[from].weight += w
	}
	keys := make([][2]int, 0, len(weights))
	for k := range weights {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		e := edge{to: k[1], weight: weights[k]}
		if k[0] < 0 {
			c.start = append(c.start, e)
			c.startWeight += e.weight
			continue
		}
		c.nodes[k[0]].out = append(c.nodes[k[0]].out, e)
		c.nodes[k[0]].weight += e.weight
	}
	sort.Strings(c.names)
	return c
}

// conversion returns the probability of reaching conversion from the
// start with the given nodes removed (their transitions lead to null). It
// solves p(n) = (converted(n) + sum over edges of weight * p(to)) /
// weight(n) by Gauss-Seidel sweeps, the later nodes first (paths mostly
// lead to later nodes), until no probability changes by more than
// markovTolerance.
func (c *chain) conversion(removed []int) (float64, error) {
	if c.startWeight == 0 {
		return 0, nil
	}
	gone := make([]bool, len(c.nodes))
	for _, n := range removed {
		gone[n] = true
	}
	p := make([]float64, len(c.nodes))
	for sweep := 0; sweep < markovMaxSweeps; sweep++ {
		change := 0.0
		for n := len(c.nodes) - 1; n >= 0; n-- {
			if gone[n] {
				continue
			}
			v := c.nodes[n].converted
			for _, e := range c.nodes[n].out {
				v += e.weight * p[e.to]
			}
			v /= c.nodes[n].weight
			change = math.Max(change, math.Abs(v-p[n]))
			p[n] = v
		}
		if change <= markovTolerance {
			total := 0.0
			for _, e := range c.start {
				total += e.weight * p[e.to]
			}
			return total / c.startWeight, nil
		}
	}
	return 0, fmt.Errorf("markov: the chain's conversion probabilities did not settle within %d sweeps (paths that cycle between the same channels over and over); narrow the range or lower the order", markovMaxSweeps)
}
