package kafka

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
)

func TestCreateTopics(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "exists"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cfg := DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cl, err := NewClient(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	specs := []TopicSpec{
		{Name: "exists", Partitions: 6, Replication: -1},
		{Name: "events", Partitions: 3, Replication: 1, Retention: 48 * time.Hour},
		{Name: "state", Partitions: 2, Replication: -1, Compacted: true, Retention: time.Hour},
	}
	if err := PrepareTopics(ctx, cl, false, specs...); !errors.Is(err, ErrConfig) ||
		!strings.Contains(err.Error(), "events, state") || !strings.Contains(err.Error(), "touchline topics create") {
		t.Fatalf("without create_topics, missing topics must be refused by name: %v", err)
	}
	created, err := CreateTopics(ctx, cl, specs...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(created, []string{"events", "state"}) {
		t.Fatalf("created %v, want [events state]", created)
	}
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, "exists", "events", "state")
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]int{"exists": 2, "events": 3, "state": 2} {
		if got := len(details[topic].Partitions); got != want {
			t.Errorf("%s has %d partitions, want %d", topic, got, want)
		}
	}
	configs, err := adm.DescribeTopicConfigs(ctx, "events", "state")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range configs {
		values := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				values[c.Key] = *c.Value
			}
		}
		switch rc.Name {
		case "events":
			if values["retention.ms"] != "172800000" {
				t.Errorf("events retention.ms = %q, want 172800000", values["retention.ms"])
			}
		case "state":
			if values["cleanup.policy"] != "compact" {
				t.Errorf("state cleanup.policy = %q, want compact", values["cleanup.policy"])
			}
		}
	}
	again, err := CreateTopics(ctx, cl, specs...)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second run must create nothing: %v, %v", again, err)
	}
	if err := PrepareTopics(ctx, cl, false, specs...); err != nil {
		t.Fatalf("every topic exists now: %v", err)
	}
}

func TestTopicSpecString(t *testing.T) {
	for spec, want := range map[TopicSpec]string{
		{Name: "a", Partitions: 6, Replication: -1}:                                "a partitions=6 replication=default",
		{Name: "b", Partitions: 1, Replication: 3, Retention: 72 * time.Hour}:      "b partitions=1 replication=3 retention=72h0m0s",
		{Name: "c", Partitions: 4, Replication: -1, Compacted: true, Retention: 1}: "c partitions=4 replication=default cleanup.policy=compact",
	} {
		if got := spec.String(); got != want {
			t.Errorf("%+v: %q, want %q", spec, got, want)
		}
	}
}

// A topic used in two roles, such as the dead-letter topic set to the
// touchpoints topic, is refused: ingest would consume its own dead
// letters and loop forever.
func TestTopicsMustBeDistinct(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Topics.DeadLetter = cfg.Topics.Touchpoints
	err := cfg.Validate()
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "topics.touchpoints and topics.dead_letter") {
		t.Fatalf("dead_letter = touchpoints: %v", err)
	}
	cfg = DefaultConfig()
	cfg.Topics.SegmentInputs = cfg.Topics.Spend
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "topics.spend and topics.segment_inputs") {
		t.Fatalf("segment_inputs = spend: %v", err)
	}
	cfg = DefaultConfig()
	cfg.ReplicationFactor = 0
	if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("replication_factor 0: %v", err)
	}
}

// TestSuppressionsTopicName: the suppressions topic is named after the
// identity map topic unless it is set.
func TestSuppressionsTopicName(t *testing.T) {
	for _, c := range []struct {
		topics Topics
		want   string
	}{
		{DefaultConfig().Topics, "touchline.identity.suppressions"},
		{Topics{IdentityMap: "t_a.identity.map"}, "t_a.identity.suppressions"},
		{Topics{IdentityMap: "idmap"}, "idmap.suppressions"},
		{Topics{IdentityMap: "t_a.identity.map", IdentitySuppressions: "erased"}, "erased"},
	} {
		if got := c.topics.Suppressions(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.topics, got, c.want)
		}
	}
}
