package channel

import (
	"strings"
	"sync"
)

// Bounds of the results a rule set remembers (see results).
const (
	// resultsSize is how many inputs it remembers before it forgets them
	// all.
	resultsSize = 16384
	// resultsMaxBytes is the longest input, in bytes of its normalised
	// fields, that it remembers: longer ones are classified every time.
	resultsMaxBytes = 512
)

// results remembers the rule that matched each recent normalised input.
// Marketing traffic repeats its UTM parameters, referrer hosts and event
// types over and over, and matching the rules' regular expressions costs
// far more than a map lookup. Rules are immutable, so a remembered result
// stays true. When full it forgets everything and starts again, so it holds
// at most resultsSize inputs of at most resultsMaxBytes each, whatever the
// traffic. It is safe for concurrent use; a nil *results remembers nothing.
type results struct {
	mu sync.Mutex
	m  map[values]int
}

// newResults returns an empty results.
func newResults() *results { return &results{m: make(map[values]int)} }

// get returns the index of the rule remembered for v.
func (c *results) get(v *values) (int, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	i, ok := c.m[*v]
	c.mu.Unlock()
	return i, ok
}

// put remembers that rule i matches v. The strings are copied, so the
// record v was read from is not kept alive.
func (c *results) put(v *values, i int) {
	if c == nil {
		return
	}
	size := 0
	for _, s := range v {
		size += len(s)
	}
	if size > resultsMaxBytes {
		return
	}
	var key values
	for f, s := range v {
		key[f] = strings.Clone(s)
	}
	c.mu.Lock()
	if len(c.m) >= resultsSize {
		clear(c.m)
	}
	c.m[key] = i
	c.mu.Unlock()
}
