package ingest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/kafka/kafkatest"
)

// refuseCommits makes the broker answer the next n offset commits with
// UNKNOWN_MEMBER_ID for every partition, as it does to a member removed
// after its session timed out, and passes later ones through.
func refuseCommits(c *kafkatest.Cluster, n int32) {
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if refused.Add(1) > n {
			return nil, nil, false
		}
		commit := req.(*kmsg.OffsetCommitRequest)
		resp := commit.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range commit.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.UnknownMemberID.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// joinedService returns a service whose consumer is a member of its group
// and has fetched the 3 touchpoint records produced to the cluster, and
// the offsets that commit them.
func joinedService(t *testing.T, c *kafkatest.Cluster) (*Service, map[string]map[int32]kgo.EpochOffset) {
	t.Helper()
	topics := c.Config.Topics
	for range 3 {
		c.Produce(t, &kgo.Record{Topic: topics.Touchpoints, Value: []byte("v")})
	}
	cfg := DefaultConfig()
	cfg.Group = "commit-test"
	cfg.SessionTimeout = kafka.MinSessionTimeout
	cfg.StallTimeout = time.Millisecond
	s, err := New(cfg, c.Config, nil, nil, NewMetrics(prometheus.NewRegistry()), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for fetched := 0; fetched < 3; {
		fs := s.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("fetching the produced records: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			fetched++
			offsets[r.Topic] = map[int32]kgo.EpochOffset{r.Partition: {Epoch: r.LeaderEpoch, Offset: r.Offset + 1}}
		})
		s.cl.AllowRebalance()
	}
	return s, offsets
}

// owingService returns a service of cluster c whose two commits of the
// offsets of 3 fetched records the broker refused, stall_timeout apart.
func owingService(t *testing.T, c *kafkatest.Cluster) *Service {
	t.Helper()
	s, offsets := joinedService(t, c)
	refuseCommits(c, 2)
	s.commit(context.Background(), offsets)
	if lag := c.Lag(t, s.cfg.Group, c.Config.Topics.Touchpoints); lag != 3 {
		t.Fatalf("lag %d after a refused commit, want 3", lag)
	}
	time.Sleep(2 * s.cfg.StallTimeout)
	s.commit(context.Background(), nil)
	if err := s.Ready(); !errors.Is(err, ErrNotReady) || !s.health.Failing(checkOffsetCommit) {
		t.Fatalf("Ready() = %v after commits failed for stall_timeout, want %s failing", err, checkOffsetCommit)
	}
	return s
}

// TestFailedCommitIsOwedUntilOneSucceeds: offsets whose commit the broker
// refused are committed by a later commit with nothing new to commit (the
// flusher's retry), and readiness names offset_commit in between, once
// the failures have lasted stall_timeout.
func TestFailedCommitIsOwedUntilOneSucceeds(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, kafka.DefaultConfig().Topics.Rates()))
	s := owingService(t, c)
	s.commit(context.Background(), nil)
	if lag := c.Lag(t, s.cfg.Group, c.Config.Topics.Touchpoints); lag != 0 {
		t.Fatalf("lag %d after the owed offsets were committed, want 0", lag)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready() = %v after a commit succeeded", err)
	}
}

// TestOwedOffsetsOfLostPartitionsAreForgotten: once the partitions are
// lost, their owed offsets are not committed by the retry (which would
// move back their next owner's offsets) and readiness passes again.
func TestOwedOffsetsOfLostPartitionsAreForgotten(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, kafka.DefaultConfig().Topics.Rates()))
	s := owingService(t, c)
	touchpoints := c.Config.Topics.Touchpoints
	s.onLost(context.Background(), s.cl, map[string][]int32{touchpoints: {0}})
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready() = %v after the partitions owing offsets were lost", err)
	}
	s.commit(context.Background(), nil)
	if lag := c.Lag(t, s.cfg.Group, touchpoints); lag != 3 {
		t.Fatalf("lag %d: the offsets of a lost partition were committed", lag)
	}
}
