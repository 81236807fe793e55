package segments

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/pkg/segments/settings"
)

// BenchmarkStage measures what the stateful stage does for each input,
// without Kafka and ClickHouse: a processor on the local state (pebble)
// with the shipped definitions (allowed lateness 200ms, as make
// bench-segments runs them), events 50µs apart (20,000/s), 200,000 persons loaded with one event
// each, then events of random persons (one op each) in batches of 5,000
// inputs, the router's progress every 100 events, and after each batch
// the changed persons encoded and written to the local state and the
// memory bounded to cache_persons, as the service does.
func BenchmarkStage(b *testing.B) {
	for _, cache := range []int{settings.DefaultConfig().CachePersons, 200_000} {
		b.Run(fmt.Sprintf("cache_persons=%d", cache), func(b *testing.B) { benchmarkStage(b, cache) })
	}
}

func benchmarkStage(b *testing.B, cachePersons int) {
	const persons, batch = 200_000, 5_000
	shipped, err := os.ReadFile("../../pipelines/segments.yaml")
	if err != nil {
		b.Fatal(err)
	}
	defs, err := engine.ParseDefinitions("segments.yaml", bytes.Replace(shipped, []byte("allowed_lateness: 5m"), []byte("allowed_lateness: 200ms"), 1))
	if err != nil {
		b.Fatal(err)
	}
	l, err := openLocalState(b.TempDir(), 512<<20, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	proc, err := NewProcessor(defs, 0, 1)
	if err != nil {
		b.Fatal(err)
	}
	proc.WithStore(partitionStore{l: l, p: 0})
	types := []string{"page_view", "page_view", "page_view", "add_to_cart", "email_open", "email_click", "purchase", "signup"}
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	add := func(person int, typ string) {
		at = at.Add(50 * time.Microsecond)
		e := &engine.Event{ID: fmt.Sprint("e", n), Person: fmt.Sprint("p", person), At: at, Type: typ, Channel: "email"}
		if typ == "purchase" {
			e.Revenue = 120
		}
		if _, err := proc.Add(engine.Input{Event: e}); err != nil {
			b.Fatal(err)
		}
		if n++; n%100 == 0 {
			if _, err := proc.Add(engine.Input{Progress: &engine.Progress{Sources: 1, Read: map[int32]time.Time{0: at}}}); err != nil {
				b.Fatal(err)
			}
		}
		if n%batch == 0 {
			commitLocal(b, l, proc, int64(n), cachePersons)
		}
	}
	for i := 0; i < persons; i++ {
		add(i, "email_open") // an event the definitions read: each person has state
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime(b)
	for i := 0; i < b.N; i++ {
		add(rng.IntN(persons), types[rng.IntN(len(types))])
	}
	// The process's CPU time (pebble's compactions and the GC included)
	// varies less than the wall time on a machine that others share.
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the CPU time the process has used, in nanoseconds.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// commitLocal writes the processor's changed persons, pending inputs and
// meta to the local state, and bounds its memory, as a committed batch
// does.
func commitLocal(b *testing.B, l *localState, proc *engine.Processor, next int64, cachePersons int) {
	writes, err := stateWrites(proc)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.apply(0, writes, next, time.Now()); err != nil {
		b.Fatal(err)
	}
	proc.Evict(cachePersons)
}
