// Command identity measures touchline's identity stitching on a real Kafka
// broker and a real ClickHouse server, at 1,000,000 persons and 3,000,000
// identifiers by default. It prints:
//
//   - the link requests/s the resolver service (pkg/identity) applies, from
//     the first request produced until its consumer group has committed the
//     end offset of the links topic, against the pure in-process cost of the
//     same requests (stitch.NewResolver and Apply, no Kafka, no
//     ClickHouse), and the ratio of the two;
//   - the catch-up time of a fresh local identity map (pkg/identitymap) on
//     the map topic the resolver produced;
//   - lookups/s of random known identifiers on that map, from one goroutine
//     and from two (and, for reference, of unknown identifiers), and of the
//     identifier sets of random and of Zipf-distributed persons looked up
//     as ingest does, one Persons call per event;
//   - memory and disk: the peak RSS of this process, the Go heap in use after
//     the catch-up, the size of the map's pebble directory and an estimate
//     of the resolver's in-memory state;
//   - the share of the ingest service's time per event that identity
//     lookups cost: the service as pkg/cli/ingestcmd builds it (Kafka consumer group,
//     processor, ClickHouse batch inserts, offset commits) runs in this
//     process over -service-events touchpoints carrying the customer_id and
//     a device_id of random persons, resolving them through the caught-up
//     map and, alternately (after a warm-up round), through lookups that
//     cost nothing, -service-rounds times each, each round a new consumer
//     group reading the whole topic. The share is the process's CPU time
//     (and wall time) per event with the map, less that without lookup
//     costs, over that with the map; also the share of the samples of an
//     in-process CPU profile of the rounds with the map (all goroutines)
//     whose stack holds identitymap.(*Map).Persons (not with -cpuprofile,
//     which profiles the whole run instead), and the lookup time
//     the service's own metric (touchline_ingest_identity_lookup_seconds)
//     records over its CPU time;
//   - as a stricter proxy, the share of the time per event of the ingest
//     processor alone (decode and normalise in memory: no Kafka, no
//     ClickHouse) that identity lookups would add: (identifiers per event
//     x lookup time) / (processor time per event + identifiers per event x
//     lookup time) for single lookups, and (time of one Persons call) /
//     (processor time per event + time of one Persons call) for the
//     per-event calls ingest makes, whose persons have more identifiers (3)
//     than the processor's events;
//   - the same processor-only share measured in the ingest processor: its
//     time per event with the map, less its time with lookups that cost
//     nothing, over its time with the map, on touchpoints carrying the
//     customer_id and a device_id of random and of Zipf-distributed
//     persons.
//
// The link requests are generated deterministically. Person i has
// identifiers/persons identifiers (the first identifiers%persons persons one
// more): customer_id "C<i>", email (64 hex digits, like a hashed address)
// and device_id values (UUID-like, derived from i). Every person sends one
// link request with its identifiers, except every tenth person (with at
// least 3 identifiers): its last device is first seen alone (a request with
// that device only), its other identifiers are linked by its main request,
// and a re-link request [its last-but-one identifier, its last device],
// produced relinkLag persons later, merges the two persons. Timings are
// printed, never asserted.
//
//	go run ./test/bench/identity [-persons 1000000] [-identifiers 3000000]
//	    [-service-events 300000] [-service-rounds 3] [-cpuprofile F]
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/identitymap"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

const (
	// relinkEvery: every relinkEvery-th person is linked in two steps.
	relinkEvery = 10
	// relinkLag is how many persons later a person's re-link request comes.
	relinkLag = 1000
	// chunk is the number of link requests generated (and encoded) at once.
	chunk = 10_000
	// mapPartitions is the partition count of the identity map topic, the
	// resolver's default.
	mapPartitions = 6
	// sampleSize bounds the distinct identifiers looked up.
	sampleSize = 1_000_000
	// unknownLookups is the number of lookups of unknown identifiers.
	unknownLookups = 200_000
	// consistencyPersons is the number of persons whose identifiers are
	// checked to resolve to one person in the map.
	consistencyPersons = 10_000
	// warmUpEvents is the number of touchpoints the ingest processor runs
	// before it is timed.
	warmUpEvents = 10_000
)

func main() {
	persons := flag.Int("persons", 1_000_000, "persons")
	ids := flag.Int("identifiers", 3_000_000, "identifiers, spread evenly over the persons")
	lookups := flag.Int("lookups", 1_000_000, "lookups of known identifiers per goroutine")
	events := flag.Int("events", 100_000, "generated touchpoints timed through the ingest processor")
	settle := flag.Duration("settle", 30*time.Second, "idle time before a second round of lookups, letting pebble's compactions after the catch-up settle (0: no second round)")
	cacheEntries := flag.Int("cache", identitymap.DefaultCacheEntries, "identifiers the identity map caches in memory (0: pebble alone)")
	serviceEvents := flag.Int("service-events", 300_000, "touchpoints the ingest service consumes in each round of its measurement")
	servicePairs := flag.Int("service-rounds", 3, "rounds of the ingest service with the map and, alternately, without lookup costs (each kind)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof -focus inProcess|service|lookupPhase|ingestCost|ingestService); the service rounds are then not profiled on their own")
	flag.Parse()
	w, err := newWorkload(*persons, *ids)
	w.cacheEntries = *cacheEntries
	if err == nil && (*lookups < 1 || *events < 1 || *serviceEvents < 1 || *servicePairs < 1) {
		err = errors.New("-lookups, -events, -service-events and -service-rounds must be positive")
	}
	if err == nil {
		err = run(w, *lookups, *events, *serviceEvents, *servicePairs, *settle, *profile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench identity:", err)
		os.Exit(1)
	}
}

// results collects what the phases measured, for the summary.
type results struct {
	requests        int
	inProcessRate   float64
	inProcessTook   time.Duration
	stateBytes      int64
	serviceRate     float64
	serviceTook     time.Duration
	produceTook     time.Duration
	catchUp         time.Duration
	mapLen          int
	heapInuse       uint64
	heapAlloc       uint64
	pebbleBytes     int64
	lookup1Rate     float64
	zipfRate        float64       // lookups/s, persons drawn from a Zipf distribution
	eventCalls      personsCalls  // one Persons call per random person
	zipfEventCalls  personsCalls  // one Persons call per Zipf-distributed person
	ingestRandom    ingestLookups // the processor with the map, random persons
	ingestZipf      ingestLookups // the processor with the map, Zipf-distributed persons
	lookup2Rate     float64
	unknownRate     float64
	settle          time.Duration
	settled         *lookupRates // after settle, nil without a second round
	pebbleSettled   int64
	procPerEvent    time.Duration
	idsPerEvent     float64
	peakAfter       []phasePeak
	mapTopicRecords int64
	mapDir          string      // of the identity map
	service         serviceCost // the ingest service with the map and without lookup costs
}

// personsCalls is the timing of Persons calls, one per person.
type personsCalls struct {
	rate    float64       // identifiers/s
	perCall time.Duration // time of one call
	ids     float64       // identifiers per call
}

// phasePeak is the process's peak RSS after a phase.
type phasePeak struct {
	phase string
	peak  int64
}

func (r *results) notePeak(phase string) {
	if pk, err := testenv.PeakRSS(); err == nil {
		r.peakAfter = append(r.peakAfter, phasePeak{phase, pk})
	}
}

func run(w workload, lookups, events, serviceEvents, servicePairs int, settle time.Duration, profile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	dir, err := testenv.BenchDir("touchline-bench-identity-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	log, err := logCfg.Build()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	srv, err := testenv.Start(ctx, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	cfg := srv.Config("benchid")
	conn, err := testenv.Prepare(ctx, cfg, mapPartitions)
	if err != nil {
		return err
	}
	defer conn.Close()

	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("workload: %d persons, %d identifiers (%s), %d link requests (%d re-links after a device seen alone)\n",
		w.persons, w.identifiers, w.describe(), w.requests(), w.relinked())
	var res results
	res.requests = w.requests()
	rules := stitch.DefaultRules()

	if err := inProcess(w, rules, &res); err != nil {
		return fmt.Errorf("in-process resolver: %w", err)
	}
	res.notePeak("in-process resolver")
	if err := service(ctx, cfg, conn, w, rules, log, &res); err != nil {
		return fmt.Errorf("resolver service: %w", err)
	}
	res.notePeak("resolver service")
	m, closeMap, err := catchUp(ctx, cfg, dir, w, log, &res)
	if err != nil {
		return fmt.Errorf("identity map: %w", err)
	}
	defer closeMap()
	if err := lookupPhase(ctx, cfg, m, w, lookups, events, settle, &res); err != nil {
		return fmt.Errorf("identity map: %w", err)
	}
	res.notePeak("identity map catch-up and lookups")
	if err := ingestCost(ctx, cfg, events, &res); err != nil {
		return fmt.Errorf("ingest processor: %w", err)
	}
	res.notePeak("ingest processor")
	if res.service, err = ingestService(ctx, cfg, m, w, serviceEvents, servicePairs, profile == "", log); err != nil {
		return fmt.Errorf("ingest service: %w", err)
	}
	res.notePeak("ingest service")
	report(w, &res)
	return nil
}

// workload generates the link requests deterministically.
type workload struct {
	persons, identifiers int
	cacheEntries         int // of the identity map
	base, extra          int // identifiers of person i: base, plus one when i < extra
	start                time.Time
}

func newWorkload(persons, ids int) (workload, error) {
	if persons < 1 || ids < persons {
		return workload{}, fmt.Errorf("want at least 1 person and at least one identifier per person, got -persons %d -identifiers %d", persons, ids)
	}
	return workload{persons: persons, identifiers: ids, base: ids / persons, extra: ids % persons,
		start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
}

// count returns the number of identifiers of person i.
func (w workload) count(i int) int {
	if i < w.extra {
		return w.base + 1
	}
	return w.base
}

// relinks reports whether person i is linked in two steps.
func (w workload) relinks(i int) bool { return w.count(i) >= 3 && i%relinkEvery == 0 }

// relinked returns the number of persons linked in two steps.
func (w workload) relinked() int {
	n := 0
	for i := 0; i < w.persons; i += relinkEvery {
		if w.relinks(i) {
			n++
		}
	}
	return n
}

// requests returns the number of link requests.
func (w workload) requests() int { return w.persons + 2*w.relinked() }

func (w workload) describe() string {
	per := strconv.Itoa(w.base)
	if w.extra > 0 {
		per = fmt.Sprintf("%d or %d", w.base, w.base+1)
	}
	return per + " per person: customer_id, email hash, device_id..."
}

// id returns identifier j of person i.
func (w workload) id(i, j int) identifiers.Identifier {
	switch j {
	case 0:
		return identifiers.Identifier{Type: identifiers.CustomerID, Value: fmt.Sprintf("C%09d", i)}
	case 1:
		sum := sha256.Sum256([]byte("person" + strconv.Itoa(i) + "@example.com"))
		return identifiers.Identifier{Type: identifiers.Email, Value: hex.EncodeToString(sum[:])}
	}
	a := splitmix(uint64(i)<<8 | uint64(j))
	b := splitmix(a)
	return identifiers.Identifier{Type: identifiers.DeviceID,
		Value: fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>52, b&0xffffffffffff)}
}

// ids returns the identifiers of person i.
func (w workload) ids(i int) []identifiers.Identifier {
	out := make([]identifiers.Identifier, w.count(i))
	for j := range out {
		out[j] = w.id(i, j)
	}
	return out
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// each calls fn with the link requests in order, at most chunk at a time;
// the slice is reused between calls.
func (w workload) each(fn func([]stitch.LinkRequest) error) error {
	buf := make([]stitch.LinkRequest, 0, chunk)
	seq := 0
	emit := func(kind string, i int, ids []identifiers.Identifier) error {
		buf = append(buf, stitch.LinkRequest{ID: fmt.Sprintf("%s-%d", kind, i), Identifiers: ids,
			At: w.start.Add(time.Duration(seq) * time.Millisecond)})
		seq++
		if len(buf) == cap(buf) {
			err := fn(buf)
			buf = buf[:0]
			return err
		}
		return nil
	}
	relink := func(i int) error {
		ids := w.ids(i)
		return emit("relink", i, ids[len(ids)-2:])
	}
	for i := 0; i < w.persons; i++ {
		ids := w.ids(i)
		if w.relinks(i) {
			last := len(ids) - 1
			if err := emit("device", i, ids[last:]); err != nil {
				return err
			}
			ids = ids[:last]
		}
		if err := emit("link", i, ids); err != nil {
			return err
		}
		if j := i - relinkLag; j >= 0 && w.relinks(j) {
			if err := relink(j); err != nil {
				return err
			}
		}
	}
	for j := max(0, w.persons-relinkLag); j < w.persons; j++ {
		if w.relinks(j) {
			if err := relink(j); err != nil {
				return err
			}
		}
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

// outcomes sums what requests changed.
type outcomes struct {
	assignments, merges, refusals, overrides int
}

func (o *outcomes) add(out stitch.Outcome) {
	o.assignments += len(out.Assignments)
	o.merges += len(out.Merges)
	o.refusals += len(out.Refusals)
	o.overrides += len(out.Overrides)
}

// inProcess applies the requests to an in-process resolver, timing only
// Apply, and estimates the resolver's state from the heap before and after.
func inProcess(w workload, rules *stitch.Rules, res *results) error {
	fmt.Printf("\n== in-process resolver (identity.NewResolver + Apply, no Kafka, no ClickHouse)\n")
	before := heapAlloc()
	r := stitch.NewResolver(rules)
	var took time.Duration
	var sum outcomes
	if err := w.each(func(reqs []stitch.LinkRequest) error {
		start := time.Now()
		for _, req := range reqs {
			sum.add(r.Apply(req))
		}
		took += time.Since(start)
		return nil
	}); err != nil {
		return err
	}
	after := heapAlloc()
	res.inProcessTook = took
	res.inProcessRate = float64(w.requests()) / took.Seconds()
	res.stateBytes = int64(after) - int64(before)
	fmt.Printf("applied %d requests in %s: %.0f requests/s\n", w.requests(), took.Round(time.Millisecond), res.inProcessRate)
	fmt.Printf("outcome: %d identifiers, %d persons; %d assignments, %d merges, %d refusals, %d overrides\n",
		r.Identifiers(), r.Persons(), sum.assignments, sum.merges, sum.refusals, sum.overrides)
	fmt.Printf("resolver state: %d MiB live heap (%.0f bytes per identifier)\n", res.stateBytes>>20,
		float64(res.stateBytes)/float64(r.Identifiers()))
	if r.Identifiers() != w.identifiers || r.Persons() != w.persons || sum.refusals != 0 {
		return fmt.Errorf("the workload resolved to %d identifiers and %d persons with %d refusals, want %d, %d and 0",
			r.Identifiers(), r.Persons(), sum.refusals, w.identifiers, w.persons)
	}
	runtime.KeepAlive(r)
	return nil
}

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// service runs the resolver service in this process, produces the requests
// to the links topic and times until the group has committed its end.
func service(ctx context.Context, cfg config.Config, conn driver.Conn, w workload, rules *stitch.Rules,
	log *zap.Logger, res *results) error {
	fmt.Printf("\n== resolver service (links topic %s -> map topic %s, %d partitions, ClickHouse %s)\n",
		cfg.Kafka.Topics.IdentityLinks, cfg.Kafka.Topics.IdentityMap, mapPartitions, cfg.ClickHouse.Database)
	svc, err := identity.New(cfg.Identity, cfg.Kafka, conn, rules, identity.NewMetrics(prometheus.NewRegistry()), log.Named("identity"))
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-runErr; err != nil {
			log.Warn("the identity resolver stopped with an error", zap.Error(err))
		}
		svc.Close()
	}()

	cl, err := kafka.NewClient(cfg.Kafka, log, kgo.DefaultProduceTopic(cfg.Kafka.Topics.IdentityLinks),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	group, links := cfg.Identity.Group, cfg.Kafka.Topics.IdentityLinks
	joined := time.Now()
	if err := waitStable(ctx, adm, group, "resolver", runErr); err != nil {
		return err
	}
	fmt.Printf("resolver joined group %s in %s\n", group, time.Since(joined).Round(time.Millisecond))

	var mu sync.Mutex
	var produceErr error
	start := time.Now()
	if err := w.each(func(reqs []stitch.LinkRequest) error {
		for _, req := range reqs {
			key, value := stitch.EncodeLinkRequest(req)
			cl.Produce(ctx, &kgo.Record{Key: key, Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					produceErr = cmp(produceErr, err)
					mu.Unlock()
				}
			})
		}
		mu.Lock()
		defer mu.Unlock()
		return produceErr
	}); err != nil {
		return fmt.Errorf("producing link requests: %w", err)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if produceErr != nil {
		return fmt.Errorf("producing link requests: %w", produceErr)
	}
	res.produceTook = time.Since(start)
	fmt.Printf("produced %d link requests in %s (%.0f/s)\n", w.requests(), res.produceTook.Round(time.Millisecond),
		float64(w.requests())/res.produceTook.Seconds())

	progress := time.Now()
	if err := waitUntil(ctx, runErr, "resolver", "catching up", func() bool {
		if done, err := kafka.GroupCaughtUp(ctx, adm, group, links); err == nil && done {
			return true
		}
		if time.Since(progress) >= 15*time.Second {
			progress = time.Now()
			fmt.Printf("  %s: resolver committed %d of %d requests\n", time.Since(start).Round(time.Second),
				committed(ctx, adm, group, links), w.requests())
		}
		return false
	}); err != nil {
		return err
	}
	res.serviceTook = time.Since(start)
	res.serviceRate = float64(w.requests()) / res.serviceTook.Seconds()
	fmt.Printf("resolver caught up %s after the first request: %.0f requests/s\n",
		res.serviceTook.Round(time.Millisecond), res.serviceRate)

	ends, err := adm.ListEndOffsets(ctx, cfg.Kafka.Topics.IdentityMap)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return err
	}
	partitions := 0
	ends.Each(func(o kadm.ListedOffset) { res.mapTopicRecords += o.Offset; partitions++ })
	fmt.Printf("map topic: %d offsets (records and transaction markers) over %d partitions\n", res.mapTopicRecords, partitions)
	return clickhouseCounts(ctx, conn)
}

// cmp keeps the first error.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// waitStable waits until group is stable with a member, the service whose
// Run reports to runErr.
func waitStable(ctx context.Context, adm *kadm.Client, group, service string, runErr chan error) error {
	return waitUntil(ctx, runErr, service, "joining its group", func() bool {
		gs, err := adm.DescribeGroups(ctx, group)
		g, ok := gs[group]
		return err == nil && ok && g.Err == nil && g.State == "Stable" && len(g.Members) > 0
	})
}

// waitUntil calls done every 10 ms until it reports true. It fails when
// ctx ends first, or the service whose Run reports to runErr stops (the
// error is put back for the caller of Run).
func waitUntil(ctx context.Context, runErr chan error, service, before string, done func() bool) error {
	for !done() {
		select {
		case err := <-runErr:
			runErr <- err
			return fmt.Errorf("the %s stopped before %s: %v", service, before, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// committed returns the group's committed offset of partition 0 of topic,
// -1 when unknown.
func committed(ctx context.Context, adm *kadm.Client, group, topic string) int64 {
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return -1
	}
	if o, ok := offs.Lookup(topic, 0); ok {
		return o.At
	}
	return -1
}

// clickhouseCounts prints the deduplicated row counts of the resolver's
// tables.
func clickhouseCounts(ctx context.Context, conn driver.Conn) error {
	var mapRows, persons, merges, refusals, overrides uint64
	for _, q := range []struct {
		sql  string
		dest *uint64
	}{
		{"SELECT count(), uniqExact(person_id) FROM identity_map FINAL", nil},
		{"SELECT count() FROM identity_merges FINAL", &merges},
		{"SELECT count() FROM identity_refusals FINAL", &refusals},
		{"SELECT count() FROM person_overrides FINAL", &overrides},
	} {
		var err error
		if q.dest == nil {
			err = conn.QueryRow(ctx, q.sql).Scan(&mapRows, &persons)
		} else {
			err = conn.QueryRow(ctx, q.sql).Scan(q.dest)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", q.sql, err)
		}
	}
	fmt.Printf("ClickHouse (FINAL): identity_map %d rows, %d persons; identity_merges %d; identity_refusals %d; person_overrides %d\n",
		mapRows, persons, merges, refusals, overrides)
	return nil
}

// catchUp opens a fresh identity map under dir, follows the map topic and
// returns once it has caught up. The returned function stops following and
// closes the map.
func catchUp(ctx context.Context, cfg config.Config, dir string, w workload, log *zap.Logger, res *results) (*identitymap.Map, func(), error) {
	fmt.Printf("\n== identity map (pebble) on %s\n", cfg.Kafka.Topics.IdentityMap)
	res.mapDir = filepath.Join(dir, "identitymap")
	fmt.Printf("in-memory cache: %d identifiers\n", w.cacheEntries)
	m, err := identitymap.Open(res.mapDir, w.cacheEntries, log)
	if err != nil {
		return nil, nil, err
	}
	fctx, stop := context.WithCancel(ctx)
	followErr := make(chan error, 1)
	start := time.Now()
	go func() { followErr <- m.Follow(fctx, cfg.Kafka, cfg.Kafka.Topics.IdentityMap) }()
	closeMap := func() {
		stop()
		if err := <-followErr; err != nil {
			fmt.Fprintln(os.Stderr, "bench identity: follow:", err)
		}
		if err := m.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench identity: closing the map:", err)
		}
	}
	if err := m.CatchUp(ctx); err != nil {
		closeMap()
		return nil, nil, err
	}
	res.catchUp = time.Since(start)
	res.mapLen = m.Len()
	fmt.Printf("fresh map caught up in %s: %d identifiers (%.0f identifiers/s)\n", res.catchUp.Round(time.Millisecond),
		res.mapLen, float64(res.mapLen)/res.catchUp.Seconds())
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.heapInuse, res.heapAlloc = ms.HeapInuse, ms.HeapAlloc
	if res.pebbleBytes, err = testenv.DirSize(res.mapDir); err != nil {
		closeMap()
		return nil, nil, err
	}
	fmt.Printf("after catch-up: Go heap in use %d MiB (live %d MiB), pebble directory %d MiB\n",
		res.heapInuse>>20, res.heapAlloc>>20, res.pebbleBytes>>20)
	if res.mapLen != w.identifiers {
		fmt.Printf("WARNING: the map holds %d identifiers, the workload has %d\n", res.mapLen, w.identifiers)
	}
	return m, closeMap, nil
}

// lookupPhase times lookups on the caught-up map m.
func lookupPhase(ctx context.Context, cfg config.Config, m *identitymap.Map, w workload, lookups, events int, settle time.Duration, res *results) error {
	rng := rand.New(rand.NewPCG(1, 2))
	if err := checkConsistent(m, w, rng); err != nil {
		return err
	}
	sample := make([]identifiers.Identifier, min(sampleSize, w.identifiers))
	for k := range sample {
		i := rng.IntN(w.persons)
		sample[k] = w.id(i, rng.IntN(w.count(i)))
	}
	unknown := make([]identifiers.Identifier, unknownLookups)
	for k := range unknown {
		unknown[k] = identifiers.Identifier{Type: identifiers.DeviceID, Value: fmt.Sprintf("unknown-%016x", splitmix(uint64(k)))}
	}

	first, err := lookupRound(m, sample, unknown, lookups, "right after catch-up")
	if err != nil {
		return err
	}
	res.lookup1Rate, res.lookup2Rate, res.unknownRate = first.known1, first.known2, first.unknown
	// Real traffic has locality: a few persons are active at a time, and an
	// event looks up all of its person's identifiers. Persons drawn from a
	// Zipf distribution (s = 1.1) model that.
	zipf := rand.NewZipf(rand.New(rand.NewPCG(5, 6)), 1.1, 1, uint64(w.persons-1))
	var skewed []identifiers.Identifier
	for len(skewed) < lookups {
		skewed = append(skewed, w.ids(int(zipf.Uint64()))...)
	}
	took, err := timeLookups(m, skewed, 1, len(skewed), true)
	if err != nil {
		return err
	}
	res.zipfRate = float64(len(skewed)) / took.Seconds()
	fmt.Printf("lookups of the identifiers of Zipf-distributed persons (s = 1.1): 1 goroutine %.0f/s (%s each)\n",
		res.zipfRate, perOp(took, len(skewed)))
	uniform := make([]int, lookups/max(w.base, 1))
	for k := range uniform {
		uniform[k] = rng.IntN(w.persons)
	}
	zipfPersons := make([]int, len(uniform))
	for k := range zipfPersons {
		zipfPersons[k] = int(zipf.Uint64())
	}
	for _, c := range []struct {
		label   string
		persons []int
		calls   *personsCalls
	}{{"random persons", uniform, &res.eventCalls}, {"Zipf-distributed persons (s = 1.1)", zipfPersons, &res.zipfEventCalls}} {
		took, n, err := timePersons(m, w, c.persons)
		if err != nil {
			return err
		}
		*c.calls = personsCalls{rate: float64(n) / took.Seconds(), perCall: perOp(took, len(c.persons)),
			ids: float64(n) / float64(len(c.persons))}
		fmt.Printf("Persons of the identifiers of %s, one call per person: 1 goroutine %.0f identifiers/s (%s each, %s per call of %.2f)\n",
			c.label, c.calls.rate, perOp(took, n), c.calls.perCall, c.calls.ids)
	}
	for _, c := range []struct {
		label  string
		person func() int
		into   *ingestLookups
	}{
		{"random persons", func() int { return rng.IntN(w.persons) }, &res.ingestRandom},
		{"Zipf-distributed persons (s = 1.1)", func() int { return int(zipf.Uint64()) }, &res.ingestZipf},
	} {
		if *c.into, err = ingestWithMap(ctx, cfg, m, w, events, c.person); err != nil {
			return err
		}
		fmt.Printf("ingest processor, touchpoints of %s (customer_id and a device_id): %s per event with the map, %s with lookups that cost nothing (fastest of %d rounds)\n",
			c.label, c.into.withMap, c.into.withoutCost, ingestRounds)
	}
	if settle > 0 {
		fmt.Printf("idle for %s ...\n", settle)
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			return ctx.Err()
		}
		settled, err := lookupRound(m, sample, unknown, lookups, "after "+settle.String()+" idle")
		if err != nil {
			return err
		}
		res.settle, res.settled = settle, &settled
		if res.pebbleSettled, err = testenv.DirSize(res.mapDir); err != nil {
			return err
		}
		fmt.Printf("pebble directory after the second round: %d MiB\n", res.pebbleSettled>>20)
	}
	return nil
}

// lookupRates are the lookups/s of one round.
type lookupRates struct {
	known1, known2, unknown float64
}

// lookupRound times lookups of known identifiers from one goroutine and from
// two, and of unknown identifiers from one, and prints the rates.
func lookupRound(m *identitymap.Map, sample, unknown []identifiers.Identifier, lookups int, label string) (lookupRates, error) {
	var r lookupRates
	took, err := timeLookups(m, sample, 1, lookups, true)
	if err != nil {
		return r, err
	}
	took2, err := timeLookups(m, sample, 2, lookups, true)
	if err != nil {
		return r, err
	}
	tookU, err := timeLookups(m, unknown, 1, len(unknown), false)
	if err != nil {
		return r, err
	}
	r.known1 = float64(lookups) / took.Seconds()
	r.known2 = float64(2*lookups) / took2.Seconds()
	r.unknown = float64(len(unknown)) / tookU.Seconds()
	fmt.Printf("%s: lookups of random known identifiers (%d distinct): 1 goroutine %.0f/s (%s each), 2 goroutines %.0f/s\n",
		label, len(sample), r.known1, perOp(took, lookups), r.known2)
	fmt.Printf("%s: lookups of unknown identifiers: 1 goroutine %.0f/s (%s each)\n", label, r.unknown, perOp(tookU, len(unknown)))
	return r, nil
}

// checkConsistent checks that every identifier of some persons resolves to
// one and the same known person.
func checkConsistent(m *identitymap.Map, w workload, rng *rand.Rand) error {
	for range min(consistencyPersons, w.persons) {
		i := rng.IntN(w.persons)
		var first string
		for _, id := range w.ids(i) {
			p, err := m.Lookup(id)
			if err != nil {
				return err
			}
			if p == "" || (first != "" && p != first) {
				return fmt.Errorf("person %d: identifier %s:%s resolves to %q, another to %q", i, id.Type, id.Value, p, first)
			}
			first = p
		}
	}
	return nil
}

// timePersons looks up the identifiers of each of persons with one Persons
// call, as ingest looks up an event's, and returns the time taken and the
// identifiers looked up. Every identifier must resolve to one person.
func timePersons(m *identitymap.Map, w workload, persons []int) (time.Duration, int, error) {
	events := make([][]identifiers.Identifier, len(persons))
	n := 0
	for k, i := range persons {
		events[k] = w.ids(i)
		n += len(events[k])
	}
	found := make([]string, w.base+1)
	start := time.Now()
	for k, ids := range events {
		if err := m.Persons(ids, found); err != nil {
			return 0, 0, err
		}
		for _, p := range found[:len(ids)] {
			if p == "" || p != found[0] {
				return 0, 0, fmt.Errorf("person %d: identifiers resolve to %q", persons[k], found[:len(ids)])
			}
		}
	}
	return time.Since(start), n, nil
}

// timeLookups runs n lookups of ids (cycled) in each of goroutines
// goroutines and returns the wall time. When known, every lookup must find
// a person; otherwise none may.
func timeLookups(m *identitymap.Map, ids []identifiers.Identifier, goroutines, n int, known bool) (time.Duration, error) {
	errs := make(chan error, goroutines)
	start := time.Now()
	for g := range goroutines {
		go func() {
			off := g * len(ids) / goroutines
			for k := range n {
				p, err := m.Lookup(ids[(off+k)%len(ids)])
				if err == nil && (p != "") != known {
					err = fmt.Errorf("lookup of %v gave %q", ids[(off+k)%len(ids)], p)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range goroutines {
		first = cmp(first, <-errs)
	}
	return time.Since(start), first
}

func perOp(d time.Duration, n int) time.Duration { return d / time.Duration(n) }

// ingestCost times the ingest processor on generated touchpoints encoded as
// the publisher encodes them.
func ingestCost(ctx context.Context, cfg config.Config, events int, res *results) error {
	fmt.Printf("\n== ingest processor (app.NewIngestProcessor, proc.Touchpoint per event)\n")
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return err
	}
	records, idCount, err := encodeTouchpoints(ctx, events, func(*touchpoint.Touchpoint) {})
	if err != nil {
		return err
	}
	accept := func(*enrich.Touchpoint) error { return nil }
	if _, err := timeProcessor(ctx, proc, records[:min(len(records), warmUpEvents)], accept); err != nil {
		return err
	}
	took, err := timeProcessor(ctx, proc, records, accept)
	if err != nil {
		return err
	}
	res.procPerEvent = took / time.Duration(len(records))
	res.idsPerEvent = float64(idCount) / float64(len(records))
	fmt.Printf("%d generated touchpoints in %s: %s per event (%.0f events/s on one goroutine), %.2f identifiers per event\n",
		len(records), took.Round(time.Millisecond), res.procPerEvent, float64(len(records))/took.Seconds(), res.idsPerEvent)
	return nil
}

// encodeTouchpoints generates touchpoints, lets rewrite change each, and
// encodes them as the publisher does. It returns the records and their
// identifiers.
func encodeTouchpoints(ctx context.Context, events int, rewrite func(*touchpoint.Touchpoint)) ([]*kgo.Record, int, error) {
	gen, err := generate.New(generate.Config{Events: events, Persons: max(events/20, 1), Days: 30, Seed: 7})
	if err != nil {
		return nil, 0, err
	}
	reg, err := avro.NewStaticRegistry()
	if err != nil {
		return nil, 0, err
	}
	codecs := avro.NewCodecs(reg)
	schemaID := avro.Latest(avro.KindTouchpoint).ID
	records := make([]*kgo.Record, 0, events)
	idCount := 0
	err = gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
		rewrite(t)
		v, err := codecs.Encode(ctx, schemaID, t.ToAvro())
		if err != nil {
			return err
		}
		idCount += len(t.Identifiers)
		records = append(records, &kgo.Record{Value: v, Offset: int64(len(records))})
		return nil
	})
	return records, idCount, err
}

// timeProcessor passes records through proc.Touchpoint, calls check with
// each result and returns the time taken.
func timeProcessor(ctx context.Context, proc *enrich.Processor, records []*kgo.Record, check func(*enrich.Touchpoint) error) (time.Duration, error) {
	start := time.Now()
	for _, r := range records {
		var tp enrich.Touchpoint
		_, rej, err := proc.Touchpoint(ctx, r, &tp)
		if err == nil && rej == nil {
			err = check(&tp)
		}
		if err != nil || rej != nil {
			return 0, fmt.Errorf("generated touchpoint at %d: %v %v", r.Offset, err, rej)
		}
	}
	return time.Since(start), nil
}

// instantPersons answers every lookup at once with one person, reading no
// memory: with it the ingest processor does all its work but the lookups.
type instantPersons struct{}

// instantPerson is the person instantPersons answers.
const instantPerson = "p_00000000000000000000"

func (instantPersons) Persons(ids []identifiers.Identifier, persons []string) error {
	for i := range ids {
		persons[i] = instantPerson
	}
	return nil
}

// ingestRounds is how many times ingestWithMap times each processor; the
// fastest round counts, the one least disturbed by the rest of the machine.
const ingestRounds = 5

// ingestWithMap times the ingest processor resolving persons through m, and
// through instantPersons, on the same generated touchpoints, whose
// identifiers are the customer_id and the last device_id of persons drawn
// by person. The difference is what the lookups cost the processor. Every
// event must find its person and need no link request.
func ingestWithMap(ctx context.Context, cfg config.Config, m *identitymap.Map, w workload, events int, person func() int) (ingestLookups, error) {
	records, idCount, err := encodeTouchpoints(ctx, events, func(t *touchpoint.Touchpoint) {
		ids := w.ids(person())
		last := ids[len(ids)-1]
		t.Identifiers = touchpoint.AttrsOf(map[string]string{ids[0].Type: ids[0].Value, last.Type: last.Value})
	})
	if err != nil {
		return ingestLookups{}, err
	}
	linked := func(tp *enrich.Touchpoint) error {
		if tp.Link != nil {
			return fmt.Errorf("identifiers %v: the map does not link them", tp.Link.Identifiers)
		}
		return nil
	}
	var fastest [2]time.Duration // with m, with instantPersons
	for _, persons := range []enrich.PersonLookup{m, instantPersons{}} {
		proc, err := app.NewIngestProcessor(cfg)
		if err != nil {
			return ingestLookups{}, err
		}
		proc.WithPersons(persons)
		if _, err := timeProcessor(ctx, proc, records[:min(len(records), warmUpEvents)], linked); err != nil {
			return ingestLookups{}, err
		}
	}
	for range ingestRounds {
		for i, persons := range []enrich.PersonLookup{m, instantPersons{}} {
			proc, err := app.NewIngestProcessor(cfg)
			if err != nil {
				return ingestLookups{}, err
			}
			took, err := timeProcessor(ctx, proc.WithPersons(persons), records, linked)
			if err != nil {
				return ingestLookups{}, err
			}
			if fastest[i] == 0 || took < fastest[i] {
				fastest[i] = took
			}
		}
	}
	n := time.Duration(len(records))
	return ingestLookups{withMap: fastest[0] / n, withoutCost: fastest[1] / n, ids: float64(idCount) / float64(len(records))}, nil
}

// ingestLookups is the ingest processor's time per event with the identity
// map and with instantPersons.
type ingestLookups struct {
	withMap, withoutCost time.Duration
	ids                  float64 // identifiers per event
}

// report prints the summary.
func report(w workload, r *results) {
	fmt.Printf("\n== summary: %d persons, %d identifiers, %d link requests\n", w.persons, w.identifiers, r.requests)
	fmt.Printf("%-62s %14s\n", "measurement", "value")
	row := func(name, value string) { fmt.Printf("%-62s %14s\n", name, value) }
	rate := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "/s" }
	row("link requests, in-process resolver (Apply only)", rate(r.inProcessRate))
	row("link requests, resolver service (Kafka+ClickHouse)", rate(r.serviceRate))
	row("ratio service / in-process", fmt.Sprintf("%.3f", r.serviceRate/r.inProcessRate))
	row("  service wall time (first produce to caught up)", r.serviceTook.Round(time.Millisecond).String())
	row("  of which producing the requests", r.produceTook.Round(time.Millisecond).String())
	row("fresh identity map catch-up", r.catchUp.Round(time.Millisecond).String())
	row("  identifiers in the map", strconv.Itoa(r.mapLen))
	row("  map topic offsets read", strconv.FormatInt(r.mapTopicRecords, 10))
	row("lookups of known identifiers, 1 goroutine", rate(r.lookup1Rate))
	row("lookups of Zipf-distributed persons' identifiers, 1 goroutine", rate(r.zipfRate))
	row("lookups of known identifiers, 2 goroutines", rate(r.lookup2Rate))
	row("Persons per random person's identifiers, 1 goroutine", rate(r.eventCalls.rate))
	row("Persons per Zipf-distributed person's identifiers, 1 goroutine", rate(r.zipfEventCalls.rate))
	row("lookups of unknown identifiers, 1 goroutine", rate(r.unknownRate))
	if r.settled != nil {
		idle := " (after " + r.settle.String() + " idle)"
		row("lookups of known identifiers, 1 goroutine"+idle, rate(r.settled.known1))
		row("lookups of known identifiers, 2 goroutines"+idle, rate(r.settled.known2))
		row("lookups of unknown identifiers, 1 goroutine"+idle, rate(r.settled.unknown))
	}
	for _, p := range r.peakAfter {
		row("peak RSS after "+p.phase, mib(p.peak))
	}
	row("Go heap in use after catch-up", mib(int64(r.heapInuse)))
	row("pebble directory after catch-up", mib(r.pebbleBytes))
	if r.settled != nil {
		row("pebble directory after the lookups", mib(r.pebbleSettled))
	}
	row("resolver in-memory state (estimate)", mib(r.stateBytes))
	row("  per identifier", fmt.Sprintf("%.0f B", float64(r.stateBytes)/float64(w.identifiers)))

	n := time.Duration(r.service.events * r.service.rounds)
	row("ingest service with the map, CPU per event", (r.service.withMap.cpu / n).String())
	row("ingest service with the map, wall time per event", (r.service.withMap.wall / n).String())
	row("ingest service without lookup costs, CPU per event", (r.service.withoutMap.cpu / n).String())
	row("ingest service without lookup costs, wall time per event", (r.service.withoutMap.wall / n).String())

	fmt.Println()
	r.service.report()
	fmt.Println()
	fmt.Println("the ingest processor alone (decode and normalise in memory: no Kafka, no ClickHouse), a stricter proxy:")
	r.share("right after catch-up", r.lookup1Rate)
	r.share("persons drawn from a Zipf distribution", r.zipfRate)
	r.shareOfCalls("one Persons call per event, random persons", r.eventCalls)
	r.shareOfCalls("one Persons call per event, Zipf-distributed persons", r.zipfEventCalls)
	r.shareInIngest("random persons", r.ingestRandom)
	r.shareInIngest("Zipf-distributed persons", r.ingestZipf)
	if r.settled != nil {
		r.share("after "+r.settle.String()+" idle", r.settled.known1)
	}
}

// share prints the share of ingest time per event that lookups at rate
// (known identifiers, one goroutine) would cost.
func (r *results) share(label string, rate float64) {
	lookup := time.Duration(float64(time.Second) / rate)
	perEvent := time.Duration(r.idsPerEvent * float64(lookup))
	share := float64(perEvent) / float64(r.procPerEvent+perEvent)
	fmt.Printf("processor-only lookup share, %s = (%.2f identifiers/event x %s) / (%s processor/event + %s) = %.1f%% (aim: < 5%%)\n",
		label, r.idsPerEvent, lookup, r.procPerEvent, perEvent, 100*share)
}

// shareOfCalls prints the share of ingest time per event that one Persons
// call per event, timed as c, would cost.
func (r *results) shareOfCalls(label string, c personsCalls) {
	share := float64(c.perCall) / float64(r.procPerEvent+c.perCall)
	fmt.Printf("processor-only lookup share, %s = (1 call of %.2f identifiers: %s) / (%s processor/event + %s) = %.1f%% (aim: < 5%%)\n",
		label, c.ids, c.perCall, r.procPerEvent, c.perCall, 100*share)
}

// shareInIngest prints the share of the ingest processor's time per event
// that lookups in the map cost, measured in the processor.
func (r *results) shareInIngest(label string, l ingestLookups) {
	cost := l.withMap - l.withoutCost
	fmt.Printf("processor-only lookup share, measured in the ingest processor, %s (%.2f identifiers/event) = (%s with the map - %s without lookup costs) / %s = %.1f%% (aim: < 5%%)\n",
		label, l.ids, l.withMap, l.withoutCost, l.withMap, 100*float64(cost)/float64(l.withMap))
}

func mib(b int64) string { return strconv.FormatInt(b>>20, 10) + " MiB" }

// report prints the share of the ingest service's time per event that
// lookups in the map cost: its CPU and wall time with the map, less its time
// with lookups that cost nothing, over its time with the map; and the share
// of its CPU profile's samples in the lookups.
func (c serviceCost) report() {
	n := time.Duration(c.events * c.rounds)
	with, without := c.withMap, c.withoutMap
	pairs := make([]string, len(c.pairShares))
	for i, sh := range c.pairShares {
		pairs[i] = fmt.Sprintf("%.1f%%", 100*sh)
	}
	fmt.Printf("the ingest service (Kafka consumer group, processor, ClickHouse inserts, offset commits), %d rounds of %d touchpoints of random persons with the map and as many without lookup costs, alternately:\n",
		c.rounds, c.events)
	fmt.Printf("service lookup share of CPU per event = (%s with the map - %s without lookup costs) / %s = %.1f%% (per pair: %s) (aim: < 5%%)\n",
		with.cpu/n, without.cpu/n, with.cpu/n, 100*float64(with.cpu-without.cpu)/float64(with.cpu), strings.Join(pairs, ", "))
	fmt.Printf("service lookup share of wall time per event = (%s with the map - %s without lookup costs) / %s = %.1f%% (aim: < 5%%)\n",
		with.wall/n, without.wall/n, with.wall/n, 100*float64(with.wall-without.wall)/float64(with.wall))
	fmt.Printf("service lookup share of CPU per event, timed by touchline_ingest_identity_lookup_seconds = %s / %s = %.1f%% (aim: < 5%%)\n",
		with.lookups/n, with.cpu/n, 100*float64(with.lookups)/float64(with.cpu))
	if !c.profiled {
		return
	}
	fmt.Printf("service lookup share of the CPU profile = %d samples in %s of %d = %.1f%%; with its timing metric (%s) %.1f%% (aim: < 5%%); without lookup costs, %s %.1f%% of %d\n",
		with.mapSamples, mapPersonsFunc, with.samples, pct(with.mapSamples, with.samples), timedPersonsFunc, pct(with.timedSamples, with.samples),
		timedPersonsFunc, pct(without.timedSamples, without.samples), without.samples)
}
