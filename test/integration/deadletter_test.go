package integration

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

func goodTouchpoint(id string, at time.Time, revenue touchpoint.Money) *touchpoint.Touchpoint {
	return &touchpoint.Touchpoint{
		EventID: id, EventTime: at, EventType: "purchase",
		UTMSource: "google", UTMMedium: "cpc",
		Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": "anon-" + id, "email": " Jane.Doe@Example.com "}),
		Revenue:     &revenue, Currency: "USD", OrderID: "o-" + id,
	}
}

// TestDeadLetters interleaves every kind of bad input with good records: each
// bad one lands in the dead-letter topic with its reason and original bytes,
// and every good one is in ClickHouse.
func TestDeadLetters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	p, _ := dialEncoding(ctx, t, cfg)
	now := time.Now().UTC().Truncate(time.Millisecond)
	bads := badRecords(ctx, t, now)
	var wantIDs []string
	var wantRevenue int64
	for i, b := range bads {
		for j := 0; j < 3; j++ {
			id := "good-" + string(rune('a'+i)) + string(rune('a'+j))
			rev := touchpoint.Money(int64(i*10+j+1) * 1_250_000)
			if err := p.Touchpoint(ctx, goodTouchpoint(id, now.Add(-time.Duration(i)*time.Minute), rev)); err != nil {
				t.Fatal(err)
			}
			wantIDs = append(wantIDs, id)
			wantRevenue += int64(rev)
		}
		p.Raw(ctx, cfg.Kafka.Topics.Touchpoints, []byte(b.name), b.value)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	proc := startIngest(t, cfgPath, logPath(t))
	defer proc.Kill()

	got, err := testenv.WaitTotals(ctx, conn, uint64(len(wantIDs)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != uint64(len(wantIDs)) || got.Revenue != wantRevenue {
		t.Fatalf("got %d rows, revenue %d; want %d, %d", got.Rows, got.Revenue, len(wantIDs), wantRevenue)
	}
	rows, err := conn.Query(ctx, "SELECT event_id FROM touchpoints FINAL ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	sort.Strings(wantIDs)
	if strings.Join(ids, ",") != strings.Join(wantIDs, ",") {
		t.Fatalf("event ids in clickhouse:\n%v\nwant:\n%v", ids, wantIDs)
	}

	dead := readDeadLetters(ctx, t, cfg, len(bads))
	for _, b := range bads {
		r := checkDeadLetter(t, dead, b)
		if r == nil {
			continue
		}
		if string(r.Value) != string(b.value) {
			t.Errorf("%s: the dead letter does not carry the original bytes", b.name)
		}
		if header(r, ingest.HeaderSourceTopic) != cfg.Kafka.Topics.Touchpoints || header(r, ingest.HeaderError) == "" {
			t.Errorf("%s: source topic or error header missing: %v", b.name, r.Headers)
		}
	}
}

// checkDeadLetter returns the dead letter of b among dead (by key), failing
// the test when there is none or its reason is not b's.
func checkDeadLetter(t *testing.T, dead map[string]*kgo.Record, b badRecord) *kgo.Record {
	t.Helper()
	r, ok := dead[b.name]
	if !ok {
		t.Errorf("%s: not in the dead-letter topic", b.name)
		return nil
	}
	if reason := header(r, ingest.HeaderReason); reason != string(b.reason) {
		t.Errorf("%s: reason %q, want %q (error: %s)", b.name, reason, b.reason, header(r, ingest.HeaderError))
	}
	return r
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// readDeadLetters reads n records from the dead-letter topic, by key.
func readDeadLetters(ctx context.Context, t *testing.T, cfg config.Config, n int) map[string]*kgo.Record {
	t.Helper()
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.ConsumeTopics(cfg.Kafka.Topics.DeadLetter), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string]*kgo.Record{}
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d dead letters: %v", len(out), n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { out[string(r.Key)] = r })
	}
	return out
}

// badRecord is a record of one kind of bad input, with the reason ingest
// must dead-letter it for.
type badRecord struct {
	name   string
	value  []byte
	reason touchpoint.Reason
}

// encodeTouchpoint encodes tp as the touchpoints topic carries it.
func encodeTouchpoint(ctx context.Context, t *testing.T, tp *touchpoint.Touchpoint) []byte {
	t.Helper()
	reg, _ := avro.NewStaticRegistry()
	b, err := avro.NewCodecs(reg).Encode(ctx, avro.Latest(avro.KindTouchpoint).ID, tp.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// badRecords returns one record of every kind of bad input a producer can
// send, for events at now.
func badRecords(ctx context.Context, t *testing.T, now time.Time) []badRecord {
	encode := func(tp *touchpoint.Touchpoint) []byte { return encodeTouchpoint(ctx, t, tp) }
	valid := encode(goodTouchpoint("x", now, 1))
	missing := goodTouchpoint("", now, 1)
	future := goodTouchpoint("future", now.Add(72*time.Hour), 1)
	ancient := goodTouchpoint("ancient", time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), 1)
	negative := goodTouchpoint("negative", now, -5_000_000)
	oversize := goodTouchpoint("oversize", now, 1)
	oversize.PageURL = "https://example.com/?q=" + strings.Repeat("a", 9000)
	badEmail := goodTouchpoint("bademail", now, 1)
	badEmail.Identifiers = touchpoint.AttrsOf(map[string]string{"email": "not-an-address"})
	return []badRecord{
		{"corrupt bytes", []byte("{\"event_id\": \"json is not avro\"}"), enrich.ReasonNotWireFormat},
		{"unknown schema id", append([]byte{0, 0, 0, 3, 231}, valid[5:]...), enrich.ReasonUnknownSchema},
		{"truncated body", valid[:len(valid)/2], enrich.ReasonCorrupt},
		{"missing event_id", encode(missing), touchpoint.ReasonMissingField},
		{"event_time in the future", encode(future), touchpoint.ReasonInvalidTime},
		{"event_time before 2000", encode(ancient), touchpoint.ReasonInvalidTime},
		{"negative revenue", encode(negative), touchpoint.ReasonNegativeRevenue},
		{"oversize field", encode(oversize), touchpoint.ReasonOversizeField},
		{"invalid email", encode(badEmail), enrich.ReasonInvalidIdentifier},
	}
}
