package identitymap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// open opens a map with a cache of 16 entries, so that every test also
// exercises the cache's eviction and its coherence with apply.
func open(t testing.TB, dir string) *Map {
	t.Helper()
	return openCached(t, dir, 16)
}

func openCached(t testing.TB, dir string, cacheEntries int) *Map {
	t.Helper()
	m, err := Open(dir, cacheEntries, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func cust(v string) identifiers.Identifier {
	return identifiers.Identifier{Type: identifiers.CustomerID, Value: v}
}

// recs builds records of one partition from consecutive offsets.
type recs struct {
	partition int32
	offset    int64
	out       []*kgo.Record
}

func (r *recs) add(key, value []byte) *recs {
	r.out = append(r.out, &kgo.Record{Topic: "map", Partition: r.partition, Offset: r.offset, Key: key, Value: value})
	r.offset++
	return r
}

func (r *recs) assign(id identifiers.Identifier, person string) *recs {
	return r.add(stitch.EncodeAssignment(stitch.Assignment{Identifier: id, Person: person, FirstSeen: time.UnixMilli(1)}))
}

func (r *recs) tombstone(id identifiers.Identifier) *recs { return r.add(stitch.MapKey(id), nil) }

func (r *recs) take() []*kgo.Record {
	out := r.out
	r.out = nil
	return out
}

func lookup(t testing.TB, m *Map, id identifiers.Identifier) string {
	t.Helper()
	p, err := m.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplySetsDeletesAndSkipsMalformed(t *testing.T) {
	m := open(t, t.TempDir())
	p0 := &recs{partition: 0}
	p0.assign(cust("a"), "p_1").
		assign(cust("b"), "p_2").
		assign(cust("a"), "p_3"). // re-assignment in the same batch
		tombstone(cust("b")).
		tombstone(cust("never")). // tombstone of an unknown identifier
		add([]byte("nocolon"), []byte(`{"person":"p_9","first_seen":1}`)).
		add(stitch.MapKey(cust("c")), []byte(`not json`)).
		assign(identifiers.Identifier{Type: identifiers.Email, Value: "h:a:s:h"}, "p_4")
	p2 := &recs{partition: 2, offset: 40}
	p2.assign(cust("d"), "p_5")
	if err := m.apply(append(p0.take(), p2.take()...)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[identifiers.Identifier]string{
		cust("a"): "p_3", cust("b"): "", cust("never"): "", cust("c"): "", cust("d"): "p_5",
		{Type: identifiers.Email, Value: "h:a:s:h"}: "p_4", {Type: "nocolon"}: "",
	} {
		if got := lookup(t, m, id); got != want {
			t.Errorf("Lookup(%v) = %q, want %q", id, got, want)
		}
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
	if got := m.Offsets(); len(got) != 2 || got[0] != 8 || got[2] != 41 {
		t.Errorf("Offsets = %v, want map[0:8 2:41]", got)
	}

	// A malformed value does not disturb the identifier's current person.
	p0.add(stitch.MapKey(cust("a")), []byte(`{"person":""}`)).tombstone(cust("d")).assign(cust("b"), "p_6")
	if err := m.apply(p0.take()); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, m, cust("a")); got != "p_3" {
		t.Errorf("after malformed value, a = %q, want p_3", got)
	}
	if got, want := [2]string{lookup(t, m, cust("b")), lookup(t, m, cust("d"))}, [2]string{"p_6", ""}; got != want {
		t.Errorf("b, d = %v, want %v", got, want)
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
	if got := m.Offsets()[0]; got != 11 {
		t.Errorf("offset of partition 0 = %d, want 11", got)
	}
}

func TestReopenKeepsRecordsCountAndOffsets(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &recs{partition: 0, offset: 100}
	for i := range 1000 {
		r.assign(cust(fmt.Sprint(i)), fmt.Sprintf("p_%d", i%10))
	}
	for i := range 100 {
		r.tombstone(cust(fmt.Sprint(i * 3)))
	}
	if err := m.apply(r.take()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.beginFollow("identity.map"); err != nil {
		t.Fatal(err)
	}
	m.endFollow(nil)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	m = open(t, dir)
	if m.Len() != 900 {
		t.Errorf("Len after reopen = %d, want 900", m.Len())
	}
	if got := m.Offsets(); len(got) != 1 || got[0] != 1200 {
		t.Errorf("Offsets after reopen = %v, want map[0:1200]", got)
	}
	if m.Topic() != "identity.map" {
		t.Errorf("Topic after reopen = %q", m.Topic())
	}
	if got := lookup(t, m, cust("3")); got != "" {
		t.Errorf("deleted identifier 3 = %q", got)
	}
	if got := lookup(t, m, cust("301")); got != "p_1" {
		t.Errorf("identifier 301 = %q, want p_1", got)
	}
}

func TestLookupKeyIsMapKey(t *testing.T) {
	for _, id := range []identifiers.Identifier{cust("c1"), {Type: "email", Value: "a:b"}, {Type: "x", Value: ""}, {}} {
		want := append([]byte{prefixIdentifier}, stitch.MapKey(id)...)
		if got := appendIdentifierKey(nil, id); !bytes.Equal(got, want) {
			t.Errorf("key of %v = %q, want %q", id, got, want)
		}
	}
}

func TestClosedMap(t *testing.T) {
	m := open(t, t.TempDir())
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(cust("a")); !errors.Is(err, ErrClosed) {
		t.Errorf("Lookup after Close: %v, want ErrClosed", err)
	}
	r := &recs{}
	if err := m.apply(r.assign(cust("a"), "p").take()); !errors.Is(err, ErrClosed) {
		t.Errorf("apply after Close: %v, want ErrClosed", err)
	}
	if err := m.Follow(context.Background(), kafka.DefaultConfig(), "t"); !errors.Is(err, ErrClosed) {
		t.Errorf("Follow after Close: %v, want ErrClosed", err)
	}
}

func TestFollowRefusesAnotherTopic(t *testing.T) {
	m := open(t, t.TempDir())
	if _, err := m.beginFollow("first"); err != nil {
		t.Fatal(err)
	}
	if err := m.Follow(context.Background(), kafka.DefaultConfig(), "first"); err == nil {
		t.Error("a second concurrent Follow started")
	}
	m.endFollow(nil)
	err := m.Follow(context.Background(), kafka.DefaultConfig(), "second")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`holds topic "first"`)) {
		t.Errorf("Follow of another topic: %v", err)
	}
	if err := m.Follow(context.Background(), kafka.DefaultConfig(), ""); err == nil {
		t.Error("Follow of an empty topic name started")
	}
}

func TestCatchUpReportsFailedFollow(t *testing.T) {
	m := open(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	caught := make(chan error, 1)
	go func() { caught <- m.CatchUp(ctx) }()
	bad := kafka.DefaultConfig()
	bad.Brokers = nil
	if err := m.Follow(ctx, bad, "t"); !errors.Is(err, kafka.ErrConfig) {
		t.Fatalf("Follow with no brokers: %v", err)
	}
	if err := <-caught; !errors.Is(err, ErrNotFollowing) || !errors.Is(err, kafka.ErrConfig) {
		t.Errorf("CatchUp: %v, want ErrNotFollowing wrapping the config error", err)
	}
}

func TestCatchUpWithoutFollowEndsWithContext(t *testing.T) {
	m := open(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.CatchUp(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CatchUp: %v, want deadline exceeded", err)
	}
}

func TestConcurrentLookupsDuringApply(t *testing.T) {
	const rounds, ids = 20, 2000
	// Even rounds name persons as stitch.SingletonID does, odd ones not,
	// so that both kinds of cache entries change under the lookups.
	roundPerson := func(round int) string {
		if round%2 == 0 {
			return person(round)
		}
		return fmt.Sprintf("p_%d", round)
	}
	valid := map[string]bool{"": true}
	for round := range rounds {
		valid[roundPerson(round)] = true
	}
	for _, entries := range []int{16, 64 * ids} { // evicting, and complete
		m := openCached(t, t.TempDir(), entries)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					p, err := m.Lookup(cust(fmt.Sprint((i * (g + 1)) % ids)))
					if err != nil || !valid[p] {
						t.Errorf("cache of %d entries: Lookup: %q, %v", entries, p, err)
						return
					}
				}
			}()
		}
		r := &recs{}
		for round := range rounds {
			for i := range ids {
				if (i+round)%7 == 0 {
					r.tombstone(cust(fmt.Sprint(i)))
				} else {
					r.assign(cust(fmt.Sprint(i)), roundPerson(round))
				}
			}
			if err := m.apply(r.take()); err != nil {
				t.Fatal(err)
			}
		}
		close(stop)
		wg.Wait()
		want := 0
		for i := range ids {
			if (i+rounds-1)%7 != 0 {
				want++
				if got := lookup(t, m, cust(fmt.Sprint(i))); got != roundPerson(rounds-1) {
					t.Errorf("cache of %d entries: identifier %d = %q, want %q", entries, i, got, roundPerson(rounds-1))
				}
			}
		}
		if m.Len() != want {
			t.Errorf("cache of %d entries: Len = %d, want %d", entries, m.Len(), want)
		}
	}
}

// BenchmarkLookup fills a map with 1,000,000 identifiers through apply, the
// path Follow uses, in batches of maxPollRecords, then looks up random known
// identifiers (and unknown ones), from pebble alone and through the
// in-memory cache.
func BenchmarkLookup(b *testing.B) {
	b.Run("pebble", func(b *testing.B) { benchmarkLookup(b, 0) })
	b.Run("cached", func(b *testing.B) { benchmarkLookup(b, DefaultCacheEntries) })
}

func benchmarkLookup(b *testing.B, cacheEntries int) {
	const n = 1_000_000
	m := openCached(b, b.TempDir(), cacheEntries)
	ids := make([]identifiers.Identifier, n)
	start := time.Now()
	r := &recs{}
	for i := range ids {
		ids[i] = identifiers.Identifier{Type: identifiers.Email, Value: fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15)}
		r.assign(ids[i], person(i/3))
		if len(r.out) == maxPollRecords || i == n-1 {
			if err := m.apply(r.take()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if m.Len() != n {
		b.Fatalf("Len = %d, want %d", m.Len(), n)
	}
	b.Logf("filled %d identifiers in %s", n, time.Since(start).Round(time.Millisecond))
	// Settle the LSM tree, as it is once a map has caught up for a while, so
	// that background compactions do not compete with the lookups measured.
	if err := m.db.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := m.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		b.Fatal(err)
	}

	b.Run("known", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for b.Loop() {
			if p, err := m.Lookup(ids[rng.IntN(n)]); err != nil || p == "" {
				b.Fatalf("Lookup: %q, %v", p, err)
			}
		}
	})
	b.Run("known-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
			for pb.Next() {
				if p, err := m.Lookup(ids[rng.IntN(n)]); err != nil || p == "" {
					b.Errorf("Lookup: %q, %v", p, err)
					return
				}
			}
		})
	})
	b.Run("persons", func(b *testing.B) {
		// The identifiers of a random person per call, as ingest looks up
		// an event's: in fresh strings laid out one event after the other,
		// as ingest decodes them.
		rng := rand.New(rand.NewPCG(5, 6))
		events := make([][]identifiers.Identifier, 100_000)
		for e := range events {
			p := rng.IntN(n / 3)
			for _, id := range ids[3*p : 3*p+3] {
				events[e] = append(events[e], identifiers.Identifier{Type: id.Type, Value: strings.Clone(id.Value)})
			}
		}
		found := make([]string, 3)
		b.ReportAllocs()
		e := 0
		for b.Loop() {
			if err := m.Persons(events[e], found); err != nil || found[0] == "" || found[2] != found[0] {
				b.Fatalf("Persons: %q, %v", found, err)
			}
			e = (e + 1) % len(events)
		}
	})
	b.Run("unknown", func(b *testing.B) {
		unknown := make([]identifiers.Identifier, 100_000)
		for i := range unknown {
			unknown[i] = identifiers.Identifier{Type: identifiers.Email, Value: fmt.Sprintf("%063xz", i)}
		}
		rng := rand.New(rand.NewPCG(3, 4))
		b.ReportAllocs()
		for b.Loop() {
			if p, err := m.Lookup(unknown[rng.IntN(len(unknown))]); err != nil || p != "" {
				b.Fatalf("Lookup: %q, %v", p, err)
			}
		}
	})
}

func TestCacheFollowsApply(t *testing.T) {
	m := openCached(t, t.TempDir(), 1000)
	r := &recs{}
	if got := lookup(t, m, cust("a")); got != "" { // caches "unknown"
		t.Fatalf("unknown identifier: %q", got)
	}
	if err := m.apply(r.assign(cust("a"), "p1").take()); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, m, cust("a")); got != "p1" {
		t.Fatalf("after an assignment: %q, want p1 (a cached unknown must not hide it)", got)
	}
	if err := m.apply(r.assign(cust("a"), "p2").tombstone(cust("a")).assign(cust("b"), "p3").take()); err != nil {
		t.Fatal(err)
	}
	if a, b := lookup(t, m, cust("a")), lookup(t, m, cust("b")); a != "" || b != "p3" {
		t.Fatalf("after re-assignment and tombstone: a %q, b %q; want \"\", p3", a, b)
	}
	if m.cache.len() == 0 {
		t.Fatal("nothing was cached")
	}
}

// person returns a person id of stitch.SingletonID's form, the form the
// cache holds compactly.
func person(i int) string { return stitch.SingletonID(cust(fmt.Sprint("person", i))) }

// fill applies n identifiers, every third one assigned to a person named
// otherwise than stitch.SingletonID does, then tombstones every seventh,
// and returns the persons the map must answer.
func fill(t testing.TB, m *Map, n int) map[identifiers.Identifier]string {
	t.Helper()
	want := make(map[identifiers.Identifier]string, n)
	r := &recs{}
	for i := range n {
		p := person(i / 2)
		if i%3 == 0 {
			p = fmt.Sprintf("P_other_%d", i/2)
		}
		r.assign(cust(fmt.Sprint(i)), p)
		want[cust(fmt.Sprint(i))] = p
	}
	for i := 0; i < n; i += 7 {
		r.tombstone(cust(fmt.Sprint(i)))
		want[cust(fmt.Sprint(i))] = ""
	}
	if err := m.apply(r.take()); err != nil {
		t.Fatal(err)
	}
	return want
}

func checkAnswers(t *testing.T, m *Map, want map[identifiers.Identifier]string) {
	t.Helper()
	known := 0
	for id, p := range want {
		if got := lookup(t, m, id); got != p {
			t.Errorf("Lookup(%v) = %q, want %q", id, got, p)
		}
		if p != "" {
			known++
		}
	}
	if m.Len() != known {
		t.Errorf("Len = %d, want %d", m.Len(), known)
	}
}

func TestCacheCompleteWhileEverythingFits(t *testing.T) {
	m := openCached(t, t.TempDir(), 64*1000)
	want := fill(t, m, 3000)
	if !m.cache.complete.Load() {
		t.Fatal("a cache that holds every identifier is not complete")
	}
	checkAnswers(t, m, want)
	if _, err := m.Lookup(cust("unknown")); err != nil {
		t.Fatal(err)
	}
	if n := m.cache.len(); n != m.Len() {
		t.Errorf("complete cache holds %d entries, want the %d identifiers and no unknown one", n, m.Len())
	}
	// The count stays exact when apply reads old persons from the cache.
	r := &recs{}
	r.assign(cust("0"), person(1)).tombstone(cust("1")).assign(cust("2"), want[cust("2")]).tombstone(cust("unknown"))
	if err := m.apply(r.take()); err != nil {
		t.Fatal(err)
	}
	want[cust("0")], want[cust("1")] = person(1), ""
	checkAnswers(t, m, want)
}

func TestCacheEvictionFallsBackToTheDatabase(t *testing.T) {
	m := openCached(t, t.TempDir(), 64*10)
	want := fill(t, m, 3000)
	if m.cache.complete.Load() {
		t.Fatal("a cache that evicted known identifiers is still complete")
	}
	if n := m.cache.len(); n > 64*10 {
		t.Errorf("cache holds %d entries, more than its 640", n)
	}
	checkAnswers(t, m, want)
	r := &recs{}
	for i := range 3000 {
		if i%5 == 0 {
			r.tombstone(cust(fmt.Sprint(i)))
			want[cust(fmt.Sprint(i))] = ""
		}
	}
	if err := m.apply(r.take()); err != nil {
		t.Fatal(err)
	}
	checkAnswers(t, m, want)
}

func TestReopenFillsTheCacheWhenTheMapFits(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := fill(t, m, 3000)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		entries  int
		complete bool
	}{{64 * 1000, true}, {64 * 10, false}} {
		m, err := Open(dir, tc.entries, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.cache.complete.Load() != tc.complete {
			t.Errorf("cache of %d entries: complete %v, want %v", tc.entries, !tc.complete, tc.complete)
		}
		if tc.complete && m.cache.len() != m.Len() {
			t.Errorf("cache of %d entries holds %d of the %d identifiers", tc.entries, m.cache.len(), m.Len())
		}
		checkAnswers(t, m, want)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPersonsAnswersAnEventsIdentifiers(t *testing.T) {
	for _, entries := range []int{0, 16, DefaultCacheEntries} {
		m := openCached(t, t.TempDir(), entries)
		r := &recs{}
		if err := m.apply(r.assign(cust("a"), person(1)).assign(cust("b"), person(1)).assign(cust("c"), "p_device").take()); err != nil {
			t.Fatal(err)
		}
		ids := []identifiers.Identifier{cust("a"), cust("new"), cust("b"), cust("c")}
		got := make([]string, len(ids))
		for range 2 { // from the database (or a complete cache), then from the cache
			if err := m.Persons(ids, got); err != nil {
				t.Fatal(err)
			}
			if want := []string{person(1), "", person(1), "p_device"}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("cache of %d entries: Persons = %q, want %q", entries, got, want)
			}
			if entries > 0 && unsafe.StringData(got[0]) != unsafe.StringData(got[2]) {
				t.Errorf("cache of %d entries: identifiers of one person got two copies of its id", entries)
			}
		}
	}
}

func TestCompactPersonKeepsOnlyCanonicalSingletonIDs(t *testing.T) {
	canonical := person(7)
	for _, tc := range []struct {
		person string
		kind   personKind
	}{
		{"", personUnknown},
		{canonical, personDigest},
		{"P_" + canonical[2:], personOther},
		{"p_" + strings.ToUpper(canonical[2:]), personOther},
		{canonical + "0", personOther},
		{"p_device", personOther},
		{"p_zzzzzzzzzzzzzzzzzzzz", personOther},
	} {
		c := compactPerson(tc.person)
		if c.kind != tc.kind {
			t.Errorf("compactPerson(%q): kind %d, want %d", tc.person, c.kind, tc.kind)
		}
		if c.kind == personDigest && string(c.appendName(nil)) != tc.person {
			t.Errorf("compactPerson(%q) names %q", tc.person, c.appendName(nil))
		}
	}
}
