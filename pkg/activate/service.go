package activate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/backoff"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// The bounds of the service's work: the records of one poll, the records
// written to ClickHouse at once, and the attempts of a ClickHouse read or
// write before the service gives up and stops (its offsets uncommitted,
// so that nothing is lost).
const (
	pollRecords       = 500
	recordBatch       = 100
	clickhouseRetries = 8
)

// Service is the activation service. Run it once per deployment: deliveries
// are exactly once per (destination, change) because one service consumes
// the changes and records what it delivered.
type Service struct {
	file     *File
	kcfg     kafka.Config
	store    *Store
	codecs   *avro.Codecs
	exporter Exporter
	hooks    map[string]*webhook
	m        *Metrics
	log      *zap.Logger

	health *health.Status // what is failing now (a destination, ClickHouse, Kafka), and why

	journalPath string   // where Run keeps the journal; none when empty
	journal     *journal // the POSTs not yet recorded in ClickHouse, while Run runs
}

// NewService returns the service of file, consuming the changes topic of
// kcfg, with its state in store and the journal of its POSTs at journal
// (JournalPath); with no journal, as for a replay, a crash sends again the
// changes posted since the last record of outcomes in ClickHouse.
func NewService(file *File, kcfg kafka.Config, store *Store, codecs *avro.Codecs, exporter Exporter, journal string, m *Metrics, log *zap.Logger) *Service {
	s := &Service{file: file, kcfg: kcfg, store: store, codecs: codecs, exporter: exporter, hooks: map[string]*webhook{},
		m: m, log: log, health: health.New(nil), journalPath: journal}
	for _, d := range file.Destinations {
		switch d.Kind {
		case Webhook:
			s.hooks[d.Name] = newWebhook(d)
			m.start(d.Name)
		case Kafka:
			m.start(d.Name)
		}
	}
	return s
}

// Ready reports what keeps the service from delivering now: a destination
// whose deliveries are being retried, a failing audience export, ClickHouse
// or Kafka failing; nil when all is well.
func (s *Service) Ready() error { return s.health.Err() }

// Run consumes the changes topic in the service's group until ctx ends:
// each poll's changes are delivered to the webhooks and recorded before its
// offsets are committed. The kafka destinations are fed by a transactional
// consumer of their own group, and the audience files are written
// alongside.
func (s *Service) Run(ctx context.Context) error {
	if s.journalPath != "" {
		if err := s.openJournal(ctx); err != nil {
			return err
		}
		defer func() { _ = s.journal.Close() }()
	}
	cl, err := kafka.NewClient(s.kcfg, s.log, kgo.ConsumerGroup(s.file.Group), kgo.ConsumeTopics(s.kcfg.Topics.SegmentChanges),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	g, gctx := errgroup.WithContext(ctx)
	forwards := false
	for _, d := range s.file.Destinations {
		switch d.Kind {
		case AudienceFile:
			g.Go(func() error { return s.exportEvery(gctx, d) })
		case Kafka:
			forwards = true
		}
	}
	if forwards {
		g.Go(func() error { return s.forward(gctx) })
	}
	g.Go(func() error { return s.consume(gctx, cl) })
	return g.Wait()
}

// JournalPath is where the service of group keeps the journal of its POSTs
// in the state directory stateDir.
func JournalPath(stateDir, group string) string {
	return filepath.Join(stateDir, "activate", url.PathEscape(group)+".journal")
}

// openJournal opens the journal, records the outcomes it holds in
// ClickHouse, logs the POSTs in doubt (sent again when their changes are
// consumed again), and empties it.
func (s *Service) openJournal(ctx context.Context) error {
	j, outcomes, inDoubt, err := openJournal(s.journalPath)
	if err != nil {
		return err
	}
	err = s.clickhouse(ctx, "recording the journal's deliveries", func(ctx context.Context) error { return s.store.Write(ctx, outcomes) })
	if err == nil {
		err = j.reset()
	}
	if err != nil {
		_ = j.Close()
		return err
	}
	for d, keys := range inDoubt {
		s.log.Warn("a POST was in flight when the service stopped: its changes are sent again, with the same idempotency keys",
			zap.String("destination", d), zap.Strings("idempotency_keys", keys))
	}
	if len(outcomes) > 0 {
		s.log.Info("recorded the journal's deliveries", zap.Int("deliveries", len(outcomes)))
	}
	s.journal = j
	return nil
}

// consume polls, delivers and commits until ctx ends. Whole batches are
// sent at once. While a webhook's batch is partial, its changes are held
// and the service polls for more, up to the batch_wait of the webhook after
// the first change held, and up to pollRecords changes held; then the
// partial batches are sent too, and the offsets committed.
func (s *Service) consume(ctx context.Context, cl *kgo.Client) error {
	var held []Change
	var since time.Time // when the first change held was polled
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if len(held) > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, since.Add(s.batchWait(held)))
		}
		fetches := cl.PollRecords(pollCtx, pollRecords-len(held))
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fetchErr = fmt.Errorf("fetching %s partition %d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			s.health.Fail("kafka", fetchErr)
			s.log.Warn("fetch failed", zap.Error(fetchErr))
		} else {
			s.health.Pass("kafka")
		}
		changes := s.decode(ctx, fetches)
		if len(held) == 0 {
			since = time.Now()
		}
		held = append(held, changes...)
		// Whole batches go now; partial ones wait for more changes, unless
		// their time is up or the service holds enough.
		last := len(held) >= pollRecords || time.Since(since) >= s.batchWait(held)
		var err error
		if held, err = s.deliver(ctx, held, false, last); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(held) > 0 {
			continue
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			// The changes are recorded: consumed again, they are not sent again.
			s.log.Warn("committing offsets", zap.Error(err))
		}
	}
}

// batchWait returns how long changes may be held for the batches of the
// webhooks: the shortest batch_wait of the webhooks whose changes in
// changes do not fill whole batches; zero when they all do (every webhook
// with a batch_size of 1 does).
func (s *Service) batchWait(changes []Change) time.Duration {
	var wait time.Duration
	for _, hook := range s.hooks {
		n := 0
		for _, c := range changes {
			if hook.d.Receives(c.Segment) {
				n++
			}
		}
		if n%hook.d.BatchSize != 0 && (wait == 0 || hook.d.BatchWait < wait) {
			wait = hook.d.BatchWait
		}
	}
	return wait
}

// decode returns the changes of fetches' records, in order; a record that
// is not a change is counted, logged and skipped.
func (s *Service) decode(ctx context.Context, fetches kgo.Fetches) []Change {
	var changes []Change
	fetches.EachRecord(func(r *kgo.Record) {
		c, err := DecodeChange(ctx, s.codecs, r.Value)
		if err != nil {
			s.m.invalid.Inc()
			s.log.Warn("skipping a record of the changes topic", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
			return
		}
		changes = append(changes, c)
	})
	return changes
}

// Deliver delivers changes, in order, to every webhook that receives their
// segments, and records each delivery (or dead letter). A change already
// recorded for a destination is skipped unless replay is set; a change of
// an erased person is never sent. It returns an error when ClickHouse keeps
// failing or ctx ends.
func (s *Service) Deliver(ctx context.Context, changes []Change, replay bool) error {
	_, err := s.deliver(ctx, changes, replay, true)
	return err
}

// deliver is Deliver, which without partial sends whole batches only and
// returns the changes it kept back, in order: those of the webhooks'
// partial batches.
func (s *Service) deliver(ctx context.Context, changes []Change, replay, partial bool) ([]Change, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	erased, ids, err := s.persons(ctx, changes)
	if err != nil {
		return nil, err
	}
	kept := map[int]bool{}
	for _, d := range s.file.Destinations {
		hook := s.hooks[d.Name]
		if hook == nil {
			continue
		}
		var mine []Change
		var at []int // the index in changes of each of mine
		keys := map[string]string{}
		for i, c := range changes {
			if !d.Receives(c.Segment) {
				continue
			}
			if erased[c.Person] {
				s.m.deliveries.WithLabelValues(d.Name, resultErased).Inc()
				continue
			}
			mine, at = append(mine, c), append(at, i)
			keys[IdempotencyKey(d.Name, c)] = c.Person
		}
		done := map[string]bool{}
		if !replay && len(mine) > 0 {
			list := make([]string, 0, len(keys))
			for k := range keys {
				list = append(list, k)
			}
			if err := s.clickhouse(ctx, "reading the deliveries", func(ctx context.Context) (err error) {
				done, err = s.store.Done(ctx, d.Name, list)
				return err
			}); err != nil {
				return nil, err
			}
		}
		back, err := s.send(ctx, hook, mine, done, ids, partial)
		if err != nil {
			return nil, err
		}
		for _, j := range back {
			kept[at[j]] = true
		}
	}
	var out []Change
	for i, c := range changes {
		if kept[i] {
			out = append(out, c)
		}
	}
	return out, nil
}

// persons reads which persons of changes are erased, and the identifiers
// of each.
func (s *Service) persons(ctx context.Context, changes []Change) (erased map[string]bool, ids map[string]map[string][]string, err error) {
	persons := make([]string, 0, len(changes))
	for _, c := range changes {
		persons = append(persons, c.Person)
	}
	err = s.clickhouse(ctx, "reading the persons", func(ctx context.Context) (err error) {
		if erased, err = s.store.Erased(ctx, persons); err != nil {
			return err
		}
		ids, err = s.store.Identifiers(ctx, persons)
		return err
	})
	return erased, ids, err
}

// send posts each change of mine that is not done, batch_size changes per
// POST, and records the outcomes,
// recordBatch at a time. With a journal, each POST's intent and outcome
// are written to it first, so that a kill re-sends at most the POST in
// flight. With partial, the last POST takes the changes left; without, it
// is not sent, and send returns the indexes in mine of its changes.
func (s *Service) send(ctx context.Context, hook *webhook, mine []Change, done map[string]bool, ids map[string]map[string][]string, partial bool) ([]int, error) {
	var recs []Record
	flush := func() error {
		err := s.clickhouse(ctx, "recording deliveries", func(ctx context.Context) error { return s.store.Write(ctx, recs) })
		recs = recs[:0]
		if err == nil && s.journal != nil {
			err = s.journal.reset()
		}
		return err
	}
	var batch batch
	var at []int // the index in mine of each change of batch
	post := func() error {
		out, err := s.post(ctx, hook, batch)
		batch, at = batch[:0], at[:0]
		if err != nil {
			return errors.Join(err, flush())
		}
		if recs = append(recs, out...); len(recs) >= recordBatch {
			return flush()
		}
		return nil
	}
	for i, c := range mine {
		p := payload(hook.d, c, s.exporter.Export(hook.d, ids[c.Person]))
		if done[p.IdempotencyKey] {
			s.m.deliveries.WithLabelValues(hook.d.Name, resultDone).Inc()
			continue
		}
		done[p.IdempotencyKey] = true // a change twice in one poll goes once
		batch, at = append(batch, item{c, p}), append(at, i)
		if len(batch) >= hook.d.BatchSize {
			if err := post(); err != nil {
				return nil, err
			}
		}
	}
	if !partial {
		return at, flush()
	}
	if len(batch) > 0 {
		if err := post(); err != nil {
			return nil, err
		}
	}
	return nil, flush()
}

// item is one change of a POST and its payload.
type item struct {
	change  Change
	payload Payload
}

// batch is the changes of one POST.
type batch []item

// keys returns the idempotency keys of b's changes.
func (b batch) keys() []string {
	keys := make([]string, len(b))
	for i, it := range b {
		keys[i] = it.payload.IdempotencyKey
	}
	return keys
}

// post delivers b (attempt), with its intent written to the journal before
// and its outcomes after, when there is a journal.
func (s *Service) post(ctx context.Context, hook *webhook, b batch) ([]Record, error) {
	if s.journal != nil {
		if err := s.journal.intent(hook.d.Name, b.keys()...); err != nil {
			return nil, err
		}
	}
	recs, err := s.attempt(ctx, hook, b)
	for _, rec := range recs {
		if err == nil && s.journal != nil {
			err = s.journal.outcome(rec)
		}
	}
	return recs, err
}

// attempt posts b until it is accepted, refused for good or the attempts
// run out, and returns the record of the outcome of each change. It fails
// only when ctx ends. A destination with a batch_size above 1 gets a JSON
// array under the batch's key (BatchKey); else the change's payload under
// its key.
func (s *Service) attempt(ctx context.Context, hook *webhook, b batch) ([]Record, error) {
	name := hook.d.Name
	var body any = b[0].payload
	key := b[0].payload.IdempotencyKey
	if hook.d.BatchSize > 1 {
		payloads := make([]Payload, len(b))
		for i, it := range b {
			payloads[i] = it.payload
		}
		body, key = payloads, BatchKey(b.keys())
	}
	var attempts uint32
	var last error
	err := s.file.Policy().Retry(ctx, func(ctx context.Context) error {
		attempts++
		last = hook.post(ctx, key, body)
		if last != nil && ctx.Err() == nil {
			s.m.deliveries.WithLabelValues(name, resultFailed).Add(float64(len(b)))
		}
		if last == nil || errors.Is(last, errPermanent) || attempts >= uint32(s.file.MaxAttempts) {
			return nil
		}
		return last
	}, func(attempt int, wait time.Duration, err error) {
		s.m.deliveries.WithLabelValues(name, resultRetried).Add(float64(len(b)))
		s.health.Fail("destination "+name, fmt.Errorf("delivery failing, attempt %d of %d: %w", attempt, s.file.MaxAttempts, err))
		s.log.Warn("delivery failed, retrying", zap.String("destination", name), zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
	})
	if err == nil {
		err = ctx.Err() // cancelled during the last attempt: nothing is known
	}
	if err != nil {
		return nil, err
	}
	s.health.Pass("destination " + name)
	status, result, message := Delivered, resultDelivered, ""
	if last != nil {
		status, result, message = Dead, resultDead, last.Error()
		s.log.Error("delivery given up: dead letters recorded", zap.String("destination", name), zap.String("idempotency_key", key),
			zap.Int("changes", len(b)), zap.Uint32("attempts", attempts), zap.Error(last))
	}
	now := time.Now()
	recs := make([]Record, len(b))
	for i, it := range b {
		c := it.change
		recs[i] = Record{Destination: name, IdempotencyKey: it.payload.IdempotencyKey, Segment: c.Segment, Person: c.Person, Entered: c.Entered,
			ChangedAt: c.At, Status: status, Attempts: attempts, Error: message, RecordedAt: now}
	}
	s.m.deliveries.WithLabelValues(name, result).Add(float64(len(b)))
	if last == nil {
		s.m.lag.WithLabelValues(name).Set(time.Since(b[len(b)-1].change.At).Seconds())
	}
	return recs, nil
}

// clickhouse runs op, retrying it with backoff up to clickhouseRetries
// times while /readyz reports the failure.
func (s *Service) clickhouse(ctx context.Context, what string, op func(context.Context) error) error {
	attempts := 0
	var last error
	err := backoff.DefaultSettings().Policy().Retry(ctx, func(ctx context.Context) error {
		attempts++
		if last = op(ctx); last == nil || attempts >= clickhouseRetries {
			return nil
		}
		return last
	}, func(attempt int, wait time.Duration, err error) {
		s.health.Fail("clickhouse", fmt.Errorf("%s, attempt %d of %d: %w", what, attempt, clickhouseRetries, err))
		s.log.Warn("clickhouse failed, retrying", zap.String("doing", what), zap.Int("attempt", attempt), zap.Error(err))
	})
	if err == nil && last != nil {
		err = fmt.Errorf("%s: giving up after %d attempts: %w", what, attempts, last)
	}
	if err == nil {
		s.health.Pass("clickhouse")
	}
	return err
}
