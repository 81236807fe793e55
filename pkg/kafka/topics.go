package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/backoff"
)

// TopicSpec is how touchline creates one of its topics.
type TopicSpec struct {
	// Name is the topic's name.
	Name string
	// Partitions is its partition count.
	Partitions int32
	// Replication is its replication factor, -1 for the broker's default.
	Replication int16
	// Compacted makes it log-compacted (keyed state); a compacted topic
	// keeps the latest record of every key and ignores Retention.
	Compacted bool
	// Retention sets retention.ms; zero keeps the broker's default.
	Retention time.Duration
}

// configs returns the topic configuration the spec sets.
func (s TopicSpec) configs() map[string]*string {
	configs := map[string]*string{}
	switch {
	case s.Compacted:
		compact := "compact"
		configs["cleanup.policy"] = &compact
	case s.Retention > 0:
		ms := strconv.FormatInt(s.Retention.Milliseconds(), 10)
		configs["retention.ms"] = &ms
	}
	return configs
}

// String describes the spec as `touchline topics create` prints it.
func (s TopicSpec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s partitions=%d replication=", s.Name, s.Partitions)
	if s.Replication < 0 {
		b.WriteString("default")
	} else {
		b.WriteString(strconv.Itoa(int(s.Replication)))
	}
	switch {
	case s.Compacted:
		b.WriteString(" cleanup.policy=compact")
	case s.Retention > 0:
		fmt.Fprintf(&b, " retention=%s", s.Retention)
	}
	return b.String()
}

// topicsTimeout bounds creating topics and waiting for their partitions to
// have leaders: a broker that does not get there in this time has a
// problem an operator must see.
const topicsTimeout = time.Minute

// CreateTopics creates the topics of specs that do not exist yet and waits
// until every partition of every spec is served by its leader, so that
// producing, consuming and listing offsets work right away (a broker
// answers UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_FOR_PARTITION for a
// moment after creating a topic). Retriable broker errors are retried for
// up to a minute. It returns the names of the topics it created.
func CreateTopics(ctx context.Context, cl *kgo.Client, specs ...TopicSpec) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, topicsTimeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	var created []string
	for _, spec := range specs {
		var made bool
		if err := retryRetriable(ctx, func(ctx context.Context) error {
			resp, err := adm.CreateTopic(ctx, spec.Partitions, spec.Replication, spec.configs(), spec.Name)
			if err == nil {
				err = resp.Err
			}
			switch {
			case err == nil:
				made = true
				return nil
			case errors.Is(err, kerr.TopicAlreadyExists):
				return nil
			default:
				return err
			}
		}); err != nil {
			return created, fmt.Errorf("creating topic %s: %w", spec.Name, err)
		}
		if made {
			created = append(created, spec.Name)
		}
	}
	names := specNames(specs)
	if err := retryRetriable(ctx, func(ctx context.Context) error { return topicsServed(ctx, adm, names) }); err != nil {
		return created, fmt.Errorf("waiting for the partitions of %s to have leaders: %w", strings.Join(names, ", "), err)
	}
	return created, nil
}

// topicsServed returns nil once every partition of topics has a leader that
// answers a ListOffsets request for it.
func topicsServed(ctx context.Context, adm *kadm.Client, topics []string) error {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return err
	}
	for _, t := range topics {
		d, ok := md.Topics[t]
		switch {
		case !ok:
			return fmt.Errorf("topic %s: %w", t, kerr.UnknownTopicOrPartition)
		case d.Err != nil:
			return fmt.Errorf("topic %s: %w", t, d.Err)
		case len(d.Partitions) == 0:
			return fmt.Errorf("topic %s has no partitions yet: %w", t, kerr.UnknownTopicOrPartition)
		}
		for _, p := range d.Partitions {
			if p.Err != nil {
				return fmt.Errorf("topic %s partition %d: %w", t, p.Partition, p.Err)
			}
			if p.Leader < 0 {
				return fmt.Errorf("topic %s partition %d: %w", t, p.Partition, kerr.LeaderNotAvailable)
			}
		}
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	return ends.Error()
}

// retryRetriable runs op until it succeeds, fails with an error that is
// not worth retrying, or ctx ends.
func retryRetriable(ctx context.Context, op func(context.Context) error) error {
	var permanent error
	err := backoff.Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second}.Retry(ctx, func(ctx context.Context) error {
		err := op(ctx)
		if err != nil && !retriable(err) {
			permanent = err
			return nil
		}
		return err
	}, func(int, time.Duration, error) {})
	if permanent != nil {
		return permanent
	}
	return err
}

// retriable reports whether err is a broker error that goes away by itself
// (a controller moving, a leader being elected, metadata propagating) or a
// network error, rather than a refusal such as a missing authorisation or
// an invalid setting.
func retriable(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || errors.Is(err, kerr.UnknownTopicOrPartition)
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// MissingTopics returns the names among topics that do not exist.
func MissingTopics(ctx context.Context, cl *kgo.Client, topics ...string) ([]string, error) {
	var details kadm.TopicDetails
	if err := retryRetriable(ctx, func(ctx context.Context) error {
		var err error
		details, err = kadm.NewClient(cl).ListTopics(ctx, topics...)
		return err
	}); err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	var missing []string
	for _, t := range topics {
		if d, ok := details[t]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

// PrepareTopics makes sure the topics of specs exist before a service
// uses them: with create (kafka.create_topics) it creates the missing ones
// as CreateTopics does, otherwise it refuses to go on while one is
// missing, naming them and the command that creates them.
func PrepareTopics(ctx context.Context, cl *kgo.Client, create bool, specs ...TopicSpec) error {
	if create {
		_, err := CreateTopics(ctx, cl, specs...)
		return err
	}
	missing, err := MissingTopics(ctx, cl, specNames(specs)...)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: topics %s do not exist and kafka.create_topics is off: create them with `touchline topics create`",
			ErrConfig, strings.Join(missing, ", "))
	}
	return nil
}

// specNames returns the names of specs.
func specNames(specs []TopicSpec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}
