package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestActivateKafkaDestinationExactlyOnce forwards generated changes of two
// partitions to a kafka destination whose topic `touchline topics create`
// made: a read_committed reader of the topic gets every change of the
// destination's two segments exactly once, with the person's hashed
// identifiers and the change's idempotency key, none of the third segment
// and none of a person erased before; and the same after the service is
// SIGKILLed while it forwards and restarted.
func TestActivateKafkaDestinationExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := newActivateRun(ctx, t, "http://127.0.0.1:1", t.TempDir())
	topic := uniqueName(t) + ".activation.crm"
	writeDestinations(t, r.cfg.Pipelines, fmt.Sprintf(`group: %s
destinations:
  - name: crm-stream
    kind: kafka
    segments: [cart_abandoners, lapsed_buyers]
    identifiers: [email, phone]
    features: ["*"]
    topic: %s
`, r.group, topic))
	if out := mustTouchline(ctx, t, "topics", "create", "--config", r.cfgPath); !strings.Contains(out, "created "+topic+" partitions=") {
		t.Fatalf("topics create did not create the destination's topic:\n%s", out)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := clickhouse.InsertIdentityMap(ctx, r.conn, []clickhouse.IdentityMapRow{
		{IdentifierType: "email", IdentifierValue: sha("ann@example.com"), PersonID: "p_act00", FirstSeen: start, Version: 1},
		{IdentifierType: "phone", IdentifierValue: sha("+442079460958"), PersonID: "p_act00", FirstSeen: start, Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	const erased = "p_act02"
	if err := activate.Forget(ctx, r.conn, []string{erased}); err != nil {
		t.Fatal(err)
	}
	keys := func(changes []activate.Change) map[string]bool {
		want := map[string]bool{}
		for _, c := range changes {
			if (c.Segment == "cart_abandoners" || c.Segment == "lapsed_buyers") && c.Person != erased {
				want[activate.IdempotencyKey("crm-stream", c)] = true
			}
		}
		return want
	}
	changes := r.produce(ctx, 300, start)
	log := logPath(t)
	svc := r.start(ctx, log)
	got := waitForwarded(ctx, t, r, topic, keys(changes))
	if p := got[activate.IdempotencyKey("crm-stream", firstOf(changes, "p_act00"))]; p.Identifiers["email_sha256"] != sha("ann@example.com") ||
		p.Identifiers["phone_sha256"] != sha("+442079460958") || p.Features["purchases"] == "" {
		t.Errorf("ann's change: %+v", p)
	}

	// Many more changes; the SIGKILL falls while they are forwarded, once a
	// transaction of theirs has committed.
	adm := admin(t, r.cfg)
	stable := func() int64 { // the sum of the partitions' last stable offsets
		offsets, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		offsets.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	before := stable()
	more := r.produce(ctx, 6000, start.Add(10*time.Minute))
	changes = append(changes, more...)
	for stable() < before+100 {
		time.Sleep(10 * time.Millisecond)
	}
	svc.Kill()
	atKill := readForwarded(ctx, t, r, topic)
	t.Logf("SIGKILL with %d of %d changes forwarded", countOf(atKill), len(keys(changes)))
	if countOf(atKill) >= len(keys(changes)) || countOf(atKill) <= len(got) {
		t.Error("the SIGKILL fell after every change was forwarded, or before any of the new ones: the test shows less of the restart")
	}
	r.start(ctx, log)
	waitForwarded(ctx, t, r, topic, keys(changes))
	if err := testenv.WaitCommitted(ctx, r.cfg, activate.KafkaGroup(r.group), r.cfg.Kafka.Topics.SegmentChanges); err != nil {
		t.Fatal(err)
	}
	waitForwarded(ctx, t, r, topic, keys(changes)) // and nothing since
}

// forwarded are the changes read from a kafka destination's topic, by
// idempotency key, with the number of records of each.
type forwarded map[string][]activate.Payload

// countOf returns the number of records of f.
func countOf(f forwarded) int {
	n := 0
	for _, ps := range f {
		n += len(ps)
	}
	return n
}

// readForwarded reads topic to its end as committed and checks every
// record's key and idempotency key header.
func readForwarded(ctx context.Context, t *testing.T, r *activateRun, topic string) forwarded {
	t.Helper()
	out := forwarded{}
	if err := kafka.ReadCommitted(ctx, r.cfg.Kafka, nil, topic, nil, func(rec *kgo.Record) error {
		var p activate.Payload
		if err := json.Unmarshal(rec.Value, &p); err != nil {
			return fmt.Errorf("offset %d: %w", rec.Offset, err)
		}
		if string(rec.Key) != p.Person || len(rec.Headers) != 1 || rec.Headers[0].Key != "idempotency_key" || string(rec.Headers[0].Value) != p.IdempotencyKey {
			t.Errorf("record %d/%d: key %q, headers %v, payload %+v", rec.Partition, rec.Offset, rec.Key, rec.Headers, p)
		}
		out[p.IdempotencyKey] = append(out[p.IdempotencyKey], p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitForwarded waits until topic holds a record of every key of want, and
// checks that it holds exactly one of each and no other; it returns them.
func waitForwarded(ctx context.Context, t *testing.T, r *activateRun, topic string, want map[string]bool) map[string]activate.Payload {
	t.Helper()
	var got forwarded
	for {
		got = readForwarded(ctx, t, r, topic)
		if countOf(got) >= len(want) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d changes forwarded", countOf(got), len(want))
		case <-time.After(300 * time.Millisecond):
		}
	}
	once := map[string]activate.Payload{}
	for k, ps := range got {
		switch {
		case !want[k]:
			t.Errorf("forwarded %+v, which is no change of the destination's segments and persons", ps[0])
		case len(ps) != 1:
			t.Errorf("forwarded %s %d times", k, len(ps))
		}
		once[k] = ps[0]
	}
	if len(once) != len(want) {
		t.Errorf("%d distinct changes forwarded, want %d", len(once), len(want))
	}
	return once
}

// firstOf returns the first change of person in changes to cart_abandoners
// or lapsed_buyers.
func firstOf(changes []activate.Change, person string) activate.Change {
	for _, c := range changes {
		if c.Person == person && c.Segment != "high_value_customers" {
			return c
		}
	}
	return activate.Change{}
}
