package segmenter

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segments"
)

// Router repartitions touchpoints by resolved person onto the inputs
// topic, and forwards identity merges. Each batch's inputs and its
// touchpoint offsets commit in one Kafka transaction.
type Router struct {
	cfg  Config
	kcfg kafka.Config
	conn driver.Conn
	proc *enrich.Processor // with persons resolved from a local identity map
	m    *Metrics
	log  *zap.Logger
	sess *kgo.GroupTransactSession
	// health fails while a ClickHouse read is retried or routing
	// transactions abort.
	health *health.Status

	// mergeVersion is the version of the last forwarded identity_merges row.
	// A starting router forwards every merge again: a merge of a person
	// without state changes nothing, so it keeps no cursor.
	mergeVersion uint64
	nextMerges   time.Time // when to look for merges again
}

// NewRouter returns the router; proc converts touchpoints and resolves
// their persons; instance names this instance (InstanceName).
func NewRouter(cfg Config, kcfg kafka.Config, conn driver.Conn, proc *enrich.Processor, instance string, m *Metrics, log *zap.Logger) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, kcfg: kcfg, conn: conn, proc: proc, m: m, log: log, health: health.New(nil)}
	sess, err := kafka.NewGroupTransactSession(kcfg, log,
		kafka.Session{Group: cfg.RouterGroup, Topic: kcfg.Topics.Touchpoints, TransactionalID: cfg.RouterGroup + "-" + instance, Timeout: cfg.SessionTimeout},
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		return nil, err
	}
	r.sess = sess
	return r, nil
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

// Run routes until ctx ends.
func (r *Router) Run(ctx context.Context) error {
	return kafka.PollSession(ctx, r.sess, r.cfg.MaxPollRecords, r.cfg.MergePoll, r.log, r.step)
}

func (r *Router) step(ctx context.Context, fetches kgo.Fetches) error {
	start := time.Now()
	var out []*kgo.Record
	consumed := 0
	fetches.EachRecord(func(rec *kgo.Record) {
		if ctx.Err() != nil {
			return // stopping: the batch does not commit
		}
		consumed++
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
		e := &segments.Event{ID: row.EventID, Person: row.PersonID, Type: row.EventType, Channel: row.Channel, Campaign: row.Campaign,
			At: row.EventTime.Add(time.Duration(row.EventMillis) * time.Millisecond).UTC(), Revenue: float64(row.Revenue) / 1e6, Props: props}
		if rec, err := r.input(e.Person, segments.Input{Event: e}); err == nil {
			out = append(out, rec)
			r.m.routed.WithLabelValues("event").Inc()
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	merges, version, err := r.merges(ctx)
	if err != nil {
		r.log.Warn("reading identity merges; trying again later", zap.Error(err))
	}
	out = append(out, merges...)
	if consumed == 0 && len(merges) == 0 {
		return nil
	}
	if err := r.sess.Begin(); err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	produced := r.sess.ProduceSync(ctx, out...).FirstErr()
	committed, err := r.sess.End(ctx, kgo.TransactionEndTry(produced == nil))
	if err != nil {
		return fmt.Errorf("ending the transaction: %w", err)
	}
	if !committed {
		r.m.writeErrors.WithLabelValues("kafka").Inc()
		r.health.Fail("transaction", fmt.Errorf("aborted; routing the touchpoints again: %w", produced))
		r.log.Warn("routing transaction aborted; routing the touchpoints again", zap.Error(produced))
		return nil
	}
	r.health.Pass("transaction")
	r.mergeVersion = max(r.mergeVersion, version)
	r.m.routerSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// touchpoint converts rec as ingest does. While the schema registry cannot
// be asked it retries with backoff, the router reporting not ready, until
// it can or ctx ends: an event is never routed past, and so committed
// without reaching the segments, because the registry was down.
func (r *Router) touchpoint(ctx context.Context, rec *kgo.Record) (tp *enrich.Touchpoint, rej *enrich.Rejection, err error) {
	err = r.health.Retry(ctx, "schema_registry", r.cfg.RetryBackoff, r.cfg.RetryBackoffMax, 0, func(ctx context.Context) error {
		var err error
		tp, rej, err = r.proc.Touchpoint(ctx, rec)
		return err
	}, func(attempt int, wait time.Duration, err error) {
		r.m.writeErrors.WithLabelValues("schema_registry").Inc()
		r.log.Warn("asking the schema registry failed, retrying", zap.Int("attempt", attempt), zap.Duration("backoff", wait), zap.Error(err))
	})
	return tp, rej, err
}

// input returns the inputs topic record of in, for person.
func (r *Router) input(person string, in segments.Input) (*kgo.Record, error) {
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
	if now.Before(r.nextMerges) {
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
			var m segments.Merge
			var v uint64
			if err := rows.Scan(&m.From, &m.Into, &m.At, &v); err != nil {
				return err
			}
			m.At = m.At.UTC()
			if rec, err := r.input(m.From, segments.Input{Merge: &m}); err == nil {
				out = append(out, rec)
				r.m.routed.WithLabelValues("merge").Inc()
			}
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
