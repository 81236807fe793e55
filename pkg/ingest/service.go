package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// ErrNotReady reports that the service cannot currently do its work: a
// write is being retried or has stalled, or ClickHouse does not answer its
// ping. Consumption is paused meanwhile.
var ErrNotReady = errors.New("not ready")

// Checks behind Ready, besides the write targets of retry.
const (
	checkClickHouse     = "clickhouse"
	checkClickHousePing = "clickhouse_ping"
	checkKafkaPing      = "kafka_ping"
)

// Service is the ingest service. Create it with New, then call Run once, then
// Close. Ready is safe for concurrent use.
type Service struct {
	cfg    Config
	topics kafka.Topics
	cl     *kgo.Client
	conn   driver.Conn
	proc   *enrich.Processor
	m      *Metrics
	log    *zap.Logger

	mu      sync.Mutex // guards buf and links; held while processing a poll
	buf     *buffer
	links   *recentLinks
	batches chan *buffer // full buffers, to the flusher
	// spare holds the touchpoint rows of written buffers, emptied, for the
	// next buffers to fill: a batch's rows are one large array, which is
	// then not allocated and grown again for every batch.
	spare chan []clickhouse.TouchpointRow
	// columns holds a set of touchpoint columns for each insert that may
	// run at once, kept from one insert to the next.
	columns chan *clickhouse.TouchpointColumns
	// keySeed hashes event ids for flights' keys.
	keySeed  maphash.Seed
	owed     owedOffsets
	closed   bool           // batches is closed: Run has returned
	inflight sync.WaitGroup // buffers handed off and not yet flushed
	health   *health.Status
	writes   health.Writes // retries the ClickHouse and Kafka writes
	// clickhouseDown holds the ClickHouse checks that fail; only the
	// health status's change callback uses it, under the status's lock.
	clickhouseDown map[string]bool
}

// New creates the service and its Kafka consumer (group cfg.Group, topics
// touchpoints, spend and exchange rates, starting at the earliest offset for a new group).
// The service writes through conn, which the caller owns.
func New(cfg Config, kcfg kafka.Config, conn driver.Conn, proc *enrich.Processor, m *Metrics, log *zap.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, topics: kcfg.Topics, conn: conn, proc: proc, m: m, log: log,
		buf: &buffer{}, links: newRecentLinks(), batches: make(chan *buffer), spare: make(chan []clickhouse.TouchpointRow, cfg.ConcurrentInserts),
		columns: make(chan *clickhouse.TouchpointColumns, cfg.ConcurrentInserts), keySeed: maphash.MakeSeed(), clickhouseDown: map[string]bool{}}
	for range cfg.ConcurrentInserts {
		s.columns <- &clickhouse.TouchpointColumns{}
	}
	s.health = health.New(s.healthChanged)
	// Consumption is paused while a write is retried, which bounds memory.
	s.writes = health.Writes{Status: s.health, Settings: cfg.Settings, Stall: cfg.StallTimeout, Failures: m.writeErrors, Log: log}
	m.clickhouseUp.Set(1)
	cl, err := kafka.NewClient(kcfg, log,
		kgo.ProducerBatchMaxBytes(maxRecordBytes),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(kcfg.Topics.Touchpoints, kcfg.Topics.Spend, kcfg.Topics.Rates()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxBytes/4),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
	)
	if err != nil {
		return nil, err
	}
	s.cl = cl
	return s, nil
}

// Ready returns nil while the service can do its work, otherwise an error
// wrapping ErrNotReady that names each failing check: a write target being
// retried (clickhouse, dead_letter, identity_links, schema_registry) or
// stalled past stall_timeout, a ClickHouse or Kafka ping that fails or
// times out, or offsets of written records uncommitted past stall_timeout.
func (s *Service) Ready() error {
	if err := s.health.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return nil
}

// healthChanged logs a check that starts failing or recovers, and keeps
// touchline_ingest_clickhouse_up in step with the ClickHouse checks.
func (s *Service) healthChanged(check string, err error) {
	if err != nil {
		s.log.Warn("not ready", zap.String("check", check), zap.Error(err))
	} else {
		s.log.Info("ready again", zap.String("check", check))
	}
	if check == checkClickHouse || check == checkClickHousePing {
		s.clickhouseDown[check] = err != nil
		up := 1.0
		if s.clickhouseDown[checkClickHouse] || s.clickhouseDown[checkClickHousePing] {
			up = 0
		}
		s.m.clickhouseUp.Set(up)
	}
}

// Close leaves the consumer group and closes the Kafka client. Call it after
// Run has returned.
func (s *Service) Close() { s.cl.Close() }

// Run consumes until ctx is cancelled, then flushes and commits what it holds
// within the shutdown timeout. It returns nil after a clean shutdown.
//
// A poll loop decodes records into a buffer while the flusher writes the
// buffers before it, so decoding overlaps with ClickHouse inserts. At most
// concurrent_inserts buffers are being written while the next one fills;
// when writes fail the hand-off blocks, and with it consumption.
func (s *Service) Run(ctx context.Context) error {
	s.log.Info("ingest started", zap.String("group", s.cfg.Group),
		zap.Strings("topics", []string{s.topics.Touchpoints, s.topics.Spend, s.topics.Rates()}))
	flushCtx, cancelFlush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFlush()
	flushed := make(chan error, 1)
	go func() { flushed <- s.flusher(flushCtx) }()
	var probes sync.WaitGroup
	for name, ping := range map[string]func(context.Context) error{checkClickHousePing: s.conn.Ping, checkKafkaPing: s.cl.Ping} {
		probes.Add(1)
		go func() {
			defer probes.Done()
			s.health.Probe(ctx, name, s.cfg.ProbeInterval, s.cfg.ProbeTimeout, ping)
		}()
	}
	defer probes.Wait()
	for ctx.Err() == nil {
		s.pollOnce(ctx)
	}
	stop := time.AfterFunc(s.cfg.ShutdownTimeout, cancelFlush)
	defer stop.Stop()
	s.mu.Lock()
	s.handOffLocked(flushCtx)
	close(s.batches)
	s.closed = true
	s.mu.Unlock()
	if err := <-flushed; err != nil {
		return fmt.Errorf("final flush: %w (uncommitted records are consumed again at the next start)", err)
	}
	s.log.Info("ingest stopped")
	return nil
}

// flusher writes handed-off buffers until the channel closes. The
// touchpoints of up to concurrent_inserts buffers are inserted at once,
// each buffer's in a goroutine of its own; the rest of a buffer's write
// (spend, rates, dead letters, link requests and the offset commit) is
// finish's, on one goroutine, in the order the buffers were handed off.
// It returns the first error, which only happens when ctx ends mid-write.
func (s *Service) flusher(ctx context.Context) error {
	slots := make(chan struct{}, s.cfg.ConcurrentInserts) // one per buffer handed off and not finished
	queue := make(chan *flight, s.cfg.ConcurrentInserts)
	finished := make(chan error, 1)
	go func() { finished <- s.finisher(ctx, queue, slots) }()
	var earlier []*flight // those whose inserts may still run
	for {
		slots <- struct{}{}
		b, ok := <-s.batches
		if !ok {
			close(queue)
			return <-finished
		}
		f := &flight{buffer: b, handedOff: time.Now(), inserted: make(chan struct{})}
		if s.cfg.ConcurrentInserts > 1 {
			earlier = f.follow(earlier, s.keySeed)
		}
		queue <- f
		go s.insert(ctx, f)
	}
}

// flight is a handed-off buffer on its way to ClickHouse.
type flight struct {
	*buffer
	handedOff time.Time
	// keys are the hashes of the event ids of the buffer's touchpoints,
	// kept while later buffers' inserts may run at the same time.
	keys map[uint64]struct{}
	// after are the earlier flights, inserted at the same time, that hold
	// an event id this one holds too: this insert starts once theirs have
	// ended, so that of two copies of an event ingested within the same
	// second (ingested_at, the version, ties) the later one is stored last
	// and wins, as when inserts run one at a time.
	after    []*flight
	inserted chan struct{} // closed when the insert has ended
	err      error         // the insert's, set before inserted is closed
}

// follow sets f's keys and the flights of earlier that f's insert must
// wait for, and returns earlier without the flights whose inserts have
// ended and with f.
func (f *flight) follow(earlier []*flight, seed maphash.Seed) []*flight {
	f.keys = make(map[uint64]struct{}, len(f.touchpoints))
	for i := range f.touchpoints {
		f.keys[maphash.String(seed, f.touchpoints[i].EventID)] = struct{}{}
	}
	earlier = slices.DeleteFunc(earlier, func(e *flight) bool {
		select {
		case <-e.inserted:
			e.keys = nil
			return true
		default:
			return false
		}
	})
	for _, e := range earlier {
		if e.sharesKeyWith(f) {
			f.after = append(f.after, e)
		}
	}
	return append(earlier, f)
}

// sharesKeyWith reports whether f and g hold a touchpoint with the same
// event id hash.
func (f *flight) sharesKeyWith(g *flight) bool {
	small, large := f.keys, g.keys
	if len(small) > len(large) {
		small, large = large, small
	}
	for k := range small {
		if _, ok := large[k]; ok {
			return true
		}
	}
	return false
}

// insert writes f's touchpoints, once the inserts f must follow have
// ended, retrying until they are written or ctx ends.
func (s *Service) insert(ctx context.Context, f *flight) {
	defer close(f.inserted)
	for _, e := range f.after {
		<-e.inserted
	}
	f.after = nil
	if len(f.touchpoints) == 0 {
		return
	}
	columns := <-s.columns
	defer func() { s.columns <- columns }()
	f.err = s.writes.Retry(ctx, checkClickHouse, func(ctx context.Context) error {
		return columns.Insert(ctx, s.conn, f.touchpoints)
	})
}

// finisher finishes the flights of queue in order, once each one's insert
// has ended, and frees a slot for each; between them it commits offsets
// owed by a failed commit. After the first error (ctx ended) it commits
// nothing more. It returns that error.
func (s *Service) finisher(ctx context.Context, queue <-chan *flight, slots <-chan struct{}) error {
	var first error
	retry := time.NewTicker(s.cfg.FlushInterval)
	defer retry.Stop()
	for {
		select {
		case f, ok := <-queue:
			if !ok {
				return first
			}
			<-f.inserted
			rows := f.touchpoints
			if first == nil {
				first = f.err
			}
			if first == nil {
				first = s.finish(ctx, f)
			}
			s.recycle(rows)
			s.inflight.Done()
			<-slots
		case <-retry.C:
			s.commit(ctx, nil) // offsets owed by a failed commit, if any
		}
	}
}

// recycle keeps rows, which ClickHouse has or will never get, for the next
// buffer. They are zeroed first, so that they hold on to nothing.
func (s *Service) recycle(rows []clickhouse.TouchpointRow) {
	clear(rows)
	select {
	case s.spare <- rows[:0]:
	default:
	}
}

// newBuffer returns an empty buffer, with the rows recycle kept when there
// are any.
func (s *Service) newBuffer() *buffer {
	select {
	case rows := <-s.spare:
		return &buffer{touchpoints: rows}
	default:
		return &buffer{}
	}
}

// handOffLocked passes the current buffer to the flusher, waiting while
// concurrent_inserts buffers are being written, and starts a new buffer.
func (s *Service) handOffLocked(ctx context.Context) {
	if s.buf.records == 0 || s.closed {
		return
	}
	s.inflight.Add(1)
	select {
	case s.batches <- s.buf:
		s.buf = s.newBuffer()
		s.m.buffered.Set(0)
	case <-ctx.Done():
		s.inflight.Done()
	}
}

// waitFlushed waits until every handed-off buffer is written, or ctx ends.
func (s *Service) waitFlushed(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) pollOnce(ctx context.Context) {
	s.mu.Lock()
	wait := s.cfg.FlushInterval
	if s.buf.records > 0 {
		wait = max(time.Until(s.buf.oldest.Add(s.cfg.FlushInterval)), time.Millisecond)
	}
	room := max(s.cfg.BatchSize-s.buf.records, 1)
	s.mu.Unlock()

	pollCtx, cancel := context.WithTimeout(ctx, wait)
	fetches := s.cl.PollRecords(pollCtx, room)
	cancel()
	defer s.cl.AllowRebalance()
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			s.log.Warn("fetch failed", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
		}
	})

	var records []*kgo.Record
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			last := p.Records[n-1].Offset
			s.m.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(max(p.HighWatermark-last-1, 0)))
			s.m.records.WithLabelValues(p.Topic).Add(float64(n))
			records = append(records, p.Records...)
		}
	})
	outcomes := s.processAll(ctx, records)

	s.mu.Lock()
	defer s.mu.Unlock()
	consumed := time.Now()
	for i, o := range outcomes {
		if o.err != nil {
			break // ctx cancelled: this record and the rest stay uncommitted
		}
		s.add(records[i], o, consumed)
	}
	s.m.buffered.Set(float64(s.buf.records))
	if s.buf.records >= s.cfg.BatchSize || (s.buf.records > 0 && time.Since(s.buf.oldest) >= s.cfg.FlushInterval) {
		s.handOffLocked(ctx)
	}
}

// outcome is what one record becomes: a row for one of the tables, or a dead
// letter; err is set only when ctx ended while the schema registry was
// unreachable.
type outcome struct {
	// touchpoint is the row, when isTouchpoint is set: held here, in the
	// poll's slice of outcomes, rather than allocated for each event.
	touchpoint   enrich.Touchpoint
	isTouchpoint bool
	spend        *clickhouse.SpendRow
	rate         *clickhouse.ExchangeRateRow
	rejection    *enrich.Rejection
	err          error
}

// processAll processes records on cfg.Workers goroutines, each taking an
// interleaved share, and returns their outcomes in record order.
func (s *Service) processAll(ctx context.Context, records []*kgo.Record) []outcome {
	outcomes := make([]outcome, len(records))
	workers := min(s.cfg.Workers, len(records))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(records); i += workers {
				outcomes[i] = s.process(ctx, records[i])
			}
		}()
	}
	wg.Wait()
	return outcomes
}

// process turns r into an outcome, retrying while the schema registry is
// unreachable. It is safe for concurrent use.
func (s *Service) process(ctx context.Context, r *kgo.Record) outcome {
	var o outcome
	o.err = s.writes.Retry(ctx, "schema_registry", func(ctx context.Context) error {
		var err error
		switch r.Topic {
		case s.topics.Touchpoints:
			o.isTouchpoint, o.rejection, err = s.proc.Touchpoint(ctx, r, &o.touchpoint)
		case s.topics.Spend:
			o.spend, o.rejection, err = s.proc.Spend(ctx, r)
		case s.topics.Rates():
			o.rate, o.rejection, err = s.proc.ExchangeRate(ctx, r)
		}
		return err
	})
	return o
}

// add puts the outcome of r into the buffer and records r as consumed at
// the time now.
func (s *Service) add(r *kgo.Record, o outcome, now time.Time) {
	switch {
	case o.isTouchpoint:
		s.buf.touchpoints = append(s.buf.touchpoints, o.touchpoint.Row)
		if l := o.touchpoint.Link; l != nil && s.links.fresh(l) {
			key, value := stitch.EncodeLinkRequest(*l)
			s.buf.links = append(s.buf.links, &kgo.Record{Topic: s.topics.IdentityLinks, Key: key, Value: value})
		}
	case o.spend != nil:
		s.buf.spend = append(s.buf.spend, *o.spend)
		s.buf.spendFrom = append(s.buf.spendFrom, r.Partition)
	case o.rate != nil:
		s.buf.rates = append(s.buf.rates, *o.rate)
		s.buf.ratesFrom = append(s.buf.ratesFrom, r.Partition)
	case o.rejection != nil:
		rej := o.rejection
		dead, fit := deadLetter(s.topics.DeadLetter, r, rej, maxRecordBytes)
		if fit != "" {
			s.m.deadLettersShrunk.WithLabelValues(fit).Inc()
			s.log.Warn("dead letter too large for the topic; sending it shortened", zap.String("topic", r.Topic),
				zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.String("kept", fit))
		}
		s.buf.dead = append(s.buf.dead, dead)
		s.buf.deadFrom = append(s.buf.deadFrom, partitionRef{r.Topic, r.Partition})
		s.m.deadLetters.WithLabelValues(r.Topic, string(rej.Reason)).Inc()
		s.log.Debug("dead letter", zap.String("topic", r.Topic), zap.Int32("partition", r.Partition),
			zap.Int64("offset", r.Offset), zap.String("reason", string(rej.Reason)), zap.Error(rej.Err))
	}
	s.buf.consumed(r, now)
}

// finish makes the rest of f durable once its touchpoints are inserted
// (spend and exchange rates, then dead letters and link requests) and then
// commits its offsets. Writes are retried until they succeed or ctx ends;
// parts already written are not written again.
func (s *Service) finish(ctx context.Context, f *flight) error {
	b := f.buffer
	if len(b.touchpoints) > 0 {
		s.m.rows.WithLabelValues("touchpoints").Add(float64(len(b.touchpoints)))
		b.touchpoints = nil
	}
	if err := writeRows(ctx, s, "spend", &b.spend, clickhouse.InsertSpend); err != nil {
		return err
	}
	if err := writeRows(ctx, s, "exchange_rates", &b.rates, clickhouse.InsertExchangeRates); err != nil {
		return err
	}
	if len(b.dead) > 0 {
		if err := s.writes.Retry(ctx, "dead_letter", func(ctx context.Context) error {
			return s.produceDeadLetters(ctx, b)
		}); err != nil {
			return err
		}
	}
	if len(b.links) > 0 {
		if err := s.writes.Retry(ctx, "identity_links", func(ctx context.Context) error {
			return s.cl.ProduceSync(ctx, b.links...).FirstErr()
		}); err != nil {
			return err
		}
		s.m.linkRequests.Add(float64(len(b.links)))
		b.links = nil
	}
	s.commit(ctx, b.offsets)
	s.m.batchRows.Observe(float64(b.records))
	s.m.flushSeconds.Observe(time.Since(f.handedOff).Seconds())
	return nil
}

// writeRows inserts *rows into table with insert, retried as every
// ClickHouse write, counts them, and empties *rows so that a retried flush
// does not write them again.
func writeRows[T any](ctx context.Context, s *Service, table string, rows *[]T, insert func(context.Context, driver.Conn, []T) error) error {
	if len(*rows) == 0 {
		return nil
	}
	if err := s.writes.Retry(ctx, checkClickHouse, func(ctx context.Context) error {
		return insert(ctx, s.conn, *rows)
	}); err != nil {
		return err
	}
	s.m.rows.WithLabelValues(table).Add(float64(len(*rows)))
	*rows = nil
	return nil
}

// produceDeadLetters sends b's dead letters, keeping in b those that fail.
// One the broker refuses as too large (a dead-letter topic with a smaller
// max.message.bytes than the client's limit) is sent again as its
// coordinates only, so that it never blocks its partition.
func (s *Service) produceDeadLetters(ctx context.Context, b *buffer) error {
	for {
		var failed []*kgo.Record
		var first error
		shrunk := false
		for _, res := range s.cl.ProduceSync(ctx, b.dead...) {
			switch {
			case res.Err == nil:
			case errors.Is(res.Err, kerr.MessageTooLarge) && !coordinatesOnly(res.Record):
				s.m.deadLettersShrunk.WithLabelValues(keptCoordinates).Inc()
				s.log.Warn("the broker refused a dead letter as too large; sending its coordinates only", zap.Error(res.Err))
				failed = append(failed, toCoordinates(res.Record))
				shrunk = true
			default:
				failed = append(failed, res.Record)
				first = cmp.Or(first, res.Err)
			}
		}
		b.dead = failed
		if first != nil || !shrunk {
			return first
		}
	}
}

func (s *Service) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RebalanceFlushTimeout)
	defer cancel()
	s.handOffLocked(flushCtx)
	if err := s.waitFlushed(flushCtx); err != nil || s.buf.records > 0 {
		s.log.Warn("flush on revoke did not finish; leaving the revoked partitions to their next owner", zap.Error(err))
		s.buf.drop(s.topics, revoked)
	}
	s.forgetOwed(revoked)
}

func (s *Service) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.drop(s.topics, lost)
	s.forgetOwed(lost)
	s.log.Warn("partitions lost; their buffered records are left to the next owner", zap.Any("partitions", lost))
}
