package ingest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// laterTouchpoint is the schema id under which laterVersion serves a
// later Touchpoint version, which the Avro fast path does not know.
const laterTouchpoint = 100

// laterVersion is the shipped schemas plus, under laterTouchpoint, the
// Touchpoint version 2 of pkg/avro's tests (an optional field added): its
// records are decoded as every record was before the fast path, through
// goavro's maps.
type laterVersion struct {
	*avro.StaticRegistry
	v2 string
}

func (r laterVersion) SchemaText(ctx context.Context, id int) (string, error) {
	if id == laterTouchpoint {
		return r.v2, nil
	}
	return r.StaticRegistry.SchemaText(ctx, id)
}

// benchService returns a service without Kafka or ClickHouse clients, and
// generated touchpoints as records of its touchpoints topic, written with
// schema id writer (1, the shipped schema, or laterTouchpoint).
func benchService(b *testing.B, writer int) (*Service, []*kgo.Record) {
	rules, err := channel.Load("../../pipelines/channels.yaml")
	if err != nil {
		b.Fatal(err)
	}
	ids := stitch.DefaultRules()
	norm, err := ids.Normalizer("")
	if err != nil {
		b.Fatal(err)
	}
	static, err := avro.NewStaticRegistry()
	if err != nil {
		b.Fatal(err)
	}
	v2, err := os.ReadFile("../avro/testdata/touchpoint.v2.avsc")
	if err != nil {
		b.Fatal(err)
	}
	codecs := avro.NewCodecs(laterVersion{static, string(v2)})
	cfg := DefaultConfig()
	m := NewMetrics(prometheus.NewRegistry())
	s := &Service{cfg: cfg, topics: kafka.DefaultConfig().Topics, m: m, log: zap.NewNop(),
		proc: enrich.NewProcessor(codecs, rules, norm, ids, touchpoint.DefaultLimits()),
		buf:  &buffer{}, links: newRecentLinks(), batches: make(chan *buffer), spare: make(chan []clickhouse.TouchpointRow, 1),
		health: health.New(nil)}
	s.writes = health.Writes{Status: s.health, Settings: cfg.Settings, Failures: m.writeErrors, Log: s.log}
	gen, err := generate.New(generate.Config{Events: 20_000, Persons: 2_000, Days: 30, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var records []*kgo.Record
	err = gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
		native := t.ToAvro()
		if writer == laterTouchpoint {
			native["consent"] = nil
		}
		v, err := codecs.Encode(context.Background(), writer, native)
		records = append(records, &kgo.Record{Topic: s.topics.Touchpoints, Value: v, Offset: int64(len(records))})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, records
}

// BenchmarkIngestPoll measures ingest's CPU per event without Kafka and
// ClickHouse: polls of 1,000 generated touchpoints decoded, validated and
// normalised on the configured workers and added to the buffer, which is
// handed off at batch_size as Run does; the flusher recycles its rows
// without writing them. ns/op is per event. The touchpoints are written
// with the shipped schema (fast, the Avro fast path) or with a later
// version (goavro, the general path).
func BenchmarkIngestPoll(b *testing.B) {
	b.Run("goavro", func(b *testing.B) { benchmarkPoll(b, laterTouchpoint) })
	b.Run("fast", func(b *testing.B) { benchmarkPoll(b, 1) })
}

func benchmarkPoll(b *testing.B, writer int) {
	s, records := benchService(b, writer)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		for b := range s.batches {
			s.recycle(b.touchpoints) // what the flusher does after the insert
			s.inflight.Done()
		}
		close(done)
	}()
	const poll = 1000
	b.ReportAllocs()
	b.ResetTimer() // not the generation of the records
	for i := 0; i < b.N; i += poll {
		start := i % len(records)
		batch := records[start:min(start+poll, len(records), start+b.N-i)]
		outcomes := s.processAll(ctx, batch)
		consumed := time.Now()
		for j, o := range outcomes {
			s.add(batch[j], o, consumed)
		}
		if s.buf.records >= s.cfg.BatchSize {
			s.handOffLocked(ctx)
		}
	}
	close(s.batches)
	<-done
}
