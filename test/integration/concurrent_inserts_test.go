package integration

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// heldConn is a ClickHouse connection on which the first touchpoints
// insert whose first row is event heldID is not sent until release is
// closed; sent counts the touchpoints inserts that reached their sending.
type heldConn struct {
	driver.Conn
	heldID  string
	release chan struct{}
	holding atomic.Bool
	sent    atomic.Int32
}

func (c *heldConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	b, err := c.Conn.PrepareBatch(ctx, query, opts...)
	if err != nil || !strings.HasPrefix(query, "INSERT INTO touchpoints") {
		return b, err
	}
	return &heldBatch{Batch: b, conn: c}, nil
}

// heldBatch is a touchpoints insert of a heldConn.
type heldBatch struct {
	driver.Batch
	conn *heldConn
}

func (b *heldBatch) Send() error {
	b.conn.sent.Add(1)
	if id, _ := b.Columns()[0].Row(0, false).(string); id == b.conn.heldID && b.conn.holding.CompareAndSwap(false, true) {
		<-b.conn.release
	}
	return b.Batch.Send()
}

// consumed returns the records the ingest service of reg has consumed.
func consumed(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() == "touchline_ingest_records_consumed_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// unknownPersons resolves no identifier to a person.
type unknownPersons struct{}

func (unknownPersons) Persons(_ []identifiers.Identifier, _ []string) error { return nil }

// TestConcurrentInsertsKeepOrder runs ingest with one record per batch and
// three inserts at once, on one partition holding a purchase A, another
// event B and a second copy of A with another revenue, while the first
// insert of A to be sent is held. B's insert runs beside it and B is stored; the
// second copy of A waits for the first, so that the later copy is stored
// last (it wins when both copies have the same ingested_at second); and no
// offset is committed while the first batch is not written, though later
// ones are. Once released, every offset is committed and A reads as its
// second copy.
func TestConcurrentInsertsKeepOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, func(c *config.Config) {
		c.Ingest.BatchSize = 1
		c.Ingest.ConcurrentInserts = 3
	})
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	p, _ := dialEncoding(ctx, t, cfg)
	for _, tp := range []*touchpoint.Touchpoint{
		goodTouchpoint("order-a", at, 10_000_000),
		goodTouchpoint("order-b", at, 5_000_000),
		goodTouchpoint("order-a", at, 20_000_000),
	} {
		if err := p.Touchpoint(ctx, tp); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	proc.WithPersons(unknownPersons{})
	held := &heldConn{Conn: conn, heldID: "order-a", release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	svc, err := ingest.New(cfg.Ingest, cfg.Kafka, held, proc, ingest.NewMetrics(reg), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(runCtx) }()
	released := false
	defer func() {
		if !released {
			close(held.release)
		}
		stop()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	count := rowCounter(ctx, t, conn)
	waitUntil(ctx, t, "B stored beside the held insert", func() bool {
		return count("SELECT count() FROM touchpoints WHERE event_id = 'order-b'") == 1
	})
	waitUntil(ctx, t, "the third record consumed", func() bool { return consumed(t, reg) == 3 })
	time.Sleep(2 * time.Second) // the time the third batch's insert would take to start and end
	if n := count("SELECT count() FROM touchpoints WHERE event_id = 'order-a'"); n != 0 {
		t.Fatalf("%d copies of A stored while the insert of its first copy was held: the second copy did not wait", n)
	}
	if n := held.sent.Load(); n != 2 {
		t.Fatalf("%d touchpoints inserts sent while the first was held, want 2 (A's held, B's)", n)
	}
	offsets, err := admin(t, cfg).FetchOffsets(ctx, cfg.Ingest.Group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offsets.Lookup(cfg.Kafka.Topics.Touchpoints, 0); ok && o.At > 0 {
		t.Fatalf("offset %d committed while the first batch was not written", o.At)
	}

	close(held.release)
	released = true
	waitTopicsCommitted(ctx, t, cfg, cfg.Kafka.Topics.Touchpoints)
	var copies uint64
	var revenue int64
	if err := conn.QueryRow(ctx, "SELECT count(), sum(revenue) FROM touchpoints FINAL WHERE event_id = 'order-a'").Scan(&copies, &revenue); err != nil {
		t.Fatal(err)
	}
	if copies != 1 || revenue != 20_000_000 {
		t.Fatalf("A reads as %d rows of revenue %d through FINAL, want its second copy (1 row, 20000000)", copies, revenue)
	}
	if n := count("SELECT count() FROM touchpoints"); n != 3 {
		t.Fatalf("%d rows stored, want 3 (both copies of A and B)", n)
	}
}
