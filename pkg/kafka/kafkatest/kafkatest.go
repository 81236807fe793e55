// Package kafkatest runs an in-memory Kafka cluster (franz-go's kfake) for
// unit tests of code that speaks Kafka: groups, transactions and
// read_committed fetches behave as on a broker, without a JVM, in
// milliseconds. The integration suite (test/integration) still runs every
// Kafka path against a real Apache Kafka broker; kafkatest is for fast,
// focused tests of one package, such as a service's transaction loop.
package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/kafka"
)

// timeout bounds each helper's Kafka round trip.
const timeout = 20 * time.Second

// Cluster is an in-memory Kafka cluster for one test.
type Cluster struct {
	// Cluster is the kfake cluster, for fault injection (ControlKey).
	*kfake.Cluster
	// Config is kafka.DefaultConfig pointing at the cluster, for the
	// code under test.
	Config kafka.Config
}

// New starts a one-broker cluster that is closed when t ends. Every topic
// of kafka.DefaultConfig's Topics is created with one partition, and
// opts are applied after those defaults (e.g. kfake.SeedTopics for more
// partitions, kfake.AllowAutoTopicCreation).
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	cfg := kafka.DefaultConfig()
	topics := cfg.Topics
	seed := []string{topics.Touchpoints, topics.Spend, topics.DeadLetter, topics.IdentityLinks, topics.IdentityMap,
		topics.Suppressions(), topics.Alerts, topics.SegmentInputs, topics.SegmentChangelog, topics.SegmentChanges}
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, seed...)}, opts...)...)
	if err != nil {
		t.Fatalf("starting an in-memory kafka cluster: %v", err)
	}
	t.Cleanup(c.Close)
	cfg.Brokers = c.ListenAddrs()
	return &Cluster{Cluster: c, Config: cfg}
}

// Client returns a client of the cluster with opts, closed when t ends.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kafka.NewClient(c.Config, zap.NewNop(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Produce produces records and waits until each is acknowledged; a record
// without a Topic fails.
func (c *Cluster) Produce(t testing.TB, records ...*kgo.Record) {
	t.Helper()
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d records: %v", len(records), err)
	}
}

// ReadCommitted returns what a read_committed consumer of topic sees from
// its start to its current end, partition by partition.
func (c *Cluster) ReadCommitted(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	err := kafka.ReadCommitted(ctx, c.Config, zap.NewNop(), topic, nil, func(r *kgo.Record) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", topic, err)
	}
	return out
}

// Lag returns how far group's committed offsets on topic are behind its
// end (kafka.GroupLag).
func (c *Cluster) Lag(t testing.TB, group, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	lag, err := kafka.GroupLag(ctx, kadm.NewClient(c.Client(t)), group, topic)
	if err != nil {
		t.Fatal(err)
	}
	return lag
}
