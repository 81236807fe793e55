package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestForgetRemovesEveryTrace stitches two persons, forgets one by its
// email given in clear, and checks every table and topic forget touches:
// nothing of the forgotten person is left, the other person is intact, a
// new event of hers is dropped, and once `forget --undo` has lifted the
// suppression, the ingest service's local copy of the map no longer knows
// the person.
func TestForgetRemovesEveryTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	log := logPath(t)
	startResolver(t, cfgPath, log)
	startIngest(t, cfgPath, log)
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	send := func(id string, ids map[string]string) {
		t.Helper()
		if err := p.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: id, EventType: "page_view", EventTime: at, Identifiers: touchpoint.AttrsOf(ids)}); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send("x1", map[string]string{"anonymous_id": "anon-x"})
	send("x2", map[string]string{"anonymous_id": "anon-x", "customer_id": "cust-x", "email": "X.Person@Example.com"})
	send("x3", map[string]string{"customer_id": "cust-x"})
	send("y1", map[string]string{"anonymous_id": "anon-y", "customer_id": "cust-y"})

	email := hashedEmail(t, "x.person@example.com")
	xIDs := []identifiers.Identifier{{Type: "anonymous_id", Value: "anon-x"}, {Type: "customer_id", Value: "cust-x"}, email}
	var xValues, xPersons []string
	for _, x := range xIDs {
		xValues = append(xValues, x.Value)
		xPersons = append(xPersons, stitch.SingletonID(x))
	}
	countX := rowCounter(ctx, t, conn)
	waitUntil(ctx, t, "X stitched and all four events stored", func() bool {
		return countX("SELECT count() FROM identity_map FINAL WHERE has(?, identifier_value)", xValues) == 3 &&
			countX("SELECT count() FROM touchpoints FINAL") == 4
	})

	out, err := exec.CommandContext(ctx, touchlineBin, "forget", "email: X.Person@Example.com ", "--config", cfgPath).Output()
	if err != nil {
		t.Fatalf("forget: %v\n%s", err, stderrOf(err))
	}
	var erased identity.Erasure
	if err := json.Unmarshal(out, &erased); err != nil {
		t.Fatalf("forget printed %s: %v", out, err)
	}
	if len(erased.Identifiers) != 3 || erased.Rows["touchpoints"] != 3 || erased.Rows["identity_map"] != 3 ||
		erased.Rows["identity_merges"] != 2 || erased.Rows["person_overrides"] != 2 {
		t.Errorf("forget reported %s", out)
	}

	checkErased(t, countX, "after the forget", xPersons, xValues)
	if n := countX("SELECT count() FROM touchpoints FINAL WHERE event_id = 'y1'"); n != 1 {
		t.Errorf("the other person's event is gone")
	}
	inMap := map[string]string{}
	if err := identity.ReadMap(ctx, cfg.Kafka, zap.NewNop(), func(a stitch.Assignment, present bool) {
		if present {
			inMap[string(stitch.MapKey(a.Identifier))] = a.Person
		} else {
			delete(inMap, string(stitch.MapKey(a.Identifier)))
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, x := range xIDs {
		if person, ok := inMap[string(stitch.MapKey(x))]; ok {
			t.Errorf("the identity map topic still maps %s:%s to %s", x.Type, x.Value, person)
		}
	}
	if _, ok := inMap["customer_id:cust-y"]; !ok {
		t.Error("the other person's identifiers left the identity map topic")
	}
	// A new event of the customer id is dropped: its identifiers are
	// suppressed. y2, sent after it, is a barrier.
	send("x-again", map[string]string{"customer_id": "cust-x"})
	send("y2", map[string]string{"customer_id": "cust-y"})
	waitUntil(ctx, t, "y2 stored", func() bool { return countX("SELECT count() FROM touchpoints FINAL WHERE event_id = 'y2'") == 1 })
	if n := countX("SELECT count() FROM touchpoints WHERE event_id = 'x-again'"); n != 0 {
		t.Errorf("a new event of the forgotten customer id was stored")
	}
	// Once the suppression is lifted, the ingest service's local copy has
	// forgotten too: a new event of the customer id is stored as a new
	// person (its own singleton id), not as the forgotten person (anon-x's,
	// first seen).
	if out, err := runTouchline(ctx, "forget", "--undo", "customer_id:cust-x", "--config", cfgPath); err != nil {
		t.Fatalf("forget --undo: %v\n%s", err, out)
	}
	for round := 0; ; round++ {
		id := fmt.Sprintf("x-again-%d", round)
		send(id, map[string]string{"customer_id": "cust-x"})
		var person string
		for deadline := time.Now().Add(3 * time.Second); person == "" && ctx.Err() == nil && time.Now().Before(deadline); {
			_ = conn.QueryRow(ctx, "SELECT person_id FROM touchpoints FINAL WHERE event_id = ?", id).Scan(&person)
			time.Sleep(100 * time.Millisecond)
		}
		if person == stitch.SingletonID(xIDs[1]) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after the suppression was lifted, a new event of the forgotten customer id is stored as %q", person)
		}
	}
}

// TestForgetHoldsUnderReplayAndReachesSegments erases a person who is in a
// segment and has a segment timer pending (a cart an hour before the
// timer), with the identity resolver, ingest and the segments service
// running as processes: she leaves segment_changes and `segments members`
// at once, and her timer never writes an entry (another person's cart of
// the same time does enter). A new event that carries one of her
// identifiers with a new one is dropped whole. Then every service's
// consumer group is reset to the earliest offsets, their local state
// directories are removed, and everything is consumed again: she is in no table, no segment, and no record written
// after the forget; `identity show` does not find her; ingest and the
// router counted every one of her events as suppressed.
func TestForgetHoldsUnderReplayAndReachesSegments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// One touchpoints partition, events sent in time order: every segments
	// partition sees its inputs in time order, none late.
	cfg, conn, _ := setup(ctx, t, 1, func(c *config.Config) {
		c.Segments.Partitions = 2
		c.Segments.IdleAdvance = 500 * time.Millisecond
		c.Segments.MergePoll = 200 * time.Millisecond
	})
	cfg.Pipelines = shippedSegmentsPipelines(t, "1s")
	// One configuration per service, each with its own metrics port.
	configFor := func(port int) (string, string) {
		c := cfg
		c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
		p := filepath.Join(t.TempDir(), "touchline.yaml")
		if err := testenv.WriteConfig(c, p); err != nil {
			t.Fatal(err)
		}
		return p, "http://" + c.HTTPAddr + "/metrics"
	}
	resolverCfg, _ := configFor(freePort(t))
	ingestCfg, ingestMetrics := configFor(freePort(t))
	segmentsCfg, segmentsMetrics := configFor(freePort(t))
	log := logPath(t)
	start := func() []*testenv.Process {
		return []*testenv.Process{startResolver(t, resolverCfg, log), startIngest(t, ingestCfg, log), startSegments(t, segmentsCfg, log)}
	}
	procs := start()

	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	// The carts' timers are due a minute from now: after the forget.
	cart := now.Add(-time.Hour + time.Minute)
	send := func(id, typ string, at time.Time, ids map[string]string) {
		t.Helper()
		if err := pub.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: id, EventType: typ, EventTime: at, Identifiers: touchpoint.AttrsOf(ids)}); err != nil {
			t.Fatal(err)
		}
		if err := pub.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	xEmail := map[string]string{"anonymous_id": "anon-x", "customer_id": "cust-x", "email": "X.Person@Example.com"}
	send("x1", "signup", now.Add(-2*time.Hour), map[string]string{"anonymous_id": "anon-x"})
	send("y1", "signup", now.Add(-2*time.Hour), map[string]string{"customer_id": "cust-y"})
	send("x2", "page_view", now.Add(-90*time.Minute), xEmail)
	send("x3", "add_to_cart", cart, map[string]string{"customer_id": "cust-x"})
	send("y2", "add_to_cart", cart, map[string]string{"customer_id": "cust-y"})

	email := hashedEmail(t, "x.person@example.com")
	xIDs := []identifiers.Identifier{{Type: "anonymous_id", Value: "anon-x"}, {Type: "customer_id", Value: "cust-x"}, email,
		{Type: "anonymous_id", Value: "anon-x-new"}}
	var xValues, xPersons []string
	for _, x := range xIDs {
		xValues = append(xValues, x.Value)
		xPersons = append(xPersons, stitch.SingletonID(x))
	}
	yPerson := customerPerson(t, cfg, "cust-y")
	count := rowCounter(ctx, t, conn)
	t.Cleanup(func() {
		if t.Failed() { // what the tables hold, to tell which step did not happen
			logRows(t, conn, "SELECT concat(event_id, ' ', person_id) FROM touchpoints FINAL ORDER BY event_id",
				"SELECT concat(identifier_type, ':', identifier_value, ' ', person_id) FROM identity_map FINAL ORDER BY identifier_value",
				"SELECT concat(segment, ' ', person_id, ' ', toString(entered), ' ', toString(changed_at)) FROM segment_changes FINAL ORDER BY changed_at")
		}
	})
	waitFor := func(what string, done func() bool) { t.Helper(); waitUntil(ctx, t, what, done) }
	// X is stitched and a new lead (as anon-x's person, first seen), and so is Y.
	waitFor("X stitched and both persons new leads", func() bool {
		return count("SELECT count() FROM identity_map FINAL WHERE has(?, identifier_value)", xValues) == 3 &&
			count("SELECT count() FROM segment_members WHERE segment = 'new_leads' AND has(?, person_id)", append(xPersons, yPerson)) == 2
	})
	if n := count("SELECT count() FROM segment_changes FINAL WHERE segment = 'cart_abandoners'"); n != 0 {
		t.Fatalf("a cart timer fired before its time: %d cart_abandoners changes", n)
	}

	out, err := exec.CommandContext(ctx, touchlineBin, "forget", "email:X.Person@Example.com", "--config", resolverCfg).Output()
	if err != nil {
		t.Fatalf("forget: %v\n%s", err, stderrOf(err))
	}
	var erased identity.Erasure
	if err := json.Unmarshal(out, &erased); err != nil {
		t.Fatalf("forget printed %s: %v", out, err)
	}
	if len(erased.Identifiers) != 3 || erased.Rows["segment_changes"] != 1 || erased.Rows["touchpoints"] != 3 {
		t.Errorf("forget reported %s; want 3 identifiers, 3 touchpoints and 1 segment change", out)
	}
	if time.Now().After(cart.Add(time.Hour)) {
		t.Fatalf("the forget ended after the cart timers were due: the test cannot tell whether X's timer was erased")
	}
	// What the topics hold now; nothing written from here on may be X's.
	topics := []string{cfg.Kafka.Topics.IdentityLinks, cfg.Kafka.Topics.IdentityMap, cfg.Kafka.Topics.DeadLetter,
		cfg.Kafka.Topics.SegmentInputs, cfg.Kafka.Topics.SegmentChangelog, cfg.Kafka.Topics.SegmentChanges}
	ends, err := admin(t, cfg).ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	checkErased(t, count, "after the forget", xPersons, xValues)
	members, err := runTouchline(ctx, "--config", resolverCfg, "segments", "members", "new_leads", "--format", "csv")
	if err != nil || !strings.Contains(members, yPerson) {
		t.Errorf("segments members new_leads: %v\n%s", err, members)
	}
	// A new event of X's customer id with an identifier never seen: dropped
	// whole, the new identifier included.
	send("x4", "page_view", now.Add(-time.Minute), map[string]string{"customer_id": "cust-x", "anonymous_id": "anon-x-new"})
	// Y's cart enters cart_abandoners at its time; X's does not.
	waitFor("Y's cart timer", func() bool {
		return count("SELECT count() FROM segment_changes FINAL WHERE segment = 'cart_abandoners' AND person_id = ?", yPerson) == 1
	})
	send("y3", "page_view", now, map[string]string{"customer_id": "cust-y"}) // a barrier behind x4
	waitFor("y3 stored", func() bool { return count("SELECT count() FROM touchpoints FINAL WHERE event_id = 'y3'") == 1 })
	if got, _ := metricValue(scrape(ingestMetrics), "touchline_ingest_suppressed_total"); got != 1 {
		t.Errorf("ingest counted %v suppressed touchpoints after the forget, want 1 (x4)", got)
	}

	// Reset every group to the earliest offsets and consume everything again.
	for _, p := range procs {
		if err := p.Terminate(time.Minute); err != nil {
			t.Fatalf("a service did not stop cleanly: %v", err)
		}
	}
	resetGroup(ctx, t, cfg, cfg.Ingest.Group, cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend)
	resetGroup(ctx, t, cfg, cfg.Identity.Group, cfg.Kafka.Topics.IdentityLinks)
	resetGroup(ctx, t, cfg, cfg.Segments.RouterGroup, cfg.Kafka.Topics.Touchpoints)
	resetGroup(ctx, t, cfg, cfg.Segments.Group, cfg.Kafka.Topics.SegmentInputs)
	// The local copies go too: every service rebuilds its own from the
	// topics (the changelog with its tombstones and erased persons, the map
	// topic with its tombstones).
	if err := os.RemoveAll(cfg.StateDir); err != nil {
		t.Fatal(err)
	}
	start()
	waitCommitted(ctx, t, cfg)
	waitGroup(ctx, t, cfg, cfg.Segments.RouterGroup, cfg.Kafka.Topics.Touchpoints)
	waitGroup(ctx, t, cfg, cfg.Identity.Group, cfg.Kafka.Topics.IdentityLinks)
	waitGroup(ctx, t, cfg, cfg.Segments.Group, cfg.Kafka.Topics.SegmentInputs)

	checkErased(t, count, "after the replay", xPersons, xValues)
	if n := count("SELECT count() FROM touchpoints FINAL WHERE has(?, event_id)", []string{"y1", "y2", "y3"}); n != 3 {
		t.Errorf("after the replay, %d of Y's 3 events are stored", n)
	}
	for _, arg := range []string{"email:x.person@example.com", "customer_id:cust-x", "anonymous_id:anon-x", "anonymous_id:anon-x-new"} {
		if out, err := runTouchline(ctx, "--config", resolverCfg, "identity", "show", arg); err == nil || !strings.Contains(out, "unknown identifier") {
			t.Errorf("identity show %s after the replay: %v\n%s", arg, err, out)
		}
	}
	if out, err := runTouchline(ctx, "--config", resolverCfg, "identity", "show", "customer_id:cust-y"); err != nil {
		t.Errorf("identity show of Y after the replay: %v\n%s", err, out)
	}
	from := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if from[o.Topic] == nil {
			from[o.Topic] = map[int32]int64{}
		}
		from[o.Topic][o.Partition] = o.Offset
	})
	for _, topic := range topics {
		written := 0
		if err := kafka.ReadCommittedFrom(ctx, cfg.Kafka, nil, topic, from[topic], func(r *kgo.Record) error {
			written++
			for _, needle := range append(xValues, xPersons...) {
				if bytes.Contains(r.Key, []byte(needle)) || bytes.Contains(r.Value, []byte(needle)) {
					t.Errorf("%s got a record of X after the forget (offset %d): %q", topic, r.Offset, r.Key)
					break
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d records written after the forget", topic, written)
	}
	// Ingest and the router dropped x1 to x4 as they consumed them again.
	if got, _ := metricValue(scrape(ingestMetrics), "touchline_ingest_suppressed_total"); got != 4 {
		t.Errorf("ingest counted %v suppressed touchpoints in the replay, want 4", got)
	}
	if got, _ := metricValue(scrape(segmentsMetrics), `touchline_segments_routed_total{kind="suppressed"}`); got != 4 {
		t.Errorf("the segments router counted %v suppressed touchpoints in the replay, want 4", got)
	}
}

// resetGroup commits the start offset of every partition of topics for
// group, as `kafka-consumer-groups --reset-offsets --to-earliest` does.
func resetGroup(ctx context.Context, t *testing.T, cfg config.Config, group string, topics ...string) {
	t.Helper()
	adm := admin(t, cfg)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	var offsets kadm.Offsets
	starts.Each(func(o kadm.ListedOffset) { offsets.AddOffset(o.Topic, o.Partition, o.Offset, -1) })
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatalf("resetting group %s: %v", group, err)
	}
}

// waitGroup waits until group has consumed topics to their ends (up to one
// offset: a transaction marker).
func waitGroup(ctx context.Context, t *testing.T, cfg config.Config, group string, topics ...string) {
	t.Helper()
	adm := admin(t, cfg)
	for {
		lag, err := kafka.GroupLag(ctx, adm, group, topics...)
		if err == nil && lag <= 1 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for group %s to consume %v: lag %d, %v", group, topics, lag, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// rowCounter returns a function that runs a count query on conn.
func rowCounter(ctx context.Context, t *testing.T, conn driver.Conn) func(query string, args ...any) uint64 {
	return func(query string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// waitUntil polls done until it holds, failing the test after 90 s or
// when ctx ends.
func waitUntil(ctx context.Context, t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !done() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out (%v)", what, ctx.Err())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkErased checks that no table forget erases holds a row of persons
// or of the identifier values, not even one waiting for a merge (no
// FINAL).
func checkErased(t *testing.T, count func(query string, args ...any) uint64, when string, persons, values []string) {
	t.Helper()
	for table, where := range map[string]string{
		"touchpoints":       "has(?, person_id) OR hasAny(identifier_values, ?)",
		"identity_map":      "has(?, person_id) OR has(?, identifier_value)",
		"identity_merges":   "has(?, merged_person_id) OR has(?, surviving_person_id)",
		"identity_refusals": "has(?, person_id) OR has(?, other_person_id)",
		"person_overrides":  "has(?, person_id) OR has(?, surviving_person_id)",
		"segment_changes":   "has(?, person_id) OR has(?, person_id)",
	} {
		if n := count("SELECT count() FROM "+table+" WHERE "+where, persons, append(append([]string(nil), values...), persons...)); n != 0 {
			t.Errorf("%s, %s holds %d rows of the erased person", when, table, n)
		}
	}
}

// shippedSegmentsPipelines writes a pipelines directory with the shipped
// rules and segment definitions, with the given allowed lateness instead
// of 5m.
func shippedSegmentsPipelines(t *testing.T, lateness string) string {
	t.Helper()
	shipped, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "pipelines", "segments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return segmentsPipelines(t, strings.Replace(string(shipped), "allowed_lateness: 5m", "allowed_lateness: "+lateness, 1))
}

// hashedEmail returns an email identifier as ingest stores it under the
// default rules.
func hashedEmail(t *testing.T, email string) identifiers.Identifier {
	t.Helper()
	norm, err := stitch.DefaultRules().Normalizer("")
	if err != nil {
		t.Fatal(err)
	}
	id, err := norm.Identifier("email", email)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// logRows logs what each query (of one String column) returns.
func logRows(t *testing.T, conn driver.Conn, queries ...string) {
	for _, q := range queries {
		var lines []string
		rows, err := conn.Query(context.Background(), q)
		for err == nil && rows.Next() {
			var line string
			err = rows.Scan(&line)
			lines = append(lines, line)
		}
		if rows != nil {
			err = errors.Join(err, rows.Err())
			rows.Close()
		}
		t.Logf("%s (%v):\n%s", q, err, strings.Join(lines, "\n"))
	}
}
