//go:build race

package channel

// raceEnabled is whether the race detector is on: it makes sync.Pool, and so
// regexp matching, allocate at random.
const raceEnabled = true
