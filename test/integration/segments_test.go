package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/segments"
	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/segmentsref"
	"github.com/touchline-io/touchline/test/testenv"
)

// segmentsPipelines writes a pipelines directory with the shipped channel
// and identity rules and the given segment definitions.
func segmentsPipelines(t *testing.T, definitions string) string {
	t.Helper()
	dir := t.TempDir()
	if err := segmentsref.WritePipelines(dir, testenv.RepoRoot(), definitions); err != nil {
		t.Fatal(err)
	}
	return dir
}

// customerPerson returns the person id the router gives the events of a
// customer id nobody linked: the singleton id of the normalised identifier.
func customerPerson(t *testing.T, cfg config.Config, customer string) string {
	t.Helper()
	personOf, err := segmentsref.CustomerPersons(cfg.Pipelines, cfg.Identifiers.Pepper)
	if err != nil {
		t.Fatal(err)
	}
	person, err := personOf(customer)
	if err != nil {
		t.Fatal(err)
	}
	return person
}

func startSegments(t *testing.T, cfgPath, log string) *testenv.Process {
	t.Helper()
	p, err := testenv.StartProcess(touchlineBin, log, "--config", cfgPath, "segments")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// TestSegmentsServiceMatchesReference publishes a random stream of
// touchpoints (out of order, late, repeated) on four touchpoints
// partitions, with identity merges of any two persons through ClickHouse's
// identity_merges (most across inputs partitions, and merged persons go on
// having events, which the router sends to their survivors), to the
// segments service running as a process that is SIGKILLed and restarted
// twice, and compares the changes it committed, on the changes topic and in
// ClickHouse, with the reference's over the inputs topic as the stage
// consumed it (the routed events, merges, holds and progress, and the
// transfers and forwarded events of merged persons in the order they
// arrived in each partition), and with the reference's over the
// touchpoints topic as published, read back, with the merges where they
// were recorded: merges across partitions are as exact as within one.
func TestSegmentsServiceMatchesReference(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const partitions = 3
	const sources = 4 // touchpoints partitions
	cfg, conn, _ := setup(ctx, t, sources, func(c *config.Config) {
		c.Segments.Partitions = partitions
		c.Segments.IdleAdvance = time.Hour // historical event times: the clock must not move watermarks
		c.Segments.MergePoll = 100 * time.Millisecond
		c.Segments.MaxPollRecords = 50
		c.Segments.CachePersons = 4 // most persons are read back from the local state
	})
	cfg.Pipelines = segmentsPipelines(t, segmentsref.Definitions)
	cfgPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	var persons []string
	customers := map[string]string{} // person -> customer id
	for i := 0; i < 24; i++ {
		c := fmt.Sprintf("cust-%02d", i)
		p := customerPerson(t, cfg, c)
		persons = append(persons, p)
		customers[p] = c
	}
	inputs := segmentsref.StreamAfterMerges(rand.New(rand.NewPCG(7, 11)), 2000, persons)
	// The router sends the events of a merged person to the person it
	// merged into, following the merges it has read.
	eventPerson := map[string]string{} // as routed
	survivors := map[string]string{}
	survivor := func(person string) string {
		for survivors[person] != "" {
			person = survivors[person]
		}
		return person
	}
	across := 0
	for _, in := range inputs {
		if e := in.Event; e != nil {
			eventPerson[e.ID] = survivor(e.Person)
			continue
		}
		if segments.PartitionOf(in.Merge.From, partitions) != segments.PartitionOf(in.Merge.Into, partitions) {
			across++
		}
		if from, into := survivor(in.Merge.From), survivor(in.Merge.Into); from != into {
			survivors[from] = into
		}
	}

	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	log := logPath(t)
	svc := startSegments(t, cfgPath, log)
	merges := 0
	for i, in := range inputs {
		if i == len(inputs)/3 || i == 2*len(inputs)/3 {
			// Kill while the router and the stage are at work. The first
			// restart brings its local state up to date from its
			// checkpoint; the second loses it and rebuilds it from the
			// whole changelog.
			if err := pub.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			svc.Kill()
			if i == 2*len(inputs)/3 {
				if err := os.RemoveAll(filepath.Join(cfg.StateDir, "segments-state")); err != nil {
					t.Fatal(err)
				}
			}
			svc = startSegments(t, cfgPath, log)
		}
		if e := in.Event; e != nil {
			publishEvent(ctx, t, pub, e, customers[e.Person])
			continue
		}
		// A merge reaches the inputs topic through ClickHouse: route
		// everything before it first, so it arrives in its place.
		waitRouted(ctx, t, cfg, pub, merges)
		merges++
		m := in.Merge
		if err := clickhouse.InsertIdentityMerges(ctx, conn, []clickhouse.IdentityMergeRow{{MergedPersonID: m.From,
			SurvivingPersonID: m.Into, RequestID: fmt.Sprint("r", merges), MergedAt: m.At, Version: uint64(merges)}}); err != nil {
			t.Fatal(err)
		}
		waitRouted(ctx, t, cfg, pub, merges)
	}
	waitRouted(ctx, t, cfg, pub, merges)

	got, consumed := waitChanges(ctx, t, cfg, conn, eventPerson)
	want, seen, err := segmentsref.ChangesAcross(consumed, func(person string) int {
		return int(segments.PartitionOf(person, partitions))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d inputs (%d merges, %d across partitions), %d expected changes; the inputs topic held %d merges (%d repeated), %d transfers (%d after the watermark), %d forwarded events (%d late), %d late events in all",
		len(inputs), merges, across, len(want), seen.Merges, seen.Repeated, seen.Transfers, seen.LateTransfers, seen.Forwards, seen.LateForwards, seen.Dropped)
	if across < 5 || seen.Transfers < 5 {
		t.Fatalf("too few merges across partitions to test them: %d merges across, %d transfers", across, seen.Transfers)
	}
	// The router drops the events late as published, and sends the events
	// of merged persons to their survivors: the stage drops no routed
	// event, only (rarely) an event forwarded at a merge.
	if seen.Dropped != seen.LateForwards {
		t.Errorf("the stage dropped %d routed events as late", seen.Dropped-seen.LateForwards)
	}
	if diff := segmentsref.Diff(got, want, 0); diff != "" {
		t.Fatalf("ClickHouse segment_changes differ from the reference:\n%s", diff)
	}
	// The same changes follow from the touchpoints as published, read back
	// partition by partition, with the merges where they were recorded.
	order := map[string][]int{} // event id -> its places among the inputs (some are sent twice)
	for i, in := range inputs {
		if in.Event != nil {
			order[in.Event.ID] = append(order[in.Event.ID], i)
		}
	}
	published := make([]segmentsref.Published, len(inputs))
	for i, in := range inputs {
		published[i] = segmentsref.Published{Merge: in.Merge}
	}
	if err := segmentsref.ReadPublished(ctx, cfg.Kafka, func(source int, tp *touchpoint.Touchpoint) error {
		places := order[tp.EventID]
		if len(places) == 0 {
			return fmt.Errorf("touchpoint %v read back once more than published", tp.EventID)
		}
		order[tp.EventID] = places[1:]
		published[places[0]] = segmentsref.Published{Event: inputs[places[0]].Event, Source: source}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	asPublished, _, _ := segmentsref.FromSources(published, sources, segmentsref.Lateness, segments.MergeOffset)
	if diff := segmentsref.Diff(got, asPublished, 0); diff != "" {
		t.Fatalf("ClickHouse segment_changes differ from the reference over the touchpoints as published:\n%s", diff)
	}
	if diff := segmentsref.Diff(readChanges(ctx, t, cfg), want, 0); diff != "" {
		t.Fatalf("the changes topic differs from the reference (duplicates after a kill?):\n%s", diff)
	}
	logged, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, load := range []string{`"from_checkpoint":true`, `"from_checkpoint":false`} {
		if !strings.Contains(string(logged), load) {
			t.Errorf("no partition's state was loaded with %s", load)
		}
	}
}

// publishEvent publishes a reference event as a touchpoint of customer
// (channel email or direct, revenue in USD).
func publishEvent(ctx context.Context, t *testing.T, pub *publish.Publisher, e *segmentsref.Event, customer string) {
	t.Helper()
	channel := "direct"
	if e.Channel == "email" {
		channel = "email"
	}
	revenue := touchpoint.Money(e.Revenue * touchpoint.MicrosPerUnit)
	if err := pub.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: e.ID, EventTime: e.At, EventType: e.Type, Channel: channel,
		Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": customer}), Revenue: &revenue, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
}

// waitRouted flushes the publisher and waits until the router has routed
// everything: its group has committed the end of the touchpoints topic, and
// the inputs topic holds `merges` merges.
func waitRouted(ctx context.Context, t *testing.T, cfg config.Config, pub *publish.Publisher, merges int) {
	t.Helper()
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	adm := admin(t, cfg)
	for {
		routed, err := kafka.GroupCaughtUp(ctx, adm, cfg.Segments.RouterGroup, cfg.Kafka.Topics.Touchpoints)
		if err != nil && !kerr.IsRetriable(err) { // e.g. the coordinator still loading
			t.Fatal(err)
		}
		if routed && countMerges(ctx, t, cfg) >= merges {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the router did not route everything: %v", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// countMerges counts the distinct merges on the inputs topic (a restarted
// router forwards the earlier ones again).
func countMerges(ctx context.Context, t *testing.T, cfg config.Config) int {
	seen := map[string]bool{}
	if err := kafka.ReadCommitted(ctx, cfg.Kafka, nil, cfg.Kafka.Topics.SegmentInputs, nil, func(r *kgo.Record) error {
		if in, err := segments.DecodeInput(r.Value); err == nil && in.Merge != nil {
			seen[in.Merge.From+">"+in.Merge.Into] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return len(seen)
}

// waitChanges waits until the segments group has committed every input,
// and returns what segment_changes then holds, and the inputs topic's
// records, partition by partition in offset order, as the reference takes
// them: an event whose person is not the one it was routed with
// (eventPerson) is one a partition forwarded.
func waitChanges(ctx context.Context, t *testing.T, cfg config.Config, conn driver.Conn, eventPerson map[string]string) ([]segmentsref.Change, [][]segmentsref.Observed) {
	t.Helper()
	adm := admin(t, cfg)
	var consumed [][]segmentsref.Observed
	for {
		// The router first: until its group has committed every
		// touchpoint, inputs may still come (a restarted router
		// catching up routes a backlog).
		done, err := kafka.GroupCaughtUp(ctx, adm, cfg.Segments.RouterGroup, cfg.Kafka.Topics.Touchpoints)
		done = done && err == nil
		// Then the committed offsets: what the stage forwards it
		// produces in the transaction that commits the inputs it
		// consumed, so once the offsets cover every record read after
		// them, nothing more comes.
		committed, err := adm.FetchOffsets(ctx, cfg.Segments.Group)
		done = done && err == nil
		ends := map[int32]int64{} // after the last data record of each partition
		consumed = make([][]segmentsref.Observed, cfg.Segments.Partitions)
		if err := kafka.ReadCommitted(ctx, cfg.Kafka, nil, cfg.Kafka.Topics.SegmentInputs, nil, func(r *kgo.Record) error {
			ends[r.Partition] = r.Offset + 1
			in, err := segments.DecodeInput(r.Value)
			if err != nil {
				return fmt.Errorf("inputs partition %d offset %d: %w", r.Partition, r.Offset, err)
			}
			consumed[r.Partition] = append(consumed[r.Partition], observedInput(in, eventPerson))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for p, end := range ends {
			if c, ok := committed.Lookup(cfg.Kafka.Topics.SegmentInputs, p); !ok || c.At < end {
				done = false
			}
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the segments service did not process every input: %v", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	out, err := segmentsref.ReadStoredChanges(ctx, conn, "segment_changes")
	if err != nil {
		t.Fatal(err)
	}
	return out, consumed
}

// observedInput returns an inputs topic record as the reference takes it.
// It reads only the merged person and the time of a transfer, not the state
// it carries.
func observedInput(in engine.Input, eventPerson map[string]string) segmentsref.Observed {
	switch {
	case in.Hold != nil:
		return segmentsref.Observed{Hold: &segmentsref.Merge{From: in.Hold.From, Into: in.Hold.Into, At: in.Hold.At}}
	case in.Progress != nil:
		read := map[int]time.Time{}
		for s, at := range in.Progress.Read {
			read[int(s)] = at
		}
		return segmentsref.Observed{Progress: &segmentsref.Progress{Sources: int(in.Progress.Sources), Read: read}}
	case in.Merge != nil:
		return segmentsref.Observed{Merge: &segmentsref.Merge{From: in.Merge.From, Into: in.Merge.Into, At: in.Merge.At}}
	case in.Transfer != nil:
		return segmentsref.Observed{Transfer: &segmentsref.Transfer{From: in.Transfer.State.ID, Into: in.Transfer.Into, At: in.Transfer.At}}
	}
	e := in.Event
	ref := &segmentsref.Event{ID: e.ID, Person: e.Person, Type: e.Type, Channel: e.Channel, At: e.At, Revenue: e.Revenue}
	if e.Channel != "email" {
		ref.Channel = "web" // routed as direct
	}
	if eventPerson[e.ID] != e.Person {
		return segmentsref.Observed{Forward: ref}
	}
	return segmentsref.Observed{Event: ref}
}

// readChanges reads every committed SegmentChange record.
func readChanges(ctx context.Context, t *testing.T, cfg config.Config) []segmentsref.Change {
	t.Helper()
	var out []segmentsref.Change
	if err := segmentsref.ReadChanges(ctx, cfg.Kafka, func(partition int32, key string, c segmentsref.Change) error {
		if key != c.Person || segments.PartitionOf(key, cfg.Segments.Partitions) != partition {
			t.Errorf("change of %v keyed %q on partition %d", c.Person, key, partition)
		}
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCartAbandonerEntersWithoutAnotherEvent: a cart added an hour ago
// minus a few seconds, and nothing else: the person enters cart_abandoners
// at the cart's time plus one hour, driven by the idle partition's clock,
// and `touchline segments members` and `segments person` show it.
func TestCartAbandonerEntersWithoutAnotherEvent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, func(c *config.Config) {
		c.Segments.Partitions = 2
		c.Segments.IdleAdvance = 500 * time.Millisecond
	})
	// The shipped definitions, with a lateness of 1s instead of 5m.
	cfg.Pipelines = shippedSegmentsPipelines(t, "1s")
	cfgPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	startSegments(t, cfgPath, logPath(t))
	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	cart := time.Now().UTC().Add(-time.Hour + 8*time.Second).Truncate(time.Millisecond)
	if err := pub.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: "cart-1", EventTime: cart, EventType: "add_to_cart",
		Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": "shopper-1"})}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	person := customerPerson(t, cfg, "shopper-1")
	var at time.Time
	var entered uint8
	var millis uint16
	for {
		err := conn.QueryRow(ctx, `SELECT entered, changed_at, changed_millis FROM segment_changes FINAL
WHERE segment = 'cart_abandoners' AND person_id = ?`, person).Scan(&entered, &at, &millis)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no cart_abandoners change for %s: %v", person, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	at = at.Add(time.Duration(millis) * time.Millisecond)
	if entered != 1 || !at.Equal(cart.Add(time.Hour)) {
		t.Errorf("change entered=%d at %s, want an entry at %s", entered, at, cart.Add(time.Hour))
	}
	t.Logf("the entry due at %s was written %s after it", cart.Add(time.Hour).Format(time.TimeOnly), time.Since(cart.Add(time.Hour)).Round(time.Millisecond))
	out, err := runTouchline(ctx, "--config", cfgPath, "segments", "members", "cart_abandoners", "--format", "csv")
	if err != nil || !strings.Contains(out, person) {
		t.Errorf("segments members: %v\n%s", err, out)
	}
	out, err = runTouchline(ctx, "--config", cfgPath, "segments", "person", "customer_id:shopper-1")
	if err != nil || !strings.Contains(out, "  cart_abandoners\n") || !strings.Contains(out, `count("add_to_cart", "1d")`) {
		t.Errorf("segments person: %v\n%s", err, out)
	}
}

// runTouchline runs the touchline binary and returns its combined output.
func runTouchline(ctx context.Context, args ...string) (string, error) {
	out, err := osexec.CommandContext(ctx, touchlineBin, args...).CombinedOutput()
	return string(out), err
}

// TestSegmentsCatchUpAfterAStopDropsNothing publishes touchpoints in real
// time (event time = publish time, in order on every partition) on four
// touchpoints partitions at very different rates (100, 30, 8 and 2 per
// second), kills the segments service (router and stage) for 30 s while
// they keep arriving, then restarts it: the router catches up on the four
// partitions at different speeds, with the allowed lateness (2 s) far below
// the stop. No input is dropped as late, and the changes, on the changes
// topic and in ClickHouse, equal the reference's over the touchpoints topic
// as published, read back partition by partition.
func TestSegmentsCatchUpAfterAStopDropsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const sources, lateness = 4, 2 * time.Second
	cfg, conn, _ := setup(ctx, t, sources, func(c *config.Config) {
		c.Segments.Partitions = 3
		c.Segments.IdleAdvance = time.Hour // only the events move the watermarks, as the reference does
		c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	})
	cfg.Pipelines = segmentsPipelines(t, segmentsref.WithLateness(lateness))
	cfgPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	// Customers by the touchpoints partition their key goes to.
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(cfg.Kafka.Topics.Touchpoints)
	byPartition := make([][]string, sources)
	for i := 0; len(byPartition[0]) < 12 || len(byPartition[1]) < 12 || len(byPartition[2]) < 12 || len(byPartition[3]) < 12; i++ {
		c := fmt.Sprintf("cust-%03d", i)
		p := partitioner.Partition(&kgo.Record{Key: []byte(publish.TouchpointKey(&touchpoint.Touchpoint{
			Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": c})}))}, sources)
		if len(byPartition[p]) < 12 {
			byPartition[p] = append(byPartition[p], c)
		}
	}
	rates := []int{100, 30, 8, 2} // per second, by touchpoints partition
	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	rng := rand.New(rand.NewPCG(3, 9))
	types := []string{"add_to_cart", "purchase", "page_view", "click", "click"}
	published := 0
	sent := map[string]*segmentsref.Event{} // by id, as the reference reads them
	persons := map[string]string{}          // by customer id
	for _, customers := range byPartition {
		for _, c := range customers {
			persons[c] = customerPerson(t, cfg, c)
		}
	}
	publishFor := func(d time.Duration) {
		t.Helper()
		start := time.Now()
		count := make([]int, sources)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for ; time.Since(start) < d; <-tick.C {
			for p, rate := range rates {
				for due := int(time.Since(start).Seconds() * float64(rate)); count[p] < due; count[p]++ {
					published++
					customer := byPartition[p][rng.IntN(len(byPartition[p]))]
					e := &segmentsref.Event{ID: fmt.Sprint("ev-", published), Person: persons[customer], Type: types[rng.IntN(len(types))],
						Channel: []string{"email", "web"}[rng.IntN(2)], At: time.Now().UTC().Truncate(time.Millisecond), Revenue: float64(rng.IntN(40))}
					sent[e.ID] = e
					channel := map[string]string{"email": "email", "web": "direct"}[e.Channel]
					revenue := touchpoint.Money(e.Revenue * touchpoint.MicrosPerUnit)
					if err := pub.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: e.ID, EventTime: e.At, EventType: e.Type, Channel: channel,
						Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": customer}), Revenue: &revenue, Currency: "USD"}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if err := pub.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	metrics := "http://" + cfg.HTTPAddr + "/metrics"
	late := func() float64 {
		t.Helper()
		v, ok := metricValue(scrape(metrics), `touchline_segments_inputs_total{result="late"}`)
		if !ok {
			t.Fatalf("no late inputs count at %s", metrics)
		}
		return v
	}
	log := logPath(t)
	svc := startSegments(t, cfgPath, log)
	publishFor(10 * time.Second)
	if n := late(); n != 0 {
		t.Fatalf("%v inputs dropped as late before the stop", n)
	}
	svc.Kill()
	publishFor(30 * time.Second)
	startSegments(t, cfgPath, log)
	publishFor(10 * time.Second)

	// The reference reads the touchpoints as published, partition by
	// partition in offset order.
	var pubs []segmentsref.Published
	eventPerson := map[string]string{}
	if err := segmentsref.ReadPublished(ctx, cfg.Kafka, func(source int, tp *touchpoint.Touchpoint) error {
		e, ok := sent[tp.EventID]
		if !ok {
			return fmt.Errorf("touchpoint %v was not published by the test", tp.EventID)
		}
		eventPerson[e.ID] = e.Person
		pubs = append(pubs, segmentsref.Published{Event: e, Source: source})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(pubs) != published {
		t.Fatalf("read back %d touchpoints, published %d", len(pubs), published)
	}
	want, wantLate, _ := segmentsref.FromSources(pubs, sources, lateness, segments.MergeOffset)
	got, _ := waitChanges(ctx, t, cfg, conn, eventPerson)
	if n := late(); n != 0 || wantLate != 0 {
		t.Fatalf("%v inputs dropped as late after the restart (the reference: %d)", n, wantLate)
	}
	t.Logf("%d touchpoints, %d expected changes", published, len(want))
	if len(want) < 50 {
		t.Fatalf("only %d changes expected: the test exercises too little", len(want))
	}
	if diff := segmentsref.Diff(got, want, 0); diff != "" {
		t.Fatalf("ClickHouse segment_changes differ from the reference over the touchpoints as published:\n%s", diff)
	}
	if diff := segmentsref.Diff(readChanges(ctx, t, cfg), want, 0); diff != "" {
		t.Fatalf("the changes topic differs from the reference over the touchpoints as published:\n%s", diff)
	}
}

// metricValue returns the value of the sample named exactly name (with its
// labels) in a Prometheus text exposition.
func metricValue(text, name string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}
