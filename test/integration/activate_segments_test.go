package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/test/segmentsref"
)

// TestActivateDeliversASegmentsRun runs the segments service on a
// generated stream of touchpoints (two inputs partitions) and the activate
// service beside it, SIGKILLed and restarted while the changes flow: the
// receiver gets one signed POST per change of the changes topic in the
// webhook's three segments (and, with the same key, at most the one POST
// in flight at the SIGKILL), none of the fourth, with the
// hashed customer id of the person. Then `touchline forget` erases the person
// with the most deliveries: she is in no row of segment_changes, of the
// other tables forget erases, nor of activation_deliveries, and the
// segments changelog, read to its end and compacted, holds no state of
// hers, only the record that she is forgotten.
func TestActivateDeliversASegmentsRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 2, func(c *config.Config) {
		c.Segments.Partitions = 2
		c.Segments.IdleAdvance = time.Hour // historical event times: the clock must not move watermarks
		c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	})
	cfg.Pipelines = segmentsPipelines(t, segmentsref.Definitions)
	t.Setenv("TL_TEST_HOOK_SECRET", hookSecret)
	hook := newHookReceiver(t)
	srv := httptest.NewServer(hook)
	defer srv.Close()
	group := uniqueName(t) + ".activate"
	writeDestinations(t, cfg.Pipelines, fmt.Sprintf(`group: %s
destinations:
  - name: crm
    kind: webhook
    segments: [carts_no_buy, big_spender, email_fan]
    identifiers: [customer_id]
    features: ["*"]
    url: %s
    secret_env: TL_TEST_HOOK_SECRET
    rate: 1000
`, group, srv.URL))
	cfgPath := configFile(t, cfg)

	// The customers' persons, and their identity_map rows, as the resolver
	// writes them, for forget to find.
	customers := map[string]string{} // person -> customer id
	var persons []string
	var rows []clickhouse.IdentityMapRow
	for i := range 12 {
		c := fmt.Sprintf("cust-%02d", i)
		p := customerPerson(t, cfg, c)
		persons = append(persons, p)
		customers[p] = c
		rows = append(rows, clickhouse.IdentityMapRow{IdentifierType: "customer_id", IdentifierValue: c, PersonID: p, FirstSeen: time.Now().Add(-72 * time.Hour), Version: 1})
	}
	if err := clickhouse.InsertIdentityMap(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	inputs := segmentsref.Stream(rand.New(rand.NewPCG(21, 3)), 1200, persons, func(string, string) bool { return false })
	eventPerson := map[string]string{}
	for _, in := range inputs {
		if e := in.Event; e != nil {
			eventPerson[e.ID] = e.Person
		}
	}
	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	log := logPath(t)
	othersCfg := configFile(t, func() config.Config { c := cfg; c.HTTPAddr = "127.0.0.1:0"; return c }()) // the activate service has the port
	startSegments(t, othersCfg, log)
	svc := startActivate(ctx, t, cfgPath, cfg.HTTPAddr, log)
	for i, in := range inputs {
		if i == len(inputs)/2 {
			waitRouted(ctx, t, cfg, pub, 0)
			waitUntil(ctx, t, "a first delivery", func() bool { _, posts := hook.counts(); return posts > 0 })
			svc.Kill()
			_, posted := hook.counts()
			var recorded uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM activation_deliveries FINAL").Scan(&recorded); err != nil {
				t.Fatal(err)
			}
			// Without the journal, each of these would be posted again.
			t.Logf("SIGKILL with %d POSTs received, %d of them recorded in ClickHouse", posted, recorded)
			svc = startActivate(ctx, t, cfgPath, cfg.HTTPAddr, log)
		}
		if e := in.Event; e != nil {
			publishEvent(ctx, t, pub, e, customers[e.Person])
		}
	}
	waitRouted(ctx, t, cfg, pub, 0)
	stored, _ := waitChanges(ctx, t, cfg, conn, eventPerson)

	// What the webhook must get: the changes topic's changes of its segments.
	reg, err := kafka.NewRegistry(cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	codecs := avro.NewCodecs(reg)
	want := map[string]bool{}
	changes, others := 0, 0
	if err := kafka.ReadCommitted(ctx, cfg.Kafka, nil, cfg.Kafka.Topics.SegmentChanges, nil, func(r *kgo.Record) error {
		c, err := activate.DecodeChange(ctx, codecs, r.Value)
		if err != nil {
			return err
		}
		changes++
		if c.Segment == "quiet" {
			others++
			return nil
		}
		want[activate.IdempotencyKey("crm", c)] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d changes on the topic (%d in segment_changes), %d for the webhook", changes, len(stored), len(want))
	if changes != len(stored) || len(want) < 50 || others == 0 {
		t.Fatalf("%d changes on the topic, %d stored, %d for the webhook, %d of quiet: the run exercises too little", changes, len(stored), len(want), others)
	}
	// The SIGKILL while changes were delivered may post again the one POST
	// in flight at the kill (one webhook, one change per POST), with its
	// key: the journal knows the outcomes of all others.
	waitDeliveredResent(ctx, t, hook, conn, want, "", 1)
	waitGroup(ctx, t, cfg, group, cfg.Kafka.Topics.SegmentChanges) // up to a transaction marker
	keys, posts := hook.counts()
	t.Logf("%d POSTs of %d keys: %d resent after the SIGKILL, with their keys", posts, keys, posts-keys)
	waitDeliveredResent(ctx, t, hook, conn, want, "", posts-keys) // and none since
	deliveries := map[string]int{}
	hook.mu.Lock()
	for k, p := range hook.got {
		if p.Identifiers["customer_id_sha256"] != sha(customers[p.Person]) {
			t.Errorf("%s: identifiers %v, want the SHA-256 of %s", k, p.Identifiers, customers[p.Person])
		}
		deliveries[p.Person]++
	}
	hook.mu.Unlock()

	// Erasure of the person with the most deliveries.
	var erased string
	for p, n := range deliveries {
		if n > deliveries[erased] {
			erased = p
		}
	}
	startResolver(t, othersCfg, log)
	if out, err := runTouchline(ctx, "--config", cfgPath, "forget", "customer_id:"+customers[erased], "--timeout", "1m"); err != nil {
		t.Fatalf("forget: %v\n%s", err, out)
	}
	count := rowCounter(ctx, t, conn)
	checkErased(t, count, "after the forget", []string{erased}, []string{customers[erased]})
	for _, table := range []string{"segment_members", "activation_deliveries"} {
		if n := count("SELECT count() FROM "+table+" WHERE person_id = ?", erased); n != 0 {
			t.Errorf("after the forget, %s holds %d rows of the erased person", table, n)
		}
	}
	checkChangelogForgot(ctx, t, cfg, erased)
}

// checkChangelogForgot reads the segments changelog to its end, keeps the
// last record of each key (what compaction leaves), and checks that none
// names person but the record that she is forgotten, which must be there.
func checkChangelogForgot(ctx context.Context, t *testing.T, cfg config.Config, person string) {
	t.Helper()
	last := map[string][]byte{}
	if err := kafka.ReadCommitted(ctx, cfg.Kafka, nil, cfg.Kafka.Topics.SegmentChangelog, nil, func(r *kgo.Record) error {
		last[fmt.Sprintf("%d/%s", r.Partition, r.Key)] = r.Value
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	forgotten := false
	for key, value := range last {
		switch {
		case bytes.HasSuffix([]byte(key), []byte("/x/"+person)):
			forgotten = value != nil
		case value != nil && (bytes.Contains([]byte(key), []byte(person)) || bytes.Contains(value, []byte(person))):
			t.Errorf("the segments changelog still holds state of the erased person under %s", key)
		}
	}
	if !forgotten {
		t.Errorf("the segments changelog has no record that %s is forgotten", person)
	}
}
