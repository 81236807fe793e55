package integration

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/identitymap"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// mapTopic writes identity map records and keeps the state the topic
// describes: the last person of every identifier ever written.
type mapTopic struct {
	t       *testing.T
	topic   string
	cl      *kgo.Client
	pending []*kgo.Record
	want    map[string]string                 // key -> person, absent when removed
	ids     map[string]identifiers.Identifier // every key written
}

func (w *mapTopic) assign(id identifiers.Identifier, person string) {
	k, v := stitch.EncodeAssignment(stitch.Assignment{Identifier: id, Person: person, FirstSeen: time.Now()})
	w.pending = append(w.pending, &kgo.Record{Topic: w.topic, Key: k, Value: v})
	w.want[string(k)], w.ids[string(k)] = person, id
}

func (w *mapTopic) tombstone(id identifiers.Identifier) {
	k := stitch.MapKey(id)
	w.pending = append(w.pending, &kgo.Record{Topic: w.topic, Key: k})
	delete(w.want, string(k))
	w.ids[string(k)] = id
}

// malformed writes a record the map must skip, leaving the state as is.
func (w *mapTopic) malformed(key, value string) {
	w.pending = append(w.pending, &kgo.Record{Topic: w.topic, Key: []byte(key), Value: []byte(value)})
}

// flush produces the pending records through cl in order.
func (w *mapTopic) flush(ctx context.Context, cl *kgo.Client) {
	w.t.Helper()
	for len(w.pending) > 0 {
		n := min(len(w.pending), 1000)
		if err := cl.ProduceSync(ctx, w.pending[:n]...).FirstErr(); err != nil {
			w.t.Fatalf("producing identity map records: %v", err)
		}
		w.pending = w.pending[n:]
	}
}

// transaction produces the pending records in a transaction through tx,
// committing or aborting it. Aborted records leave the state unchanged.
func (w *mapTopic) transaction(ctx context.Context, tx *kgo.Client, commit bool, before map[string]string) {
	w.t.Helper()
	if err := tx.BeginTransaction(); err != nil {
		w.t.Fatal(err)
	}
	w.flush(ctx, tx)
	if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		w.t.Fatalf("ending transaction: %v", err)
	}
	if !commit {
		w.want = before
	}
}

func (w *mapTopic) endOffsets(ctx context.Context) map[int32]int64 {
	w.t.Helper()
	ends, err := kadm.NewClient(w.cl).ListEndOffsets(ctx, w.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		w.t.Fatal(err)
	}
	out := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// check compares every identifier ever written with the state of w.
func (w *mapTopic) check(name string, m *identitymap.Map) {
	w.t.Helper()
	bad := 0
	for k, id := range w.ids {
		got, err := m.Lookup(id)
		if err != nil {
			w.t.Fatalf("%s: Lookup(%s): %v", name, k, err)
		}
		if want := w.want[k]; got != want {
			if bad++; bad <= 10 {
				w.t.Errorf("%s: Lookup(%s) = %q, want %q", name, k, got, want)
			}
		}
	}
	if bad > 0 {
		w.t.Fatalf("%s: %d of %d identifiers differ", name, bad, len(w.ids))
	}
	if m.Len() != len(w.want) {
		w.t.Fatalf("%s: Len = %d, want %d", name, m.Len(), len(w.want))
	}
}

// following is a Map with Follow running.
type following struct {
	dir  string
	m    *identitymap.Map
	stop context.CancelFunc
	done chan error
}

func follow(t *testing.T, dir string, kcfg kafka.Config, topic string) *following {
	t.Helper()
	m, err := identitymap.Open(dir, identitymap.DefaultCacheEntries, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	f := &following{dir: dir, m: m, stop: stop, done: make(chan error, 1)}
	go func() { f.done <- m.Follow(ctx, kcfg, topic) }()
	t.Cleanup(func() { f.close(t) })
	return f
}

// close stops Follow, checks that it stopped cleanly and closes the map.
func (f *following) close(t *testing.T) {
	if f.done == nil {
		return
	}
	f.stop()
	if err := <-f.done; err != nil {
		t.Errorf("Follow: %v", err)
	}
	f.done = nil
	if err := f.m.Close(); err != nil {
		t.Error(err)
	}
}

func catchUp(ctx context.Context, t *testing.T, m *identitymap.Map) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.CatchUp(ctx); err != nil {
		t.Fatalf("CatchUp: %v", err)
	}
	t.Logf("caught up with %d identifiers in %s", m.Len(), time.Since(start).Round(time.Millisecond))
}

func randomID(rng *rand.Rand, i int) identifiers.Identifier {
	switch i % 3 {
	case 0:
		return identifiers.Identifier{Type: identifiers.CustomerID, Value: fmt.Sprintf("c%d", i)}
	case 1:
		return identifiers.Identifier{Type: identifiers.Email, Value: fmt.Sprintf("%016x%016x", i, rng.Uint64())}
	}
	return identifiers.Identifier{Type: identifiers.AnonymousID, Value: fmt.Sprintf("anon:%d", i)}
}

// TestIdentityMapFollowsCompactedTopic fills a compacted, three-partition
// identity map topic with assignments, re-assignments, tombstones, malformed
// records and transactions, and checks that a Map following it holds the
// last state of every identifier after CatchUp; that a restarted Map resumes
// from the offsets it stored and misses nothing written while it was down;
// and that a second Map in another directory converges to the same state.
func TestIdentityMapFollowsCompactedTopic(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	name := uniqueName(t)
	kcfg := s.Config(name).Kafka
	topic := name + ".identity_map"
	cl, err := kafka.NewClient(kcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Compacted, with small segments so that the cleaner may compact the
	// topic during the test: the state must not depend on it.
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, map[string]*string{
		"cleanup.policy": new("compact"), "segment.ms": new("1000"), "min.cleanable.dirty.ratio": new("0.01"),
	}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating compacted topic: %v", err)
	}
	w := &mapTopic{t: t, topic: topic, cl: cl, want: map[string]string{}, ids: map[string]identifiers.Identifier{}}
	rng := rand.New(rand.NewPCG(7, 11))
	ids := make([]identifiers.Identifier, 5000)
	for i := range ids {
		ids[i] = randomID(rng, i)
	}
	person := func() string { return fmt.Sprintf("p_%d", rng.IntN(1500)) }

	// 1. A few thousand assignments, re-assignments and tombstones.
	for _, id := range ids[:3000] {
		w.assign(id, person())
	}
	for range 800 {
		w.assign(ids[rng.IntN(3000)], person())
	}
	for range 400 {
		w.tombstone(ids[rng.IntN(3000)])
	}
	w.malformed("no-colon", `{"person":"p_1","first_seen":1}`)
	w.malformed(string(stitch.MapKey(ids[1])), `not json`)
	w.flush(ctx, cl)
	a := follow(t, t.TempDir(), kcfg, topic)
	catchUp(ctx, t, a.m)
	w.check("first run", a.m)
	ends := w.endOffsets(ctx)
	if got := a.m.Offsets(); !maps.Equal(got, ends) {
		t.Fatalf("offsets after CatchUp %v, want the end offsets %v", got, ends)
	}
	a.close(t)
	stateAtStop := maps.Clone(w.want)

	// 2. More records while the map is stopped: new identifiers,
	// re-assignments, removals, re-added identifiers, a committed and an
	// aborted transaction (its markers end the partitions).
	for _, id := range ids[3000:4500] {
		w.assign(id, person())
	}
	for range 500 {
		w.assign(ids[rng.IntN(4500)], person())
	}
	for range 300 {
		id := ids[rng.IntN(4500)]
		w.tombstone(id)
		if rng.IntN(3) == 0 {
			w.assign(id, person())
		}
	}
	w.flush(ctx, cl)
	tx, err := kafka.NewClient(kcfg, nil, kgo.TransactionalID(name+".tx"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	for _, id := range ids[4500:4700] {
		w.assign(id, person())
	}
	w.tombstone(ids[0])
	w.transaction(ctx, tx, true, nil)
	before := maps.Clone(w.want)
	for _, id := range ids[4700:] {
		w.assign(id, "p_aborted")
	}
	for _, id := range ids[:300] {
		w.assign(id, "p_aborted")
	}
	w.tombstone(ids[3])
	w.transaction(ctx, tx, false, before)

	// Restart in the same directory: the stored state and offsets are those
	// of the first run, and following resumes from them.
	a = follow(t, a.dir, kcfg, topic)
	if a.m.Len() != len(stateAtStop) {
		t.Errorf("Len after restart = %d, want %d (the state at stop)", a.m.Len(), len(stateAtStop))
	}
	if got := a.m.Offsets(); !maps.Equal(got, ends) {
		t.Errorf("offsets after restart %v, want the stored %v", got, ends)
	}
	catchUp(ctx, t, a.m)
	w.check("after restart", a.m)
	if got, want := a.m.Offsets(), w.endOffsets(ctx); !maps.Equal(got, want) {
		t.Fatalf("offsets after CatchUp %v, want the end offsets %v", got, want)
	}

	// 3. A second map in another directory reads the topic from the start
	// and converges to the same state, also with records written while both
	// follow.
	b := follow(t, t.TempDir(), kcfg, topic)
	catchUp(ctx, t, b.m)
	w.check("second map", b.m)
	for range 300 {
		if id := ids[rng.IntN(len(ids))]; rng.IntN(4) == 0 {
			w.tombstone(id)
		} else {
			w.assign(id, person())
		}
	}
	w.flush(ctx, cl)
	catchUp(ctx, t, a.m)
	catchUp(ctx, t, b.m)
	w.check("restarted map, live", a.m)
	w.check("second map, live", b.m)
	for k, id := range w.ids {
		pa, _ := a.m.Lookup(id)
		pb, _ := b.m.Lookup(id)
		if pa != pb {
			t.Fatalf("maps differ on %s: %q and %q", k, pa, pb)
		}
	}
}
