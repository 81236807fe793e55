package segments

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// Service is the stateful stage of the segments service.
type Service struct {
	cfg    Config
	kcfg   kafka.Config
	conn   driver.Conn
	defs   *engine.Definitions
	m      *Metrics
	log    *zap.Logger
	sess   *kgo.GroupTransactSession
	local  *localState
	codecs *avro.Codecs
	health *health.Status
	// changeSchema is the schema id of SegmentChange records.
	changeSchema int

	mu       sync.Mutex
	assigned map[int32]bool // partitions of the inputs topic this instance owns
	// procs are the processors of the assigned partitions; a partition
	// without one is rebuilt from the changelog before its next input.
	procs map[int32]*engine.Processor
	adm   *kadm.Client // for the changelog's end offsets
	// forgotten are the persons erased from each assigned partition,
	// loaded with its processor; their inputs are dropped.
	forgotten map[int32]map[string]bool
}

// New returns the stateful stage; Run starts it. instance names this
// instance among the group's (InstanceName); stateDir is the directory of
// its local copy of the state (pebble), created when missing.
func New(ctx context.Context, cfg Config, kcfg kafka.Config, conn driver.Conn, defs *engine.Definitions, instance, stateDir string,
	m *Metrics, log *zap.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reg, err := kafka.NewRegistry(kcfg)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, kcfg: kcfg, conn: conn, defs: defs, m: m, log: log, codecs: avro.NewCodecs(reg), health: health.New(nil),
		assigned: map[int32]bool{}, procs: map[int32]*engine.Processor{}, forgotten: map[int32]map[string]bool{}}
	if s.changeSchema, err = avro.RegisterLatest(ctx, reg, avro.KindSegment, kcfg.Topics.SegmentChanges); err != nil {
		return nil, err
	}
	if s.local, err = openLocalState(stateDir, int64(cfg.BlockCacheMB)<<20, log); err != nil {
		return nil, err
	}
	sess, err := kafka.NewGroupTransactSession(kcfg, log,
		kafka.Session{Group: cfg.Group, Topic: kcfg.Topics.SegmentInputs, TransactionalID: cfg.Group + "-" + instance, Timeout: cfg.SessionTimeout},
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, p := range assigned[kcfg.Topics.SegmentInputs] {
				s.assigned[p] = true
				delete(s.procs, p) // rebuilt from the changelog before use
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) { s.drop(revoked) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) { s.drop(lost) }),
	)
	if err != nil {
		_ = s.local.Close()
		return nil, err
	}
	s.sess = sess
	s.adm = kadm.NewClient(sess.Client())
	return s, nil
}

// replayMaxAge is the age beyond which a partition's local state is
// rebuilt from the whole changelog rather than brought up to date from its
// checkpoint: compaction removes tombstones after the changelog's
// delete.retention.ms (24 hours by default), and a copy older than that
// could keep persons the changelog has deleted.
const replayMaxAge = 12 * time.Hour

// InstanceName names an instance by its host and state directory: stable
// across its restarts, distinct from the other instances (each has its own
// state directory). Its transactional ids derive from it, so a restarted
// instance fences the transaction its predecessor left open instead of
// leaving readers waiting for it to time out.
func InstanceName(stateDir string) string {
	host, _ := os.Hostname()
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	h := fnv.New64a()
	h.Write([]byte(host + "\x00" + abs))
	return fmt.Sprintf("%016x", h.Sum64())
}

func (s *Service) drop(partitions map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range partitions[s.kcfg.Topics.SegmentInputs] {
		delete(s.assigned, p)
		delete(s.procs, p)
		delete(s.forgotten, p)
	}
}

// Ready reports whether every assigned partition's state is loaded and no
// write is being retried.
func (s *Service) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.assigned {
		if s.procs[p] == nil {
			return fmt.Errorf("rebuilding the state of partition %d", p)
		}
	}
	return s.health.Err()
}

// Close leaves the group and closes the local state; call it after Run.
func (s *Service) Close() {
	s.sess.Close()
	if err := s.local.Close(); err != nil {
		s.log.Warn("closing the segments state", zap.Error(err))
	}
}

// Run processes inputs until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	s.log.Info("segments service started", zap.String("group", s.cfg.Group), zap.Strings("segments", s.defs.Names()))
	if err := kafka.PollSession(ctx, s.sess, s.cfg.MaxPollRecords, s.cfg.IdleAdvance/2, s.log, s.step); err != nil {
		return err
	}
	s.log.Info("segments service stopped")
	return nil
}

// batch is what one step writes.
type batch struct {
	records []*kgo.Record
	rows    []clickhouse.SegmentChangeRow
	changes int
	// local are the changelog records to apply to the local state, by
	// partition, once committed.
	local map[int32][]localWrite
	// forgotten are the persons erased in this batch, by partition.
	forgotten map[int32][]string
}

// step processes one poll's inputs and commits. Only the router's progress
// moves the watermarks: while it is stopped, nothing becomes final.
func (s *Service) step(ctx context.Context, fetches kgo.Fetches) error {
	start := time.Now()
	procs, err := s.processors(ctx)
	if err != nil {
		return err
	}
	b := &batch{local: map[int32][]localWrite{}, forgotten: map[int32][]string{}}
	inputs := 0
	var failed error
	fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if proc := procs[ftp.Partition]; proc != nil && len(ftp.Records) > 0 && failed == nil {
			var n int
			n, failed = s.process(ctx, b, proc, ftp)
			inputs += n
		}
	})
	if failed != nil {
		return failed
	}
	if inputs == 0 {
		// Nothing moves the watermarks (the router is stopped or lags):
		// their lag keeps growing, and the metric says so.
		for p, proc := range procs {
			s.watermarkLag(p, proc)
		}
		return nil
	}
	for p, proc := range procs {
		if err := s.addState(b, p, proc); err != nil {
			return err
		}
	}
	// ClickHouse gets the changes while the transaction's records are
	// produced; the transaction commits only once ClickHouse has them.
	inserted := make(chan error, 1)
	go func() {
		inserted <- s.writes().Retry(ctx, "clickhouse", func(ctx context.Context) error {
			return clickhouse.InsertSegmentChanges(ctx, s.conn, b.rows)
		})
	}()
	received := false
	aborted, err := kafka.TransactBatch(ctx, s.sess, b.records, func() error {
		select {
		case err := <-inserted:
			received = true
			return err
		case <-time.After(s.cfg.InsertWait()):
			// ClickHouse is retrying: end the transaction before it times
			// out, and process the inputs again once ClickHouse is back.
			return errors.New("the ClickHouse insert is still retrying")
		}
	})
	var insertErr error
	if !received {
		insertErr = <-inserted // the insert must not outlive the batch
	}
	if err != nil {
		return err
	}
	if aborted != nil {
		// The session rewound to the committed offsets: the processors
		// hold state the changelog does not; rebuild them.
		s.mu.Lock()
		s.procs = map[int32]*engine.Processor{}
		s.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.m.writeErrors.WithLabelValues("kafka").Inc()
		s.health.Fail("transaction", fmt.Errorf("processing the inputs again: %w", aborted))
		s.log.Warn("transaction aborted; processing the inputs again", zap.Error(aborted), zap.NamedError("clickhouse", insertErr),
			zap.Int("inputs", inputs))
		return nil
	}
	s.health.Pass("transaction")
	if err := s.applyLocal(b, procs); err != nil {
		return err
	}
	s.m.changes.Add(float64(b.changes))
	s.m.batchSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// applyLocal writes a committed batch's changelog records to the local
// state, with the changelog offsets they reached, and lets the processors
// evict persons beyond cache_persons. An error stops the service: the
// processors hold what the local state lacks, and a restart brings the
// local state up to date from the changelog.
func (s *Service) applyLocal(b *batch, procs map[int32]*engine.Processor) error {
	next := map[int32]int64{}
	for _, r := range b.records {
		if r.Topic == s.kcfg.Topics.SegmentChangelog && r.Offset+1 > next[r.Partition] {
			next[r.Partition] = r.Offset + 1
		}
	}
	now := time.Now()
	for p, writes := range b.local {
		if err := s.local.apply(p, writes, next[p], now); err != nil {
			return err
		}
	}
	keep := s.cfg.CachePersons / max(1, len(procs))
	for p, proc := range procs {
		proc.Evict(keep)
		s.m.cached.WithLabelValues(fmt.Sprint(p)).Set(float64(proc.Cached()))
	}
	return nil
}

// process applies the inputs of one fetched partition to its processor,
// adding the changes to b, and returns how many valid inputs it read
// (progress included). An input its processor cannot apply is logged and
// skipped, and an evaluation that decided nothing (stopped at max_cost, or
// failed) is counted; a failure to read the local state, or the end of ctx,
// ends the batch uncommitted.
func (s *Service) process(ctx context.Context, b *batch, proc *engine.Processor, ftp kgo.FetchTopicPartition) (int, error) {
	s.m.lag.WithLabelValues(fmt.Sprint(ftp.Partition)).Set(float64(ftp.HighWatermark - ftp.Records[len(ftp.Records)-1].Offset - 1))
	inputs := 0
	for _, r := range ftp.Records {
		if err := ctx.Err(); err != nil {
			return inputs, err
		}
		if isForget(r) {
			inputs++
			if err := s.forget(b, proc, ftp.Partition, string(r.Key)); err != nil {
				return inputs, err
			}
			continue
		}
		in, err := DecodeInput(r.Value)
		if err != nil {
			s.m.inputs.WithLabelValues("invalid").Inc()
			s.log.Warn("skipping an invalid segment input", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
			continue
		}
		inputs++
		dropped := proc.Dropped()
		var changes []engine.Change
		erased := s.isForgotten(ftp.Partition, in.Person())
		if erased {
			// An erased person's: not applied, but a partition that
			// holds for its transfer is released.
			s.m.inputs.WithLabelValues("suppressed").Inc()
			changes, err = proc.Discard(in)
		} else {
			changes, err = proc.Add(in)
		}
		if err != nil && (errors.Is(err, engine.ErrStore) || ctx.Err() != nil) {
			return inputs, err
		}
		if err != nil {
			s.log.Error("evaluating segments", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
		}
		s.reportAborted(proc, r.Partition, zap.Int64("offset", r.Offset))
		switch {
		case in.Progress != nil || erased: // counted above, or not an input the metric counts
		case proc.Dropped() > dropped:
			s.m.inputs.WithLabelValues("late").Inc()
		default:
			s.m.inputs.WithLabelValues("applied").Inc()
		}
		s.addChanges(ctx, b, ftp.Partition, changes)
	}
	return inputs, nil
}

// reportAborted counts and logs the evaluations of partition p's
// processor that decided nothing (stopped at max_cost, or failed); where
// says what was being processed.
func (s *Service) reportAborted(proc *engine.Processor, p int32, where zap.Field) {
	for _, a := range proc.TakeAborted() {
		s.m.aborted.WithLabelValues(a.Expression, a.Reason).Inc()
		s.log.Warn("segment evaluation aborted; the membership stays as it was", zap.Int32("partition", p), where,
			zap.String("expression", a.Expression), zap.String("reason", a.Reason), zap.String("person", a.Person), zap.Time("at", a.At),
			zap.Uint64("max_cost", s.defs.MaxCost), zap.Error(a.Err))
	}
}

// addChanges adds the changes of partition p to the batch: records on the
// changes topic, rows for ClickHouse, and the latency from each change's
// own time.
func (s *Service) addChanges(ctx context.Context, b *batch, p int32, changes []engine.Change) {
	now := time.Now()
	for _, c := range changes {
		features := featureText(c.Features)
		value, err := s.codecs.Encode(ctx, s.changeSchema, changeAvro(c, features))
		if err != nil {
			s.log.Error("encoding a segment change", zap.String("person", c.Person), zap.String("segment", c.Segment), zap.Error(err))
			continue
		}
		b.records = append(b.records, &kgo.Record{Topic: s.kcfg.Topics.SegmentChanges, Partition: p, Key: []byte(c.Person), Value: value})
		entered := uint8(0)
		if c.Entered {
			entered = 1
		}
		b.rows = append(b.rows, clickhouse.SegmentChangeRow{Segment: c.Segment, PersonID: c.Person, Entered: entered,
			ChangedAt: c.At.Truncate(time.Second), ChangedMillis: uint16(c.At.Nanosecond() / int(time.Millisecond)),
			Features: featureJSON(features), WrittenAt: now.UTC().Truncate(time.Second)})
		b.changes++
		s.m.changesBySegment.WithLabelValues(c.Segment, map[bool]string{true: "entered", false: "left"}[c.Entered]).Inc()
		s.m.latency.Observe(now.Sub(c.At).Seconds())
	}
}

// addState adds partition p's changelog records (changed persons, meta)
// and the inputs it forwards to other partitions to the batch.
func (s *Service) addState(b *batch, p int32, proc *engine.Processor) error {
	for _, in := range proc.TakeForwards() {
		value, err := EncodeInput(in)
		if err != nil {
			return err
		}
		person := in.Person()
		b.records = append(b.records, &kgo.Record{Topic: s.kcfg.Topics.SegmentInputs, Partition: PartitionOf(person, s.cfg.Partitions),
			Key: []byte(person), Value: value})
	}
	changelog := func(w localWrite) {
		b.records = append(b.records, &kgo.Record{Topic: s.kcfg.Topics.SegmentChangelog, Partition: p, Key: []byte(w.key), Value: w.value})
		b.local[p] = append(b.local[p], w)
	}
	for _, person := range b.forgotten[p] {
		changelog(localWrite{key: forgottenKeyPrefix + person, value: []byte{1}})
	}
	writes, err := stateWrites(proc)
	if err != nil {
		return err
	}
	for _, w := range writes {
		changelog(w)
	}
	s.m.persons.WithLabelValues(fmt.Sprint(p)).Set(float64(proc.Persons()))
	s.m.countEvaluations(p, proc.Evaluations())
	s.watermarkLag(p, proc)
	return nil
}

// stateWrites takes what proc changed since it was last asked (persons,
// pending inputs queued and released) and returns it as changelog records,
// its meta state last.
func stateWrites(proc *engine.Processor) ([]localWrite, error) {
	dirty := proc.TakeDirty()
	queued, released := proc.TakePending()
	writes := make([]localWrite, 0, len(dirty)+len(queued)+len(released)+1)
	for id, person := range dirty {
		w := localWrite{key: personKey(id)}
		if person != nil {
			v, err := person.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("encoding the state of person %s: %w", id, err)
			}
			w.value, w.timer = v, person.Timer
		}
		writes = append(writes, w)
	}
	for _, pe := range queued {
		v, err := encodePending(pe)
		if err != nil {
			return nil, fmt.Errorf("encoding a pending input: %w", err)
		}
		writes = append(writes, localWrite{key: pendingKey(pe.Arrival), value: v})
	}
	for _, arrival := range released {
		writes = append(writes, localWrite{key: pendingKey(arrival)})
	}
	meta, err := proc.Meta()
	if err != nil {
		return nil, err
	}
	return append(writes, localWrite{key: metaKey, value: meta}), nil
}

// watermarkLag sets how far partition p's watermark is behind the clock,
// and how many merges hold it.
func (s *Service) watermarkLag(p int32, proc *engine.Processor) {
	s.m.watermarkLag.WithLabelValues(fmt.Sprint(p)).Set(time.Since(proc.Watermark()).Seconds())
	s.m.holds.WithLabelValues(fmt.Sprint(p)).Set(float64(proc.Holds()))
}

// processors returns the processors of the assigned partitions, rebuilding
// those that need it from the changelog.
func (s *Service) processors(ctx context.Context) (map[int32]*engine.Processor, error) {
	s.mu.Lock()
	var missing []int32
	for p := range s.assigned {
		if s.procs[p] == nil {
			missing = append(missing, p)
		}
	}
	s.mu.Unlock()
	for _, p := range missing {
		var proc *engine.Processor
		if err := s.writes().Retry(ctx, "kafka", func(ctx context.Context) error {
			var err error
			proc, err = s.rebuild(ctx, p)
			return err
		}); err != nil {
			return nil, err
		}
		s.m.startEvaluations(p, proc.Evaluations())
		s.mu.Lock()
		if s.assigned[p] {
			s.procs[p] = proc
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int32]*engine.Processor, len(s.procs))
	for p, proc := range s.procs {
		out[p] = proc
	}
	return out, nil
}

// rebuild brings partition p's local state up to date with the committed
// changelog, from its checkpoint (or from the start, when the local state
// has none, is older than replayMaxAge or is ahead of the changelog), and
// returns a processor on it.
func (s *Service) rebuild(ctx context.Context, p int32) (*engine.Processor, error) {
	start := time.Now()
	next, at, ok, err := s.local.checkpoint(p)
	if err != nil {
		return nil, err
	}
	ends, err := s.adm.ListEndOffsets(ctx, s.kcfg.Topics.SegmentChangelog)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("reading the end offsets of %s: %w", s.kcfg.Topics.SegmentChangelog, err)
	}
	end, _ := ends.Lookup(s.kcfg.Topics.SegmentChangelog, p)
	if ok && (time.Since(at) > replayMaxAge || next > end.Offset) {
		ok = false
	}
	if !ok {
		if err := s.local.wipe(p); err != nil {
			return nil, err
		}
		next = 0
	}
	from := next
	n := 0
	var writes []localWrite
	flush := func() error {
		err := s.local.apply(p, writes, next, time.Now())
		writes = writes[:0]
		return err
	}
	if err := kafka.ReadCommittedFrom(ctx, s.kcfg, s.log, s.kcfg.Topics.SegmentChangelog, map[int32]int64{p: next}, func(r *kgo.Record) error {
		n++
		w := localWrite{key: string(r.Key), value: r.Value}
		if strings.HasPrefix(w.key, personKeyPrefix) && r.Value != nil {
			timer, err := engine.PersonTimer(r.Value)
			if err != nil {
				return fmt.Errorf("reading the state of %s: %w", w.key, err)
			}
			w.timer = timer
		}
		writes, next = append(writes, w), r.Offset+1
		if len(writes) == 10_000 {
			return flush()
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	proc, err := NewProcessor(s.defs, p, s.cfg.Partitions)
	if err != nil {
		return nil, err
	}
	proc.WithStore(partitionStore{l: s.local, p: p}).WithContext(ctx)
	if err := s.local.load(p, proc); err != nil {
		return nil, err
	}
	forgotten := map[string]bool{}
	if err := s.local.scan(p, forgottenKeyPrefix, func(person string, _ []byte) error {
		forgotten[person] = true
		return nil
	}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.forgotten[p] = forgotten
	s.mu.Unlock()
	s.log.Info("segments state loaded", zap.Int32("partition", p), zap.Bool("from_checkpoint", ok), zap.Int64("changelog_from", from),
		zap.Int("records_read", n), zap.Int64("persons", proc.Persons()), zap.Time("watermark", proc.Watermark()),
		zap.Duration("took", time.Since(start)))
	return proc, nil
}

// NewProcessor returns a processor for partition p of n: persons of other
// partitions are reached by transfers, and only the router's progress
// moves its watermark.
func NewProcessor(defs *engine.Definitions, p, n int32) (*engine.Processor, error) {
	proc, err := engine.NewProcessor(defs, func(person string) bool { return PartitionOf(person, n) == p })
	if err != nil {
		return nil, err
	}
	return proc.ByProgress(), nil
}

// writes retries the service's writes with its settings, counting and
// logging each failed attempt and failing readiness meanwhile.
func (s *Service) writes() health.Writes {
	return health.Writes{Status: s.health, Settings: s.cfg.Settings, Failures: s.m.writeErrors, Log: s.log}
}
