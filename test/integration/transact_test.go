package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/touchline-io/touchline/pkg/kafka"
)

// TestTransactBatchOnKafka runs kafka.TransactBatch on the real broker: a
// batch whose check fails is aborted, invisible to read_committed readers
// and left uncommitted; the session polls the same records again, and the
// retried batch commits its records and offsets together, once.
func TestTransactBatchOnKafka(t *testing.T) {
	name := uniqueName(t)
	cfg := servers(t).Config(name).Kafka
	log := zaptest.NewLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in, out, group := cfg.Topics.IdentityLinks, cfg.Topics.IdentityMap, name+".transact"
	cl, err := kafka.NewClient(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(ctx, cl, 1, 1, in, out); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: in, Value: []byte("a")}, &kgo.Record{Topic: in, Value: []byte("b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sess, err := kafka.NewGroupTransactSession(cfg, log, kafka.Session{Group: group, Topic: in, TransactionalID: group, Timeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// batch polls the two input records and maps them to the output topic.
	batch := func() []*kgo.Record {
		t.Helper()
		var got []*kgo.Record
		for len(got) < 2 && ctx.Err() == nil {
			got = append(got, sess.PollRecords(ctx, 2-len(got)).Records()...)
		}
		if fmt.Sprint(values(got)) != "[a b]" {
			t.Fatalf("polled %v, want [a b]", values(got))
		}
		return []*kgo.Record{{Topic: out, Value: got[0].Value}, {Topic: out, Value: got[1].Value}}
	}
	// state returns the committed output and the group's lag on in.
	state := func() (string, int64) {
		t.Helper()
		var read []*kgo.Record
		if err := kafka.ReadCommitted(ctx, cfg, log, out, nil, func(r *kgo.Record) error {
			read = append(read, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		lag, err := kafka.GroupLag(ctx, kadm.NewClient(cl), group, in)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(values(read)), lag
	}

	down := errors.New("clickhouse is down")
	aborted, err := kafka.TransactBatch(ctx, sess, batch(), func() error { return down })
	if err != nil || !errors.Is(aborted, kafka.ErrAborted) || !errors.Is(aborted, down) {
		t.Fatalf("aborted %v, err %v; want an abort for %v", aborted, err, down)
	}
	if read, lag := state(); read != "[]" || lag != 2 {
		t.Fatalf("after the abort: output %s, lag %d; want [] and 2", read, lag)
	}
	if aborted, err := kafka.TransactBatch(ctx, sess, batch(), nil); aborted != nil || err != nil {
		t.Fatalf("retry: aborted %v, err %v", aborted, err)
	}
	if read, lag := state(); read != "[a b]" || lag != 0 {
		t.Fatalf("after the retry: output %s, lag %d; want [a b] and 0", read, lag)
	}
}

// values returns the values of rs as strings.
func values(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}
