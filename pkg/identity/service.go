package identity

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// Service is the identity resolver service.
type Service struct {
	cfg    Config
	kcfg   kafka.Config
	conn   driver.Conn
	rules  *stitch.Rules
	m      *Metrics
	log    *zap.Logger
	sess   *kgo.GroupTransactSession
	res    *stitch.Resolver
	stale  atomic.Bool // the partition was (re)assigned: rebuild before applying
	loaded atomic.Bool // the union-find holds the map: ready
	health *health.Status
	writes health.Writes // retries ClickHouse and Kafka writes

	sup *Suppressions // the suppressed identifiers, loaded with res
}

// New returns a resolver service; Run starts it.
func New(cfg Config, kcfg kafka.Config, conn driver.Conn, rules *stitch.Rules, m *Metrics, log *zap.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, kcfg: kcfg, conn: conn, rules: rules, m: m, log: log, health: health.New(nil)}
	s.writes = health.Writes{Status: s.health, Settings: cfg.Settings, Failures: m.writeErrors, Log: log}
	// Every instance shares the transactional id: the one that becomes
	// active fences a predecessor that is still alive but stalled.
	sess, err := kafka.NewGroupTransactSession(kcfg, log,
		kafka.Session{Group: cfg.Group, Topic: kcfg.Topics.IdentityLinks, TransactionalID: cfg.Group + "-resolver", Timeout: cfg.SessionTimeout},
		kgo.DefaultProduceTopic(kcfg.Topics.IdentityMap),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			if len(assigned[kcfg.Topics.IdentityLinks]) > 0 {
				s.stale.Store(true)
			}
		}),
	)
	if err != nil {
		return nil, err
	}
	s.sess = sess
	return s, nil
}

// Ready reports whether this instance holds the identity map (it is the
// active resolver, or a standby that has not been assigned yet) and no
// write is being retried.
func (s *Service) Ready() error {
	if !s.loaded.Load() && s.stale.Load() {
		return fmt.Errorf("rebuilding the identity map")
	}
	return s.health.Err()
}

// Close leaves the group and closes the Kafka client; call it after Run.
func (s *Service) Close() { s.sess.Close() }

// Run applies link requests until ctx ends. Each batch of requests is
// applied to the union-find, its rows written to ClickHouse, and then its
// map records and its offsets committed in one Kafka transaction. When the
// transaction does not commit (a crash, a rebalance, a fenced instance) the
// requests are applied again from the last committed map: the same requests
// on the same state give the same rows, which ClickHouse deduplicates.
func (s *Service) Run(ctx context.Context) error {
	s.log.Info("identity resolver started", zap.String("group", s.cfg.Group),
		zap.String("links", s.kcfg.Topics.IdentityLinks), zap.String("map", s.kcfg.Topics.IdentityMap))
	// Polls end at least every second, so a newly assigned resolver loads
	// the map before the next request arrives.
	if err := kafka.PollSession(ctx, s.sess, s.cfg.MaxPollRecords, time.Second, s.log, s.step); err != nil {
		return err
	}
	s.log.Info("identity resolver stopped")
	return nil
}

// step applies the records of one poll.
func (s *Service) step(ctx context.Context, fetches kgo.Fetches) error {
	if s.stale.Load() {
		if err := s.writes.Retry(ctx, "kafka", s.rebuild); err != nil {
			return err
		}
	}
	records := fetches.Records()
	if len(records) == 0 {
		return nil
	}
	if s.res == nil { // records without an assignment callback: never expected
		if err := s.writes.Retry(ctx, "kafka", s.rebuild); err != nil {
			return err
		}
	}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			s.m.lag.Set(float64(p.HighWatermark - p.Records[n-1].Offset - 1))
		}
	})
	w := &writes{}
	for _, r := range records {
		s.apply(r, w)
	}
	if err := s.writes.Retry(ctx, "clickhouse", w.insert(s.conn)); err != nil {
		return err
	}
	aborted, err := kafka.TransactBatch(ctx, s.sess, w.records, nil)
	if err != nil {
		return err
	}
	if aborted != nil {
		// The session rewound to the committed offsets; the union-find
		// holds changes the map does not: rebuild before the next batch.
		s.stale.Store(true)
		s.m.writeErrors.WithLabelValues("kafka").Inc()
		s.log.Warn("applying the requests again", zap.Error(aborted), zap.Int("requests", len(records)))
		return nil
	}
	s.m.identifiers.Set(float64(s.res.Identifiers()))
	s.m.persons.Set(float64(s.res.Persons()))
	return nil
}

// writes are the changes of one batch.
type writes struct {
	records   []*kgo.Record
	mapRows   []clickhouse.IdentityMapRow
	merges    []clickhouse.IdentityMergeRow
	refusals  []clickhouse.IdentityRefusalRow
	overrides []clickhouse.PersonOverrideRow
}

func (w *writes) insert(conn driver.Conn) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := clickhouse.InsertIdentityMap(ctx, conn, w.mapRows); err != nil {
			return err
		}
		if err := clickhouse.InsertIdentityMerges(ctx, conn, w.merges); err != nil {
			return err
		}
		if err := clickhouse.InsertIdentityRefusals(ctx, conn, w.refusals); err != nil {
			return err
		}
		return clickhouse.InsertPersonOverrides(ctx, conn, w.overrides)
	}
}

// versionsPerRequest spaces the versions of the rows of consecutive
// requests: a row's version is the request's offset plus one times this,
// plus its index among the request's rows of its table (rowVersion).
const versionsPerRequest = stitch.MaxLinkIdentifiers + 1

// rowVersion is the version of the i-th row of a request whose versions
// start at base. The index orders the rows of one request: an identifier
// the request sees first is mapped to a person of its own, and then, when
// that person is merged, again to the survivor, which must win. A merge
// gives a row for every identifier of the merged person, so a request can
// give more rows than versionsPerRequest; the index stops at its last
// value, so that every row of a later request still outranks the earlier
// one's. That keeps the order within a request: an identifier's first row
// is among the request's own identifiers, of which DecodeLinkRequest lets
// through fewer than versionsPerRequest, and no other key of a table gets
// two rows from one request.
func rowVersion(base uint64, i int) uint64 {
	return base + uint64(min(i, versionsPerRequest-1))
}

// apply applies one link request and adds its changes to w.
func (s *Service) apply(r *kgo.Record, w *writes) {
	req, err := stitch.DecodeLinkRequest(r.Value)
	if err != nil {
		s.m.requests.WithLabelValues("invalid").Inc()
		s.log.Warn("skipping an invalid link request", zap.Int64("offset", r.Offset), zap.Error(err))
		return
	}
	if req.Forget {
		s.forget(req, w)
		return
	}
	if s.sup.Suppressed(req.Identifiers) {
		// An erased person's identifier: the whole request is dropped, so
		// that none of the event's identifiers is mapped or linked.
		s.m.requests.WithLabelValues("suppressed").Inc()
		return
	}
	out := s.res.Apply(req)
	base := uint64(r.Offset+1) * versionsPerRequest
	for i, a := range out.Assignments {
		key, value := stitch.EncodeAssignment(a)
		w.records = append(w.records, &kgo.Record{Key: key, Value: value})
		w.mapRows = append(w.mapRows, clickhouse.IdentityMapRow{IdentifierType: a.Identifier.Type, IdentifierValue: a.Identifier.Value,
			PersonID: a.Person, FirstSeen: a.FirstSeen.Truncate(time.Second), Version: rowVersion(base, i)})
	}
	at := req.At.UTC().Truncate(time.Second)
	for i, m := range out.Merges {
		w.merges = append(w.merges, clickhouse.IdentityMergeRow{MergedPersonID: m.From, SurvivingPersonID: m.Into,
			RequestID: m.Request, MergedAt: at, Version: rowVersion(base, i)})
	}
	for i, o := range out.Overrides {
		w.overrides = append(w.overrides, clickhouse.PersonOverrideRow{PersonID: o.Person, SurvivingPersonID: o.Survivor,
			MergedAt: at, Version: rowVersion(base, i)})
	}
	for i, f := range out.Refusals {
		w.refusals = append(w.refusals, clickhouse.IdentityRefusalRow{RequestID: f.Request, PersonID: f.Person,
			OtherPersonID: f.Other, ConflictingType: f.ConflictingType, Reason: f.Reason, RefusedAt: at, Version: rowVersion(base, i)})
		s.m.refusals.WithLabelValues(f.ConflictingType).Inc()
	}
	s.m.merges.Add(float64(len(out.Merges)))
	switch {
	case len(out.Refusals) > 0:
		s.m.requests.WithLabelValues("refused").Inc()
	case len(out.Assignments) > 0:
		s.m.requests.WithLabelValues("applied").Inc()
	default:
		s.m.requests.WithLabelValues("unchanged").Inc()
	}
}

// forget removes the persons of a forget request's identifiers: every
// identifier of theirs gets a tombstone on the map topic, and it and the
// request's identifiers a suppression on the suppressions topic, so that
// no later or replayed request maps them again. Their ClickHouse rows are
// deleted by whoever asked (touchline forget), once the resolver has
// passed the request. A request to lift (Lift) instead lifts the
// suppressions of the erasures its identifiers were part of.
func (s *Service) forget(req stitch.LinkRequest, w *writes) {
	suppress := func(key string, value []byte) {
		w.records = append(w.records, &kgo.Record{Topic: s.kcfg.Topics.Suppressions(), Key: []byte(key), Value: value})
		_ = s.sup.Apply(key, value) // a value of EncodeSuppression is valid
	}
	keys := make([]string, 0, len(req.Identifiers))
	for _, id := range req.Identifiers {
		keys = append(keys, stitch.SuppressionKey(id))
	}
	if req.Lift {
		lifted := s.sup.keysOf(s.sup.requestsOf(keys))
		for _, k := range lifted {
			suppress(k, nil)
		}
		s.m.requests.WithLabelValues("lift").Inc()
		s.log.Info("lifted a suppression", zap.String("request", req.ID), zap.Int("identifiers", len(lifted)))
		return
	}
	removed := 0
	for _, id := range req.Identifiers {
		for _, gone := range s.res.Forget(id) {
			w.records = append(w.records, &kgo.Record{Key: stitch.MapKey(gone)})
			keys = append(keys, stitch.SuppressionKey(gone))
			removed++
		}
	}
	// An identifier suppressed already keeps the erasure it belongs to
	// (which lifting follows), and a forget request consumed again writes
	// nothing.
	value := stitch.EncodeSuppression(stitch.Suppression{Request: req.ID, At: req.At})
	sort.Strings(keys)
	for i, k := range keys {
		if (i == 0 || k != keys[i-1]) && len(s.sup.requestsOf([]string{k})) == 0 {
			suppress(k, value)
		}
	}
	s.m.requests.WithLabelValues("forget").Inc()
	s.log.Info("forgot a person", zap.String("request", req.ID), zap.Int("identifiers", removed))
}

// rebuild reads the whole map topic into a fresh union-find: what every
// earlier owner of the links partition committed.
func (s *Service) rebuild(ctx context.Context) error {
	s.stale.Store(false)
	s.loaded.Store(false)
	start := time.Now()
	res := stitch.NewResolver(s.rules)
	err := ReadMap(ctx, s.kcfg, s.log, func(a stitch.Assignment, present bool) {
		if present {
			res.Restore(a)
		} else {
			res.Drop(a.Identifier)
		}
	})
	if err != nil {
		return err
	}
	sup, err := ReadSuppressions(ctx, s.kcfg, s.log)
	if err != nil {
		return err
	}
	s.res, s.sup = res, sup
	s.loaded.Store(true)
	s.m.identifiers.Set(float64(res.Identifiers()))
	s.m.persons.Set(float64(res.Persons()))
	s.log.Info("identity map loaded", zap.Int("identifiers", res.Identifiers()), zap.Int("persons", res.Persons()),
		zap.Int("suppressed", sup.Len()),
		zap.Duration("took", time.Since(start)))
	return nil
}

// ReadMap reads the committed identity map topic of kcfg from its start to
// the end it has when ReadMap is called, and calls apply for every record
// in order: present is false for a tombstone. Invalid records are logged and
// skipped.
func ReadMap(ctx context.Context, kcfg kafka.Config, log *zap.Logger, apply func(a stitch.Assignment, present bool)) error {
	return kafka.ReadCommitted(ctx, kcfg, log, kcfg.Topics.IdentityMap, nil, func(r *kgo.Record) error {
		a, present, err := stitch.DecodeAssignment(r.Key, r.Value)
		if err != nil {
			log.Warn("skipping an invalid identity map record", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
			return nil
		}
		apply(a, present)
		return nil
	})
}
