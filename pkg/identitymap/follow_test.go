package identitymap

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/touchline-io/touchline/pkg/kafka/kafkatest"
)

// TestFetchErrWhileTheBrokerRefusesTheTopic: while the broker answers the
// map's fetches with an error (here: not authorised for the topic), the
// follower goes on trying and FetchErr says why, so that a service's
// readiness tells the truth instead of resolving persons from a copy that
// silently lags; once the fetches succeed again, FetchErr is nil.
func TestFetchErrWhileTheBrokerRefusesTheTopic(t *testing.T) {
	c := kafkatest.New(t)
	topic := c.Config.Topics.IdentityMap
	m := open(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	followed := make(chan error, 1)
	go func() { followed <- m.Follow(ctx, c.Config, topic) }()
	if err := m.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.FetchErr(); err != nil {
		t.Fatalf("FetchErr before any failure: %v", err)
	}
	var refuse atomic.Bool
	refuse.Store(true)
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		r := req.(*kmsg.FetchRequest)
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	waitFetchErr(t, m, func(err error) bool {
		return errors.Is(err, kerr.TopicAuthorizationFailed) && strings.Contains(err.Error(), topic)
	})
	refuse.Store(false)
	waitFetchErr(t, m, func(err error) bool { return err == nil })
	cancel()
	if err := <-followed; err != nil {
		t.Errorf("Follow ended with %v", err)
	}
}

// waitFetchErr polls m.FetchErr until ok accepts it, for at most 20 s.
func waitFetchErr(t *testing.T, m *Map, ok func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := m.FetchErr()
		if ok(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FetchErr is still %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
