package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

func newMigrateCommand(g *command.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade touchline's ClickHouse tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			applied, err := clickhouse.Migrate(cmd.Context(), cfg.ClickHouse, log)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "database %s is up to date\n", cfg.ClickHouse.Database)
			}
			for _, m := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %s\n", m)
			}
			return nil
		},
	}
}

func newProduceCommand(g *command.Globals) *cobra.Command {
	var (
		file, kind string
		every      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "produce --file F.jsonl [--kind touchpoint|spend]",
		Short: "Publish JSON lines as Avro records; bad lines are reported and skipped",
		Long: "Reads one JSON record per line (see docs/records.md), validates it as the ingest\n" +
			"service does (its pipelines and identity rules), encodes it as Avro in the Confluent\n" +
			"wire format and produces it. A bad line is reported with its line number and reason\n" +
			"on standard error and the good lines still go, all of them acknowledged before the\n" +
			"command exits; the exit status is 1 when any line was bad.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := publish.CheckKind(publish.Kind(kind)); err != nil {
				return fmt.Errorf("--kind: %w", err)
			}
			cfg, _, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			proc, err := app.NewIngestProcessor(cfg)
			if err != nil {
				return fmt.Errorf("loading ingest's validation: %w", err)
			}
			in := os.Stdin
			if file != "-" {
				if in, err = os.Open(file); err != nil {
					return err
				}
				defer in.Close()
			}
			ctx := cmd.Context()
			p, err := publish.Dial(ctx, cfg.Kafka)
			if err != nil {
				return err
			}
			defer p.Close()
			good, bad := 0, 0
			report := newProgress(cmd.ErrOrStderr(), every)
			readErr := publish.ReadJSONL(in, publish.Kind(kind), func(rec any) error { return ingestCheck(proc, rec) },
				func(rec any) error {
					if err := ctx.Err(); err != nil { // interrupted: stop reading, deliver what was read
						return err
					}
					if err := p.Record(ctx, rec); err != nil {
						return err
					}
					good++
					report.maybe("produce: %d records handed to Kafka, %d lines rejected", good, bad)
					return nil
				}, func(e *publish.LineError) {
					bad++
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", file, e)
				})
			if err := flush(ctx, p); err != nil {
				return errors.Join(readErr, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "produced %d %s records, rejected %d lines\n", good, kind, bad)
			if readErr != nil {
				return fmt.Errorf("%s: %w", file, readErr)
			}
			if bad > 0 {
				return fmt.Errorf("%d bad lines in %s", bad, file)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "-", "JSON-lines file, - for standard input")
	cmd.Flags().StringVar(&kind, "kind", string(publish.KindTouchpoint), "record kind: touchpoint or spend")
	progressFlag(cmd, &every)
	return cmd
}

// ingestCheck validates a decoded touchpoint or spend record with the
// ingest service's own code, so that what produce accepts ingest accepts.
func ingestCheck(proc *enrich.Processor, rec any) error {
	var rej *enrich.Rejection
	switch r := rec.(type) {
	case *touchpoint.Touchpoint:
		rej = proc.Check(r, time.Now())
	case *touchpoint.Spend:
		_, rej = proc.SpendRow(r)
	}
	if rej != nil {
		return rejection(rej)
	}
	return nil
}

// flush waits for the acknowledgement of every record handed to p, for at
// most publish.DeliveryTimeout, even when ctx was cancelled (by SIGINT): the
// records read before are still delivered.
func flush(ctx context.Context, p *publish.Publisher) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publish.DeliveryTimeout)
	defer cancel()
	return p.Flush(ctx)
}

// progress prints a line at most once per interval, for long runs.
type progress struct {
	w     io.Writer
	every time.Duration
	next  time.Time
}

// newProgress returns a progress printing to w every interval; zero turns it
// off.
func newProgress(w io.Writer, every time.Duration) *progress {
	return &progress{w: w, every: every, next: time.Now().Add(every)}
}

// maybe prints the line of format and args when the interval has passed
// since the last one.
func (p *progress) maybe(format string, args ...any) {
	if p.every <= 0 || time.Now().Before(p.next) {
		return
	}
	p.next = time.Now().Add(p.every)
	fmt.Fprintf(p.w, format+"\n", args...)
}

// progressFlag registers --progress, the interval of progress lines.
func progressFlag(cmd *cobra.Command, every *time.Duration) {
	cmd.Flags().Var(pipefile.NewDurationFlag(every, 5*time.Second), "progress", "interval of progress lines on standard error on long runs, 0 for none")
}
