package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/avro"
)

// NewClient returns a franz-go client for cfg with extra options appended
// (consumer group, topics, ...). Logs go to log through kzap at warn level.
func NewClient(cfg Config, log *zap.Logger, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := clientOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	return cl, nil
}

// Session describes an exactly-once consume-transform-produce session: the
// group, the topic it consumes (from the start when the group has no
// offsets, read_committed), the transactional id, and the group session
// timeout (transactions time out after six of them).
type Session struct {
	Group, Topic, TransactionalID string
	Timeout                       time.Duration
}

// NewGroupTransactSession is NewClient for the transactional consumer and
// producer of session, with extra options appended.
func NewGroupTransactSession(cfg Config, log *zap.Logger, session Session, extra ...kgo.Opt) (*kgo.GroupTransactSession, error) {
	opts, err := clientOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ConsumerGroup(session.Group),
		kgo.ConsumeTopics(session.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(session.TransactionalID),
		kgo.TransactionTimeout(session.Timeout*6),
		kgo.SessionTimeout(session.Timeout))
	s, err := kgo.NewGroupTransactSession(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka transact session: %w", err)
	}
	return s, nil
}

// clientOptions are the options every client of cfg has: brokers, client
// id, logger, TLS and SASL.
func clientOptions(cfg Config, log *zap.Logger) ([]kgo.Opt, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.WithLogger(kzap.New(log.Named("kafka"), kzap.Level(kgo.LogLevelWarn))),
	}
	tlsCfg, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("kafka tls: %w", err)
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg), kgo.Dialer(dialer.DialContext))
	} else {
		opts = append(opts, kgo.Dialer(dialer.DialContext))
	}
	if m := saslMechanism(cfg.SASL); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func saslMechanism(c SASLConfig) sasl.Mechanism {
	switch strings.ToUpper(c.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: c.User, Pass: c.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()
	}
	return nil
}

// EnsureTopics creates the topics that do not exist yet with the given number
// of partitions and replication factor (-1 for the broker default), as
// CreateTopics does.
func EnsureTopics(ctx context.Context, cl *kgo.Client, partitions int32, replication int16, topics ...string) error {
	return ensureTopics(ctx, cl, TopicSpec{Partitions: partitions, Replication: replication}, topics)
}

// ensureTopics creates topics, each like like.
func ensureTopics(ctx context.Context, cl *kgo.Client, like TopicSpec, topics []string) error {
	specs := make([]TopicSpec, len(topics))
	for i, t := range topics {
		specs[i] = like
		specs[i].Name = t
	}
	_, err := CreateTopics(ctx, cl, specs...)
	return err
}

// NewRegistry returns the schema registry cfg names: a Confluent-compatible
// Schema Registry when schema_registry.url is set, the shipped schemas
// otherwise.
func NewRegistry(cfg Config) (avro.Registry, error) {
	if cfg.SchemaRegistry.URL == "" {
		return avro.NewStaticRegistry()
	}
	opts := []sr.ClientOpt{sr.URLs(cfg.SchemaRegistry.URL)}
	if cfg.SchemaRegistry.User != "" {
		opts = append(opts, sr.BasicAuth(cfg.SchemaRegistry.User, cfg.SchemaRegistry.Password))
	}
	tlsCfg, err := cfg.SchemaRegistry.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("schema registry tls: %w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, sr.DialTLSConfig(tlsCfg))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating schema registry client: %w", err)
	}
	return avro.NewSchemaRegistry(cl), nil
}

// GroupCaughtUp reports whether group has committed the end offset of every
// non-empty partition of topics, i.e. has processed everything published so
// far.
func GroupCaughtUp(ctx context.Context, adm *kadm.Client, group string, topics ...string) (bool, error) {
	lag, err := GroupLag(ctx, adm, group, topics...)
	return lag == 0, err
}

// GroupLag returns the largest lag of group over the partitions of topics:
// the end offset minus the committed one (the end offset itself where
// nothing is committed yet). A group that has not committed at all lags by
// the ends.
func GroupLag(ctx context.Context, adm *kadm.Client, group string, topics ...string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("listing end offsets: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return 0, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		at := int64(0)
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok {
			at = c.At
		}
		lag = max(lag, o.Offset-at)
	})
	return lag, nil
}
