// Package publish encodes touchpoint, spend and exchange rate records as Confluent
// wire-format Avro and produces them to Kafka. The CLI's produce and generate
// commands, the dev mode and the test suites all publish through it.
package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/rates"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Publisher produces records asynchronously; Flush waits for them and reports
// the first failure. It is safe for concurrent use.
type Publisher struct {
	cl      *kgo.Client
	codecs  *avro.Codecs
	topics  kafka.Topics
	tpID    int
	spendID int
	rateID  int
	owned   bool

	mu       sync.Mutex
	firstErr error
}

// New returns a Publisher producing through cl. With a Schema Registry, the
// newest shipped schemas are registered under <topic>-value (the topic-name
// strategy) and their ids used; without one, the shipped ids.
func New(ctx context.Context, cl *kgo.Client, reg avro.Registry, topics kafka.Topics) (*Publisher, error) {
	p := &Publisher{cl: cl, codecs: avro.NewCodecs(reg), topics: topics}
	for _, k := range []struct {
		kind  avro.Kind
		topic string
		id    *int
	}{{avro.KindTouchpoint, topics.Touchpoints, &p.tpID}, {avro.KindSpend, topics.Spend, &p.spendID}, {avro.KindRate, topics.Rates(), &p.rateID}} {
		var err error
		if *k.id, err = avro.RegisterLatest(ctx, reg, k.kind, k.topic); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// DeliveryTimeout bounds how long a Publisher from Dial tries to deliver a
// record, so that Flush fails rather than waits for ever when the brokers go
// away.
const DeliveryTimeout = 2 * time.Minute

// Dial connects a producer to the brokers of cfg and returns a Publisher that
// owns it: Close closes the connection. It fails, naming the brokers, when
// none answers within cfg.DialTimeout. The producer lingers 5 ms and gives
// up on a record after DeliveryTimeout; opts, applied after these, change
// them or add others.
func Dial(ctx context.Context, cfg kafka.Config, opts ...kgo.Opt) (*Publisher, error) {
	cl, err := kafka.NewClient(cfg, nil, append([]kgo.Opt{kgo.ProducerLinger(5 * time.Millisecond), kgo.RecordDeliveryTimeout(DeliveryTimeout)}, opts...)...)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	err = cl.Ping(pingCtx)
	cancel()
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("no Kafka broker answered at %s within %s: %w", strings.Join(cfg.Brokers, ", "), cfg.DialTimeout, err)
	}
	reg, err := kafka.NewRegistry(cfg)
	if err != nil {
		cl.Close()
		return nil, err
	}
	p, err := New(ctx, cl, reg, cfg.Topics)
	if err != nil {
		cl.Close()
		return nil, err
	}
	p.owned = true
	return p, nil
}

// Close closes the Kafka client when the Publisher owns it (see Dial). Call
// Flush first: Close drops what is not acknowledged.
func (p *Publisher) Close() {
	if p.owned {
		p.cl.Close()
	}
}

// Touchpoint encodes t and produces it to the touchpoints topic, keyed by
// TouchpointKey.
func (p *Publisher) Touchpoint(ctx context.Context, t *touchpoint.Touchpoint) error {
	r, err := p.touchpointRecord(ctx, t)
	if err != nil {
		return err
	}
	p.produce(ctx, r)
	return nil
}

func (p *Publisher) touchpointRecord(ctx context.Context, t *touchpoint.Touchpoint) (*kgo.Record, error) {
	recs, err := p.TouchpointRecords(ctx, []*touchpoint.Touchpoint{t})
	if err != nil {
		return nil, err
	}
	return recs[0], nil
}

// recordBytes is the room TouchpointRecords makes for a record's key and
// value at first; most touchpoints fit.
const recordBytes = 512

// TouchpointRecords encodes ts into records for the touchpoints topic,
// keyed by TouchpointKey, as Touchpoint and TouchpointsSync produce them.
// The records, and their keys and values, share a few allocations, and
// one timestamp: the time they were made, which the client would
// otherwise read for each record as it is produced.
func (p *Publisher) TouchpointRecords(ctx context.Context, ts []*touchpoint.Touchpoint) ([]*kgo.Record, error) {
	return p.touchpointRecords(ctx, ts, new(recordRoom))
}

// recordRoom is the memory the records of a batch are encoded into.
type recordRoom struct {
	recs []kgo.Record
	ptrs []*kgo.Record
	buf  []byte
}

// recordRooms holds the rooms of batches TouchpointsSync produced, once
// the client is done with their records, for the next batches to reuse.
var recordRooms = sync.Pool{New: func() any { return new(recordRoom) }}

// maxKeptRoomBytes is the most bytes of encoded records a room may hold to
// be kept for reuse, so that one huge batch does not stay in memory.
const maxKeptRoomBytes = 4 << 20

// touchpointRecords is TouchpointRecords encoding into room's memory,
// which it grows as needed (the records are its until they are dropped).
func (p *Publisher) touchpointRecords(ctx context.Context, ts []*touchpoint.Touchpoint, room *recordRoom) ([]*kgo.Record, error) {
	now := time.Now()
	if cap(room.recs) < len(ts) {
		room.recs, room.ptrs = make([]kgo.Record, len(ts)), make([]*kgo.Record, len(ts))
	}
	recs, out := room.recs[:len(ts)], room.ptrs[:len(ts)]
	buf := room.buf[:0]
	if cap(buf) < recordBytes*len(ts) {
		buf = make([]byte, 0, recordBytes*len(ts))
	}
	defer func() { room.buf = buf[:0] }() // grown, if it was, for the next batch
	for i, t := range ts {
		start := len(buf)
		buf = appendTouchpointKey(buf, t)
		key := len(buf)
		var err error
		if buf, err = p.codecs.AppendTouchpoint(ctx, buf, p.tpID, t); err != nil {
			return nil, fmt.Errorf("event %s: %w", t.EventID, err)
		}
		// Capped, so that nothing appended to one runs into the next.
		recs[i] = kgo.Record{Topic: p.topics.Touchpoints, Key: buf[start:key:key], Value: buf[key:len(buf):len(buf)], Timestamp: now}
		out[i] = &recs[i]
	}
	return out, nil
}

// TouchpointsSync produces ts to the touchpoints topic and waits until
// every one is acknowledged, or ctx ends: it returns the first error of
// any of them, and ctx's error when ctx ends first (the records then may
// or may not arrive; the client goes on trying for at most its delivery
// timeout). It does not touch the error Flush reports.
func (p *Publisher) TouchpointsSync(ctx context.Context, ts []*touchpoint.Touchpoint) error {
	room := recordRooms.Get().(*recordRoom)
	recs, err := p.touchpointRecords(ctx, ts, room)
	if err != nil {
		recordRooms.Put(room) // the client never saw them
		return err
	}
	done := make(chan error, 1)
	go func() {
		err := p.cl.ProduceSync(ctx, recs...).FirstErr()
		// Every record's promise has been called: the client is done
		// with them, even when this call's caller gave up waiting.
		if cap(room.buf) <= maxKeptRoomBytes {
			recordRooms.Put(room)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("producing %d touchpoints: %w", len(ts), err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("producing %d touchpoints: no acknowledgement: %w", len(ts), context.Cause(ctx))
	}
}

// Ping asks the brokers for their metadata, to tell whether Kafka answers.
func (p *Publisher) Ping(ctx context.Context) error {
	if err := p.cl.Ping(ctx); err != nil {
		return fmt.Errorf("pinging Kafka: %w", err)
	}
	return nil
}

// Spend encodes s and produces it to the spend topic, keyed by its
// restatement key so restatements stay in order.
func (p *Publisher) Spend(ctx context.Context, s *touchpoint.Spend) error {
	b, err := p.codecs.Encode(ctx, p.spendID, s.ToAvro())
	if err != nil {
		return fmt.Errorf("spend %s: %w", s.Key(), err)
	}
	p.produce(ctx, &kgo.Record{Topic: p.topics.Spend, Key: []byte(s.Key()), Value: b})
	return nil
}

// ExchangeRate encodes r and produces it to the exchange rates topic, keyed
// by its restatement key (date|base|quote) so restatements stay in order.
func (p *Publisher) ExchangeRate(ctx context.Context, r *rates.ExchangeRate) error {
	b, err := p.codecs.Encode(ctx, p.rateID, r.ToAvro())
	if err != nil {
		return fmt.Errorf("exchange rate %s: %w", r.Key(), err)
	}
	p.produce(ctx, &kgo.Record{Topic: p.topics.Rates(), Key: []byte(r.Key()), Value: b})
	return nil
}

// Raw produces value as it is to topic, for tools and tests that need to
// publish bytes touchline did not encode.
func (p *Publisher) Raw(ctx context.Context, topic string, key, value []byte) {
	p.produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: value})
}

func (p *Publisher) produce(ctx context.Context, r *kgo.Record) {
	p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.firstErr == nil {
				p.firstErr = err
			}
			p.mu.Unlock()
		}
	})
}

// Flush waits until every produced record is acknowledged and returns the
// first error any of them had.
func (p *Publisher) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing producer: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstErr != nil {
		return fmt.Errorf("producing: %w", p.firstErr)
	}
	return nil
}

// keyTypes are the identifier types used as record keys, in order. They are
// not personal data, so they may appear in clear in Kafka keys.
var keyTypes = []string{"customer_id", "device_id", "anonymous_id"}

// TouchpointKey returns the Kafka key of t: its customer_id, device_id or
// anonymous_id, else a SHA-256 of its identifiers so that no personal data
// appears in clear in keys.
func TouchpointKey(t *touchpoint.Touchpoint) string {
	return string(appendTouchpointKey(nil, t))
}

// appendTouchpointKey appends TouchpointKey(t) to dst.
func appendTouchpointKey(dst []byte, t *touchpoint.Touchpoint) []byte {
	for _, k := range keyTypes {
		if v := t.Identifiers.Get(k); v != "" {
			return append(append(append(dst, k...), ':'), v...)
		}
	}
	h := sha256.New()
	for _, e := range t.Identifiers { // in the order of their types
		h.Write([]byte(e.Key + "=" + e.Value + ";"))
	}
	return hex.AppendEncode(append(dst, "h:"...), h.Sum(nil)[:16])
}

// Record publishes a *touchpoint.Touchpoint or a *touchpoint.Spend.
func (p *Publisher) Record(ctx context.Context, rec any) error {
	switch r := rec.(type) {
	case *touchpoint.Touchpoint:
		return p.Touchpoint(ctx, r)
	case *touchpoint.Spend:
		return p.Spend(ctx, r)
	}
	return fmt.Errorf("cannot publish %T", rec)
}

// Generated publishes the touchpoints of gen, then its daily spend, then
// its daily EUR/USD exchange rates (generate.Generator.Rates). each,
// when not nil, is called after every touchpoint is handed to the producer
// (it may call Flush). Call Flush afterwards to wait for acknowledgements.
func (p *Publisher) Generated(ctx context.Context, gen *generate.Generator, each func(*touchpoint.Touchpoint) error) (touchpoints, spend int, err error) {
	err = gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
		if err := p.Touchpoint(ctx, t); err != nil {
			return err
		}
		touchpoints++
		if each != nil {
			return each(t)
		}
		return nil
	})
	if err != nil {
		return touchpoints, spend, err
	}
	err = gen.Spend(func(s *touchpoint.Spend) error {
		spend++
		return p.Spend(ctx, s)
	})
	if err != nil {
		return touchpoints, spend, err
	}
	err = gen.Rates(func(r *rates.ExchangeRate) error { return p.ExchangeRate(ctx, r) })
	return touchpoints, spend, err
}
