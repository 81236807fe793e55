package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/kafka/kafkatest"
)

// session returns a transact session consuming in from c's start, closed
// when t ends.
func session(t *testing.T, c *kafkatest.Cluster, group, in string) *kgo.GroupTransactSession {
	t.Helper()
	sess, err := kafka.NewGroupTransactSession(c.Config, zap.NewNop(),
		kafka.Session{Group: group, Topic: in, TransactionalID: group + "-txn", Timeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	return sess
}

// poll returns the next n records of sess.
func poll(t *testing.T, sess *kgo.GroupTransactSession, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n && ctx.Err() == nil {
		got = append(got, sess.PollRecords(ctx, n-len(got)).Records()...)
	}
	if len(got) != n {
		t.Fatalf("polled %d records, want %d", len(got), n)
	}
	return got
}

// outputs returns one record on topic per input, valued as the input.
func outputs(topic string, in []*kgo.Record) []*kgo.Record {
	out := make([]*kgo.Record, len(in))
	for i, r := range in {
		out[i] = &kgo.Record{Topic: topic, Value: r.Value}
	}
	return out
}

func values(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}

// TestTransactBatchCommitsRecordsAndOffsets: a batch's records become
// visible to read_committed consumers together with the commit of its
// input offsets.
func TestTransactBatchCommitsRecordsAndOffsets(t *testing.T) {
	c := kafkatest.New(t)
	in, out := c.Config.Topics.IdentityLinks, c.Config.Topics.IdentityMap
	c.Produce(t, &kgo.Record{Topic: in, Value: []byte("a")}, &kgo.Record{Topic: in, Value: []byte("b")}, &kgo.Record{Topic: in, Value: []byte("c")})
	sess := session(t, c, "g-commit", in)
	batch := poll(t, sess, 3)
	if lag := c.Lag(t, "g-commit", in); lag != 3 {
		t.Fatalf("lag %d before the batch, want 3", lag)
	}
	aborted, err := kafka.TransactBatch(context.Background(), sess, outputs(out, batch), nil)
	if aborted != nil || err != nil {
		t.Fatalf("TransactBatch: aborted %v, err %v", aborted, err)
	}
	if got := fmt.Sprint(values(c.ReadCommitted(t, out))); got != "[a b c]" {
		t.Errorf("committed outputs %s, want [a b c]", got)
	}
	if lag := c.Lag(t, "g-commit", in); lag != 0 {
		t.Errorf("lag %d after the batch, want 0", lag)
	}
}

// TestTransactBatchAbortsAndRetries: when check fails the batch's records
// are never visible, its offsets stay uncommitted, the session returns the
// same records again, and the retried batch is visible exactly once.
func TestTransactBatchAbortsAndRetries(t *testing.T) {
	c := kafkatest.New(t)
	in, out := c.Config.Topics.IdentityLinks, c.Config.Topics.IdentityMap
	c.Produce(t, &kgo.Record{Topic: in, Value: []byte("a")}, &kgo.Record{Topic: in, Value: []byte("b")})
	sess := session(t, c, "g-abort", in)
	down := errors.New("clickhouse is down")
	aborted, err := kafka.TransactBatch(context.Background(), sess, outputs(out, poll(t, sess, 2)), func() error { return down })
	if err != nil || !errors.Is(aborted, kafka.ErrAborted) || !errors.Is(aborted, down) {
		t.Fatalf("TransactBatch: aborted %v, err %v; want an abort for %v", aborted, err, down)
	}
	if got := c.ReadCommitted(t, out); len(got) != 0 {
		t.Errorf("the aborted batch is visible: %v", values(got))
	}
	if lag := c.Lag(t, "g-abort", in); lag != 2 {
		t.Errorf("lag %d after the abort, want 2", lag)
	}
	again := poll(t, sess, 2)
	if got := fmt.Sprint(values(again)); got != "[a b]" {
		t.Fatalf("polled %s after the abort, want the batch [a b] again", got)
	}
	if aborted, err := kafka.TransactBatch(context.Background(), sess, outputs(out, again), func() error { return nil }); aborted != nil || err != nil {
		t.Fatalf("retry: aborted %v, err %v", aborted, err)
	}
	if got := fmt.Sprint(values(c.ReadCommitted(t, out))); got != "[a b]" {
		t.Errorf("committed outputs %s, want [a b] once", got)
	}
	if lag := c.Lag(t, "g-abort", in); lag != 0 {
		t.Errorf("lag %d after the retry, want 0", lag)
	}
}
