package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// Topics returns how touchline creates every topic of cfg: the touchpoints,
// spend, exchange rates and dead-letter topics with kafka.partitions; the identity links
// topic with one partition (one resolver applies the requests in order);
// the identity map compacted with identity.map_partitions; the list of
// erased identifiers compacted with one partition; the alerts topic
// with one partition; the segment topics with segments.partitions, the
// changelog compacted. All take kafka.replication_factor, and the ones not
// compacted kafka.retention. The topics of destinations that are none of
// these (the activation service's kafka destinations) are created like the
// segment changes topic.
func Topics(cfg config.Config, destinations ...string) []kafka.TopicSpec {
	k, t := cfg.Kafka, cfg.Kafka.Topics
	spec := func(name string, partitions int32, compacted bool) kafka.TopicSpec {
		return kafka.TopicSpec{Name: name, Partitions: partitions, Replication: k.ReplicationFactor, Compacted: compacted, Retention: k.Retention}
	}
	specs := []kafka.TopicSpec{
		spec(t.Touchpoints, k.Partitions, false),
		spec(t.Spend, k.Partitions, false),
		spec(t.Rates(), k.Partitions, false),
		spec(t.DeadLetter, k.Partitions, false),
		spec(t.IdentityLinks, 1, false),
		spec(t.IdentityMap, cfg.Identity.MapPartitions, true),
		spec(t.Suppressions(), 1, true),
		spec(t.Alerts, 1, false),
		spec(t.SegmentInputs, cfg.Segments.Partitions, false),
		spec(t.SegmentChangelog, cfg.Segments.Partitions, true),
		spec(t.SegmentChanges, cfg.Segments.Partitions, false),
	}
	for _, name := range destinations {
		if !slices.ContainsFunc(specs, func(s kafka.TopicSpec) bool { return s.Name == name }) {
			specs = append(specs, spec(name, cfg.Segments.Partitions, false))
		}
	}
	return specs
}

// CreateTopics creates the topics of cfg and destinations that do not
// exist (Topics), and returns the specs of those it created.
func CreateTopics(ctx context.Context, cfg config.Config, log *zap.Logger, destinations ...string) ([]kafka.TopicSpec, error) {
	specs := Topics(cfg, destinations...)
	var created []string
	err := withClient(cfg, log, func(cl *kgo.Client) error {
		var err error
		created, err = kafka.CreateTopics(ctx, cl, specs...)
		return err
	})
	return specsNamed(specs, created), err
}

// PrepareTopics makes sure the topics of cfg that a service reads or writes
// exist before it starts: it creates missing ones when
// kafka.create_topics allows it, and otherwise refuses to start while one
// is missing. A name that is not a topic of cfg is a destination's
// (Topics).
func PrepareTopics(ctx context.Context, cfg config.Config, log *zap.Logger, names ...string) error {
	return withClient(cfg, log, func(cl *kgo.Client) error {
		if err := kafka.PrepareTopics(ctx, cl, cfg.Kafka.CreateTopics, specsNamed(Topics(cfg, names...), names)...); err != nil {
			return fmt.Errorf("preparing the topics %v: %w", names, err)
		}
		return nil
	})
}

// specsNamed returns the specs among specs whose names are in names.
func specsNamed(specs []kafka.TopicSpec, names []string) []kafka.TopicSpec {
	var out []kafka.TopicSpec
	for _, s := range specs {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// withClient calls f with a Kafka client of cfg, closed afterwards.
func withClient(cfg config.Config, log *zap.Logger, f func(*kgo.Client) error) error {
	cl, err := kafka.NewClient(cfg.Kafka, log)
	if err != nil {
		return err
	}
	defer cl.Close()
	return f(cl)
}
