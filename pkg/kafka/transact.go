package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrAborted reports a batch whose transaction was aborted: TransactBatch's
// aborted result wraps it.
var ErrAborted = errors.New("transaction aborted")

// TransactBatch commits the batch sess polled last, exactly once: in one
// transaction it produces records and commits the offsets of the polled
// records. The transaction commits only if every record was produced, check
// (when not nil; called once the records are produced, while the
// transaction is open) returns nil, and the group did not rebalance since
// the poll. Otherwise it aborts, and sess rewinds to the last committed
// offsets, so that the next poll returns the batch again: an aborted batch
// is retried by processing it again, and a read_committed consumer never
// sees its records.
//
// TransactBatch returns nil and nil when the batch committed; aborted,
// wrapping ErrAborted and the reason (a failed produce, check's error, or
// none for a rebalance), when it aborted; and err when the transaction could
// not begin or end, which no retry fixes (the instance was fenced by a newer
// one, or ctx ended to shut down).
func TransactBatch(ctx context.Context, sess *kgo.GroupTransactSession, records []*kgo.Record, check func() error) (aborted, err error) {
	if err := sess.Begin(); err != nil {
		return nil, fmt.Errorf("beginning a transaction: %w", err)
	}
	reason := sess.ProduceSync(ctx, records...).FirstErr()
	if reason == nil && check != nil {
		reason = check()
	}
	committed, err := sess.End(ctx, kgo.TransactionEndTry(reason == nil))
	if err != nil {
		return nil, fmt.Errorf("ending the transaction: %w", errors.Join(err, reason))
	}
	switch {
	case committed:
		return nil, nil
	case reason != nil:
		return fmt.Errorf("%w: %w", ErrAborted, reason), nil
	default:
		return fmt.Errorf("%w: the group rebalanced during the batch", ErrAborted), nil
	}
}
