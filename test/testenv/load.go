package testenv

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

const (
	// loadBatchRows is the number of touchpoint rows of one insert.
	loadBatchRows = 100_000
	// loadInserters is the number of batches inserted concurrently.
	loadInserters = 2
	// mergeWait bounds waiting for the background merges after a load.
	mergeWait = 2 * time.Minute
)

// LoadGenerated streams the touchpoints of gen through the ingest processor
// proc into batches of 100,000 rows, inserted by two goroutines into the
// database of conn, then inserts the generated spend, converted by proc too.
// At most four batches are in memory at once. It returns the numbers of
// touchpoint and spend rows inserted.
func LoadGenerated(ctx context.Context, conn driver.Conn, proc *enrich.Processor, gen *generate.Generator) (touchpoints, spend int, err error) {
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []clickhouse.TouchpointRow)
	for range loadInserters {
		g.Go(func() error {
			for b := range batches {
				if err := clickhouse.InsertTouchpoints(gctx, conn, b); err != nil {
					return fmt.Errorf("inserting %d generated touchpoints: %w", len(b), err)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(batches)
		rows := make([]clickhouse.TouchpointRow, 0, loadBatchRows)
		send := func() error {
			select {
			case batches <- rows:
			case <-gctx.Done():
				return gctx.Err()
			}
			rows = make([]clickhouse.TouchpointRow, 0, loadBatchRows)
			return nil
		}
		if err := gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
			tp, rej := proc.TouchpointRow(t)
			if rej != nil {
				return fmt.Errorf("generated touchpoint %s rejected (%s): %v", t.EventID, rej.Reason, rej.Err)
			}
			rows = append(rows, tp.Row)
			if touchpoints++; len(rows) == loadBatchRows {
				return send()
			}
			return nil
		}); err != nil {
			return err
		}
		if len(rows) > 0 {
			return send()
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return touchpoints, 0, err
	}
	rows, err := spendRows(ctx, proc, gen)
	if err != nil {
		return touchpoints, 0, err
	}
	if err := clickhouse.InsertSpend(ctx, conn, rows); err != nil {
		return touchpoints, 0, fmt.Errorf("inserting %d generated spend rows: %w", len(rows), err)
	}
	return touchpoints, len(rows), nil
}

// spendRows converts the generated spend to rows with the ingest processor.
// The processor takes Kafka records, so each spend record is Avro-encoded
// as the publisher would and given increasing offsets, which gives
// restatements higher versions than the records they correct.
func spendRows(ctx context.Context, proc *enrich.Processor, gen *generate.Generator) ([]clickhouse.SpendRow, error) {
	reg, err := avro.NewStaticRegistry()
	if err != nil {
		return nil, err
	}
	codecs := avro.NewCodecs(reg)
	id := avro.Latest(avro.KindSpend).ID
	now := time.Now()
	var rows []clickhouse.SpendRow
	err = gen.Spend(func(s *touchpoint.Spend) error {
		b, err := codecs.Encode(ctx, id, s.ToAvro())
		if err != nil {
			return fmt.Errorf("spend %s: %w", s.Key(), err)
		}
		row, rej, err := proc.Spend(ctx, &kgo.Record{Value: b, Timestamp: now, Offset: int64(len(rows))})
		if err != nil {
			return err
		}
		if rej != nil {
			return fmt.Errorf("generated spend %s rejected (%s): %v", s.Key(), rej.Reason, rej.Err)
		}
		rows = append(rows, *row)
		return nil
	})
	return rows, err
}

// Settle waits up to two minutes until no merge runs in database and
// returns a line that says how long that took and how many active parts
// touchpoints has. Nothing is optimised: queries then see the table as
// ingest leaves it.
func Settle(ctx context.Context, conn driver.Conn, database string) (string, error) {
	start := time.Now()
	var merges uint64
	for {
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = ?", database).Scan(&merges); err != nil {
			return "", fmt.Errorf("counting the merges of %s: %w", database, err)
		}
		if merges == 0 || time.Since(start) > mergeWait {
			break
		}
		time.Sleep(time.Second)
	}
	var parts uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 'touchpoints' AND active",
		database).Scan(&parts); err != nil {
		return "", fmt.Errorf("counting the parts of %s.touchpoints: %w", database, err)
	}
	state := "no merge running"
	if merges > 0 {
		state = fmt.Sprintf("%d merges still running", merges)
	}
	return fmt.Sprintf("waited %s for background merges (%s); touchpoints has %d active parts",
		time.Since(start).Round(time.Second), state, parts), nil
}

// FormatDuration rounds d for a benchmark's table: to 0.1 ms under 10 ms,
// to the millisecond under a second, else to 10 ms.
func FormatDuration(d time.Duration) string {
	if d < 10*time.Millisecond {
		return d.Round(100 * time.Microsecond).String()
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
