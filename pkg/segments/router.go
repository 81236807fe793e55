package segments

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// Router repartitions touchpoints by resolved person onto the inputs
// topic, and forwards identity merges. With each batch it tells every
// inputs partition how far it has read each touchpoints partition (its
// sources) in event time: progress, from which the stage derives its
// watermarks. Each batch's inputs, progress and touchpoint offsets commit
// in one Kafka transaction.
type Router struct {
	cfg      Config
	kcfg     kafka.Config
	conn     driver.Conn
	proc     *enrich.Processor // with persons resolved from a local identity map
	lateness time.Duration     // the definitions' allowed lateness
	m        *Metrics
	log      *zap.Logger
	sess     *kgo.GroupTransactSession
	adm      *kadm.Client
	// health fails while a ClickHouse read is retried or routing
	// transactions abort.
	health *health.Status

	// mu guards assigned and recover, which the group's callbacks change.
	mu sync.Mutex
	// assigned are the touchpoints partitions this instance routes.
	assigned map[int32]bool
	// recover is set when partitions were assigned: their progress is read
	// back from the inputs topic before the next batch.
	recover bool

	// read is how far each assigned source partition has been read, as of
	// the last committed batch: the latest event time, or the clock while
	// the partition is idle. An event at or before its partition's read
	// time less the lateness is late.
	read map[int32]time.Time
	// sources is the number of touchpoints partitions (0: not known yet).
	sources int32
	// caughtUp is, per source partition, since when it has been read to
	// its end without a new record; nextCheck is when to ask Kafka again.
	caughtUp  map[int32]time.Time
	nextCheck time.Time

	// mergeVersion is the version of the last forwarded identity_merges row.
	// A starting router forwards every merge again: a merge of a person
	// without state changes nothing, so it keeps no cursor.
	mergeVersion uint64
	nextMerges   time.Time // when to look for merges again
	// merged maps each merged person to the person it merged into, from
	// every merge read (all of them again after a start), so that the
	// events of a merged person go to its survivor's partition directly
	// rather than being forwarded there by the stage.
	merged map[string]string
}

// NewRouter returns the router; proc converts touchpoints and resolves
// their persons; lateness is the definitions' allowed lateness; instance
// names this instance (InstanceName).
func NewRouter(cfg Config, kcfg kafka.Config, conn driver.Conn, proc *enrich.Processor, lateness time.Duration, instance string,
	m *Metrics, log *zap.Logger) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, kcfg: kcfg, conn: conn, proc: proc, lateness: lateness, m: m, log: log, health: health.New(nil),
		assigned: map[int32]bool{}, read: map[int32]time.Time{}, caughtUp: map[int32]time.Time{}, merged: map[string]string{}}
	sess, err := kafka.NewGroupTransactSession(kcfg, log,
		kafka.Session{Group: cfg.RouterGroup, Topic: kcfg.Topics.Touchpoints, TransactionalID: cfg.RouterGroup + "-" + instance, Timeout: cfg.SessionTimeout},
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, p := range assigned[kcfg.Topics.Touchpoints] {
				r.assigned[p] = true
				r.recover = true
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) { r.unassign(revoked) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) { r.unassign(lost) }),
	)
	if err != nil {
		return nil, err
	}
	r.sess = sess
	r.adm = kadm.NewClient(sess.Client())
	return r, nil
}

func (r *Router) unassign(partitions map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range partitions[r.kcfg.Topics.Touchpoints] {
		delete(r.assigned, p)
	}
}

// Close leaves the group; call it after Run.
func (r *Router) Close() { r.sess.Close() }

// Ready reports whether the router routes: nil unless a ClickHouse read
// is being retried or its last routing transaction aborted.
func (r *Router) Ready() error {
	if err := r.health.Err(); err != nil {
		return fmt.Errorf("segments router: %w", err)
	}
	return nil
}

// Run routes until ctx ends. It polls at least every half idle_advance, so
// that the progress of idle source partitions follows the clock.
func (r *Router) Run(ctx context.Context) error {
	return kafka.PollSession(ctx, r.sess, r.cfg.MaxPollRecords, min(r.cfg.MergePoll, r.cfg.IdleAdvance/2), r.log, r.step)
}

func (r *Router) step(ctx context.Context, fetches kgo.Fetches) error {
	start := time.Now()
	if err := r.recoverProgress(ctx); err != nil {
		// Routing goes on: the progress starts again from what it reads,
		// so fewer events are judged late here, and the stage still drops
		// those its watermark has passed.
		r.log.Warn("recovering the routing progress; going on without it", zap.Error(err))
	}
	r.checkCaughtUp(ctx, start)
	// read is this batch's progress, kept only if its transaction commits.
	read := r.assignedRead()
	// The merges first, so that this batch's events of merged persons go to
	// their survivors.
	out, version, err := r.merges(ctx)
	if err != nil {
		r.log.Warn("reading identity merges; trying again later", zap.Error(err))
	}
	merges := len(out)
	consumed := 0
	fetches.EachRecord(func(rec *kgo.Record) {
		if ctx.Err() != nil {
			return // stopping: the batch does not commit
		}
		consumed++
		delete(r.caughtUp, rec.Partition) // not idle
		tp, rej, err := r.touchpoint(ctx, rec)
		if err != nil {
			return // ctx ended while the schema registry was unreachable
		}
		if rej != nil {
			// The ingest service dead-letters what it rejects; here it
			// only does not count.
			r.m.routed.WithLabelValues("skipped").Inc()
			return
		}
		if tp == nil { // an erased person's: counted as suppressed (Metrics.Suppressed)
			return
		}
		row := tp.Row
		props := make(map[string]string, len(row.PropertyKeys))
		for i, k := range row.PropertyKeys {
			props[k] = row.PropertyValues[i]
		}
		e := &engine.Event{ID: row.EventID, Person: r.survivor(row.PersonID), Type: row.EventType, Channel: row.Channel, Campaign: row.Campaign,
			At: row.EventTime.Add(time.Duration(row.EventMillis) * time.Millisecond).UTC(), Revenue: float64(row.Revenue) / 1e6, Props: props}
		if !admit(read, rec.Partition, e.At, r.lateness) {
			r.m.inputs.WithLabelValues("late").Inc()
			return
		}
		if rec, err := r.input(e.Person, engine.Input{Event: e}); err == nil {
			out = append(out, rec)
			r.m.routed.WithLabelValues("event").Inc()
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	r.followClock(read, start)
	moved := !maps.Equal(read, r.read)
	if consumed == 0 && merges == 0 && !moved {
		return nil
	}
	out = append(out, r.progress(read)...)
	aborted, err := kafka.TransactBatch(ctx, r.sess, out, nil)
	if err != nil {
		return err
	}
	if aborted != nil {
		r.m.writeErrors.WithLabelValues("kafka").Inc()
		r.health.Fail("transaction", fmt.Errorf("routing the touchpoints again: %w", aborted))
		r.log.Warn("routing transaction aborted; routing the touchpoints again", zap.Error(aborted))
		return nil
	}
	r.health.Pass("transaction")
	r.mergeVersion = max(r.mergeVersion, version)
	r.read = read
	r.m.routerSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// touchpoint converts rec as ingest does. While the schema registry cannot
// be asked it retries with backoff, the router reporting not ready, until
// it can or ctx ends: an event is never routed past, and so committed
// without reaching the segments, because the registry was down.
func (r *Router) touchpoint(ctx context.Context, rec *kgo.Record) (tp *enrich.Touchpoint, rej *enrich.Rejection, err error) {
	err = r.health.Retry(ctx, "schema_registry", r.cfg.RetryBackoff, r.cfg.RetryBackoffMax, 0, func(ctx context.Context) error {
		var (
			ok  bool
			err error
		)
		tp = new(enrich.Touchpoint)
		if ok, rej, err = r.proc.Touchpoint(ctx, rec, tp); !ok {
			tp = nil
		}
		return err
	}, func(attempt int, wait time.Duration, err error) {
		r.m.writeErrors.WithLabelValues("schema_registry").Inc()
		r.log.Warn("asking the schema registry failed, retrying", zap.Int("attempt", attempt), zap.Duration("backoff", wait), zap.Error(err))
	})
	return tp, rej, err
}

// admit reports whether an event at `at` read from source partition p is
// on time, and if so moves p's progress in read to it. An event is late as
// its producer wrote it when it is at or before what its partition had
// already given, less the allowed lateness: the pipeline's own lag never
// makes an event late.
func admit(read map[int32]time.Time, p int32, at time.Time, lateness time.Duration) bool {
	last, ok := read[p]
	if ok && !at.After(last.Add(-lateness)) {
		return false
	}
	if at.After(last) {
		read[p] = at
	}
	return true
}

// assignedRead returns a copy of the progress of the assigned source
// partitions.
func (r *Router) assignedRead() map[int32]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	read := make(map[int32]time.Time, len(r.assigned))
	for p := range r.assigned {
		if at, ok := r.read[p]; ok {
			read[p] = at
		}
	}
	return read
}

// followClock moves the progress of each assigned source partition that
// has been read to its end, with nothing new, for idle_advance to the
// clock: nothing earlier can come from it but late events.
func (r *Router) followClock(read map[int32]time.Time, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	clock := now.UTC().Truncate(time.Millisecond)
	for p := range r.assigned {
		if since, ok := r.caughtUp[p]; ok && now.Sub(since) >= r.cfg.IdleAdvance && clock.After(read[p]) {
			read[p] = clock
		}
	}
}

// progress returns a progress record for every inputs partition, or none
// while the number of source partitions is not known or nothing has been
// read.
func (r *Router) progress(read map[int32]time.Time) []*kgo.Record {
	if r.sources == 0 || len(read) == 0 {
		return nil
	}
	value, err := EncodeInput(engine.Input{Progress: &engine.Progress{Sources: r.sources, Read: read}})
	if err != nil {
		r.log.Error("encoding progress", zap.Error(err))
		return nil
	}
	out := make([]*kgo.Record, r.cfg.Partitions)
	for p := range out {
		out[p] = &kgo.Record{Topic: r.kcfg.Topics.SegmentInputs, Partition: int32(p), Value: value}
	}
	return out
}

// checkCaughtUp asks Kafka, at most every half idle_advance, how far the
// router's group lags on each touchpoints partition, and notes since when
// each has been read to its end: its lag is at most one record, which a
// transaction marker of a transactional producer takes. It also learns the
// number of touchpoints partitions.
func (r *Router) checkCaughtUp(ctx context.Context, now time.Time) {
	if now.Before(r.nextCheck) {
		return
	}
	r.nextCheck = now.Add(r.cfg.IdleAdvance / 2)
	topic := r.kcfg.Topics.Touchpoints
	ends, err := listed(r.adm.ListEndOffsets(ctx, topic))
	var committed kadm.OffsetResponses
	if err == nil {
		committed, err = r.adm.FetchOffsets(ctx, r.cfg.RouterGroup)
		if errors.Is(err, kerr.GroupIDNotFound) {
			err = nil
		}
	}
	if err != nil {
		r.log.Warn("asking how far the touchpoints have been routed", zap.Error(err))
		return
	}
	r.sources = int32(len(ends[topic]))
	ends.Each(func(o kadm.ListedOffset) {
		at := int64(0)
		if c, ok := committed.Lookup(topic, o.Partition); ok {
			at = c.At
		}
		lag := max(0, o.Offset-at)
		r.m.routerLag.WithLabelValues(fmt.Sprint(o.Partition)).Set(float64(lag))
		if _, ok := r.caughtUp[o.Partition]; lag > 1 {
			delete(r.caughtUp, o.Partition)
		} else if !ok {
			r.caughtUp[o.Partition] = now
		}
	})
}

// mergeInputs notes a merge read from identity_merges and returns its
// inputs: the merge, stamped with the time it takes effect, for the merged
// person's partition, after a hold for the partition of the person it
// merges into when that partition will receive its transfer (it then holds
// its watermark before the merge until the transfer arrives). There is no
// hold for a merge into a person merged in turn (the transfer goes on from
// there) or of a person merged already.
func (r *Router) mergeInputs(m engine.Merge) []engine.Input {
	from, into := r.survivor(m.From), r.survivor(m.Into)
	var hold bool
	m.At, hold = r.stamp(m.At.UTC(), m.From)
	if from != into {
		r.merged[from] = into // as the stage follows a merge of a merged person
	}
	if hold && from == m.From && into == m.Into && PartitionOf(m.From, r.cfg.Partitions) != PartitionOf(m.Into, r.cfg.Partitions) {
		return []engine.Input{{Hold: &m}, {Merge: &m}}
	}
	return []engine.Input{{Merge: &m}}
}

// stamp returns the time a merge takes effect: its own time or, when the
// router's watermark (the earliest progress of its source partitions, less
// the lateness) has passed it, just after that watermark, so that no
// inputs partition has passed it when it arrives; plus a sub-millisecond
// offset of the merged person, so that two merges hardly ever take effect
// at the same instant (when they do, their order there is arbitrary). It
// reports false, and the merge's own
// time, while the router has not read every source partition it has.
func (r *Router) stamp(at time.Time, from string) (time.Time, bool) {
	w, ok := r.watermark()
	if !ok {
		return at, false
	}
	at = at.Truncate(time.Millisecond)
	if !at.After(w) {
		at = w.Truncate(time.Millisecond).Add(time.Millisecond)
	}
	return at.Add(MergeOffset(from)), true
}

// MergeOffset is the sub-millisecond offset the router adds to the time of
// a merge of person from.
func MergeOffset(from string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(from))
	return time.Duration(1 + h.Sum32()%999_999)
}

// watermark returns the router's watermark: the earliest progress of the
// source partitions it has, less the lateness; false while it has none or
// has not read every one (no inputs partition is past it).
func (r *Router) watermark() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var w time.Time
	for p := range r.assigned {
		at, ok := r.read[p]
		if !ok {
			return time.Time{}, false
		}
		if w.IsZero() || at.Before(w) {
			w = at
		}
	}
	return w.Add(-r.lateness), !w.IsZero()
}

// survivor follows the merges read from person to the person it belongs
// to now (at most as many steps as there are merges, should they loop).
func (r *Router) survivor(person string) string {
	for i := 0; i < len(r.merged); i++ {
		into, ok := r.merged[person]
		if !ok {
			break
		}
		person = into
	}
	return person
}

// input returns the inputs topic record of in, for person.
func (r *Router) input(person string, in engine.Input) (*kgo.Record, error) {
	value, err := EncodeInput(in)
	if err != nil {
		r.log.Error("encoding a segment input", zap.String("person", person), zap.Error(err))
		return nil, err
	}
	return &kgo.Record{Topic: r.kcfg.Topics.SegmentInputs, Partition: PartitionOf(person, r.cfg.Partitions), Key: []byte(person), Value: value}, nil
}

// merges returns the inputs of the identity merges recorded since the last
// forwarded one, when it is time to look, and the newest version read.
func (r *Router) merges(ctx context.Context) ([]*kgo.Record, uint64, error) {
	now := time.Now()
	if _, ok := r.watermark(); now.Before(r.nextMerges) || !ok {
		// Without a watermark (no partitions yet, or one not read yet)
		// the router cannot stamp merges: it reads them once it has one.
		return nil, r.mergeVersion, nil
	}
	r.nextMerges = now.Add(r.cfg.MergePoll)
	var out []*kgo.Record
	version := r.mergeVersion
	err := r.health.Retry(ctx, "clickhouse", r.cfg.RetryBackoff, r.cfg.RetryBackoffMax, 0, func(ctx context.Context) error {
		out, version = nil, r.mergeVersion
		rows, err := r.conn.Query(ctx, MergesQuery, r.mergeVersion)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m engine.Merge
			var v uint64
			if err := rows.Scan(&m.From, &m.Into, &m.At, &v); err != nil {
				return err
			}
			for _, in := range r.mergeInputs(m) {
				if rec, err := r.input(in.Person(), in); err == nil {
					out = append(out, rec)
				}
			}
			r.m.routed.WithLabelValues("merge").Inc()
			version = max(version, v)
		}
		return rows.Err()
	}, func(attempt int, wait time.Duration, err error) {
		r.m.writeErrors.WithLabelValues("clickhouse").Inc()
		r.log.Warn("reading identity merges failed, retrying", zap.Int("attempt", attempt), zap.Duration("backoff", wait), zap.Error(err))
	})
	return out, version, err
}

// MergesQuery reads the identity merges after a version.
const MergesQuery = `SELECT merged_person_id, surviving_person_id, merged_at, version
FROM identity_merges FINAL
WHERE version > ?
ORDER BY version`

// progressTail is how many records at the end of each inputs partition a
// router reads back to learn how far its sources had been read: every
// routing transaction ends with a progress record on each partition.
const progressTail = 64

// recoverProgress, after partitions were assigned, reads back from the
// last records of the inputs topic how far they had been read when their
// last batch committed (by this instance before a restart, or by the one
// that had them), so that the events after it are judged late or not as
// if nothing had happened.
func (r *Router) recoverProgress(ctx context.Context) error {
	r.mu.Lock()
	recover := r.recover
	r.recover = false
	r.mu.Unlock()
	if !recover {
		return nil
	}
	topic := r.kcfg.Topics.SegmentInputs
	starts, err := listed(r.adm.ListStartOffsets(ctx, topic))
	var ends kadm.ListedOffsets
	if err == nil {
		// Up to the last stable offset: an open transaction of a stopped
		// instance does not hold the reading up.
		ends, err = listed(r.adm.ListCommittedOffsets(ctx, topic))
	}
	if err != nil {
		return fmt.Errorf("reading the offsets of %s to recover the routing progress: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	last := map[int32]int64{} // the last offset to read, per partition
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > start.Offset {
			from[o.Partition] = kgo.NewOffset().At(max(start.Offset, o.Offset-progressTail))
			last[o.Partition] = o.Offset - 1
		}
	})
	found := map[int32]time.Time{}
	if len(from) > 0 {
		if err := r.readProgress(ctx, from, last, found); err != nil {
			return err
		}
	}
	r.mu.Lock()
	for p, at := range found {
		if r.assigned[p] && at.After(r.read[p]) {
			r.read[p] = at
		}
	}
	r.mu.Unlock()
	r.log.Info("routing progress recovered", zap.Any("read", found))
	return nil
}

// readProgress reads the inputs partitions of from up to their offsets in
// last, and keeps the latest time of each source in the progress records.
func (r *Router) readProgress(ctx context.Context, from map[int32]kgo.Offset, last map[int32]int64, found map[int32]time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 3*r.cfg.SessionTimeout)
	defer cancel()
	cl, err := kafka.NewClient(r.kcfg, r.log, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.kcfg.Topics.SegmentInputs: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(last) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fetches.Err0(); err != nil {
			return fmt.Errorf("reading back the routing progress: %w", err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			if rec.Offset >= last[rec.Partition] {
				delete(last, rec.Partition)
			}
			if rec.Attrs.IsControl() {
				return
			}
			if in, err := DecodeInput(rec.Value); err == nil && in.Progress != nil {
				for s, at := range in.Progress.Read {
					if at.After(found[s]) {
						found[s] = at
					}
				}
			}
		})
	}
	return nil
}

// listed returns offsets listed by kadm and the error of the listing or,
// without one, of the first partition that failed.
func listed(offsets kadm.ListedOffsets, err error) (kadm.ListedOffsets, error) {
	if err == nil {
		err = offsets.Error()
	}
	return offsets, err
}
