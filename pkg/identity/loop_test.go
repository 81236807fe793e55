package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka/kafkatest"
)

// The tests of this file run the resolver's exactly-once loop (Run) on an
// in-memory Kafka cluster, with a ClickHouse connection that keeps the
// rows it is sent in memory.

// fakeClickHouse is a driver.Conn whose batches record their rows by
// table; Send fails while down is set. Only the methods the resolver
// calls are implemented.
type fakeClickHouse struct {
	driver.Conn
	mu    sync.Mutex
	down  bool
	fails int                 // Send calls that failed
	rows  map[string][]string // sent rows by table, each fmt.Sprint of its values
}

func newFakeClickHouse() *fakeClickHouse { return &fakeClickHouse{rows: map[string][]string{}} }

func (f *fakeClickHouse) PrepareBatch(_ context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	table := strings.Fields(strings.TrimPrefix(query, "INSERT INTO "))[0]
	return &fakeBatch{conn: f, table: table}, nil
}

func (f *fakeClickHouse) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeClickHouse) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fails
}

func (f *fakeClickHouse) sent(table string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.rows[table]...)
}

type fakeBatch struct {
	driver.Batch
	conn  *fakeClickHouse
	table string
	rows  []string
}

func (b *fakeBatch) Append(v ...any) error {
	b.rows = append(b.rows, fmt.Sprint(v...))
	return nil
}

func (b *fakeBatch) Abort() error { return nil }

func (b *fakeBatch) Send() error {
	b.conn.mu.Lock()
	defer b.conn.mu.Unlock()
	if b.conn.down {
		b.conn.fails++
		return errors.New("clickhouse is down")
	}
	b.conn.rows[b.table] = append(b.conn.rows[b.table], b.rows...)
	return nil
}

// running is a resolver service running on a cluster.
type running struct {
	svc  *Service
	m    *Metrics
	stop func() error // cancels Run, waits for it, and closes the service
}

// start runs a resolver on c with conn until the returned stop is called
// (or t ends).
func start(t *testing.T, c *kafkatest.Cluster, conn driver.Conn) *running {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SessionTimeout = 6 * time.Second // the broker's minimum, as on Kafka
	cfg.RetryBackoff, cfg.RetryBackoffMax = 5*time.Millisecond, 20*time.Millisecond
	m := NewMetrics(prometheus.NewRegistry())
	svc, err := New(cfg, c.Config, conn, stitch.DefaultRules(), m, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				runErr = errors.New("Run did not return within 20s of its context's end")
			}
			svc.Close()
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &running{svc: svc, m: m, stop: stop}
}

// eventually fails t unless cond holds within 20s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// link returns the links-topic record of a link request of ids.
func link(c *kafkatest.Cluster, id string, ids ...identifiers.Identifier) *kgo.Record {
	key, value := stitch.EncodeLinkRequest(stitch.LinkRequest{ID: id, Identifiers: ids,
		At: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)})
	return &kgo.Record{Topic: c.Config.Topics.IdentityLinks, Key: key, Value: value}
}

// committedMap returns the committed map topic: its keys in topic order,
// and the person each identifier maps to after the last of them.
func committedMap(t *testing.T, c *kafkatest.Cluster) (keys []string, latest map[string]string) {
	t.Helper()
	latest = map[string]string{}
	for _, r := range c.ReadCommitted(t, c.Config.Topics.IdentityMap) {
		a, present, err := stitch.DecodeAssignment(r.Key, r.Value)
		if err != nil || !present {
			t.Fatalf("map record %s: present %v, err %v", r.Key, present, err)
		}
		keys = append(keys, string(r.Key))
		latest[string(r.Key)] = a.Person
	}
	return keys, latest
}

// e1Keys are the map records of a first request linking anon1 and cust1:
// each new identifier gets a person of its own, then the two persons merge
// and anon1 moves to the survivor.
const e1Keys = "[anonymous_id:anon-1 customer_id:cust-1 anonymous_id:anon-1]"

// onePerson fails t unless latest maps every identifier of want to one
// person, and nothing else.
func onePerson(t *testing.T, latest map[string]string, want ...identifiers.Identifier) {
	t.Helper()
	persons := map[string]bool{}
	for _, id := range want {
		p, ok := latest[string(stitch.MapKey(id))]
		if !ok {
			t.Errorf("%s is not mapped: %v", stitch.MapKey(id), latest)
		}
		persons[p] = true
	}
	if len(persons) != 1 || len(latest) != len(want) {
		t.Errorf("map %v, want %d identifiers of one person", latest, len(want))
	}
}

var (
	anon1 = identifiers.Identifier{Type: "anonymous_id", Value: "anon-1"}
	anon2 = identifiers.Identifier{Type: "anonymous_id", Value: "anon-2"}
	cust1 = identifiers.Identifier{Type: "customer_id", Value: "cust-1"}
)

// caughtUp waits until the resolver's group has committed the whole links
// topic.
func caughtUp(t *testing.T, c *kafkatest.Cluster) {
	t.Helper()
	eventually(t, "the links topic to be committed", func() bool {
		return c.Lag(t, DefaultConfig().Group, c.Config.Topics.IdentityLinks) == 0
	})
}

// TestRunCommitsMapAndOffsets: two link requests that share a customer_id
// give one person; its three identifiers are on the committed map topic
// once each, in ClickHouse, and the requests' offsets are committed.
func TestRunCommitsMapAndOffsets(t *testing.T) {
	c := kafkatest.New(t)
	c.Produce(t, link(c, "e1", anon1, cust1), link(c, "e2", anon2, cust1))
	ch := newFakeClickHouse()
	r := start(t, c, ch)
	caughtUp(t, c)
	// e2 adds anon2 as a new person, which merges with that of cust1:
	// all three identifiers move to the survivor.
	keys, latest := committedMap(t, c)
	want := e1Keys[:len(e1Keys)-1] + " anonymous_id:anon-2 customer_id:cust-1 anonymous_id:anon-1]"
	if got := fmt.Sprint(keys); got != want {
		t.Errorf("committed map %s, want %s", got, want)
	}
	onePerson(t, latest, anon1, anon2, cust1)
	if rows := ch.sent("identity_map"); len(rows) != len(keys) {
		t.Errorf("identity_map rows %v, want one per map record (%d)", rows, len(keys))
	}
	if err := r.svc.Ready(); err != nil {
		t.Errorf("not ready after the batch: %v", err)
	}
	if err := r.stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestAbortedTransactionIsRetried: the broker refuses the first produce of
// map records, so the first transaction aborts; the resolver rebuilds and
// applies the same requests again, and a read_committed consumer sees each
// identifier once. ClickHouse gets the rows twice, with the same versions,
// which its ReplacingMergeTree deduplicates.
func TestAbortedTransactionIsRetried(t *testing.T) {
	c := kafkatest.New(t)
	c.Produce(t, link(c, "e1", anon1, cust1))
	// The first produce from now on is the resolver's, of map records.
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		produce := req.(*kmsg.ProduceRequest)
		refused.Add(1)
		resp := produce.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range produce.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	ch := newFakeClickHouse()
	r := start(t, c, ch)
	caughtUp(t, c)
	if n := refused.Load(); n != 1 {
		t.Fatalf("the broker refused %d produce requests, want 1", n)
	}
	keys, latest := committedMap(t, c)
	if got := fmt.Sprint(keys); got != e1Keys {
		t.Errorf("committed map %s, want %s: the batch once", got, e1Keys)
	}
	onePerson(t, latest, anon1, cust1)
	if got := testutil.ToFloat64(r.m.writeErrors.WithLabelValues("kafka")); got != 1 {
		t.Errorf("kafka write errors %v, want 1 aborted transaction", got)
	}
	rows := ch.sent("identity_map")
	if len(rows) != 6 || fmt.Sprint(rows[:3]) != fmt.Sprint(rows[3:]) {
		t.Errorf("identity_map rows %v, want the batch's three rows twice, identical", rows)
	}
}

// TestShutdownMidBatchLosesNothing: the resolver is stopped while its
// batch waits for ClickHouse; it commits nothing, and the next resolver
// applies the request: nothing is lost and nothing is doubled.
func TestShutdownMidBatchLosesNothing(t *testing.T) {
	c := kafkatest.New(t)
	c.Produce(t, link(c, "e1", anon1, cust1))
	ch := newFakeClickHouse()
	ch.setDown(true)
	first := start(t, c, ch)
	eventually(t, "ClickHouse writes to be retried", func() bool { return ch.failures() >= 3 })
	if err := first.svc.Ready(); err == nil {
		t.Error("ready while ClickHouse writes are retried")
	}
	if err := first.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if lag := c.Lag(t, DefaultConfig().Group, c.Config.Topics.IdentityLinks); lag != 1 {
		t.Fatalf("lag %d after the stop, want the request uncommitted", lag)
	}
	if keys, _ := committedMap(t, c); len(keys) != 0 {
		t.Fatalf("the stopped batch is on the map topic: %v", keys)
	}
	ch.setDown(false)
	start(t, c, ch)
	caughtUp(t, c)
	keys, latest := committedMap(t, c)
	if got := fmt.Sprint(keys); got != e1Keys {
		t.Errorf("committed map %s, want %s", got, e1Keys)
	}
	onePerson(t, latest, anon1, cust1)
}
