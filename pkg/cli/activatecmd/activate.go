package activatecmd

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/analytics/request"
	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/table"
)

// New returns the activate command, with its check, list and replay
// subcommands, with the shared flags of g.
func New(g *command.Globals) *cobra.Command {
	return command.Service(g, "activate",
		"Run the activation service: segment changes to webhooks exactly once, segment members to hashed audience files", Run,
		newCheckCommand(), newListCommand(g), newReplayCommand(g))
}

func newCheckCommand() *cobra.Command {
	return command.CheckFile("Validate a destinations file against the segments and identity rules beside it; errors name the file, the line and the reason",
		func(w io.Writer, file string) error {
			f, _, err := Load(filepath.Dir(file), "", file)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s: %d destinations OK\n", file, len(f.Destinations))
			return err
		})
}

func newListCommand(g *command.Globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the destinations and, per destination, the changes delivered and dead-lettered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := table.CheckFormat(format); err != nil {
				return err
			}
			return command.WithClickHouse(cmd, g, func(cfg config.Config, conn driver.Conn) error {
				file, _, err := Load(cfg.Pipelines, cfg.Identifiers.Pepper, "")
				if err != nil {
					return err
				}
				summaries, err := activate.NewStore(conn).Summaries(cmd.Context())
				if err != nil {
					return err
				}
				return listResult(file, summaries).Write(cmd.OutOrStdout(), format)
			})
		},
	}
	command.FormatFlag(cmd, &format)
	return cmd
}

// listResult is one row per destination: its kind, segments and counts of
// delivered and dead changes, and the time of the last record.
func listResult(file *activate.File, summaries []activate.Summary) *table.Result {
	res := &table.Result{Columns: []string{"destination", "kind", "segments", "delivered", "dead", "last_recorded"}}
	for _, d := range file.Destinations {
		var delivered, dead uint64
		var last time.Time
		for _, s := range summaries {
			if s.Destination != d.Name {
				continue
			}
			switch s.Status {
			case activate.Delivered:
				delivered = s.Count
			case activate.Dead:
				dead = s.Count
			}
			if s.Last.After(last) {
				last = s.Last
			}
		}
		res.Rows = append(res.Rows, []any{d.Name, d.Kind, fmt.Sprint(d.Segments), delivered, dead, last})
	}
	return res
}

// replayChunk is how many changes replay reads before it sends them.
const replayChunk = 500

func newReplayCommand(g *command.Globals) *cobra.Command {
	var destination, from, to string
	cmd := &cobra.Command{
		Use:   "replay --destination D --from TIME [--to TIME]",
		Short: "Send a webhook destination the changes of a time range again, with their idempotency keys",
		Long: "Reads the changes topic from its start and sends every change whose time is in\n" +
			"[--from, --to) to the destination again, delivered before or not, with the same\n" +
			"idempotency key as its first delivery, so that a receiver that keeps its keys ignores\n" +
			"what it has. Changes of persons erased by `touchline forget` are never sent. Each\n" +
			"delivery is recorded as the service records it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start, err := request.ParseTime(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			end := time.Now()
			if to != "" {
				if end, err = request.ParseTime(to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			return command.WithClickHouse(cmd, g, func(cfg config.Config, conn driver.Conn) error {
				file, rules, err := Load(cfg.Pipelines, cfg.Identifiers.Pepper, "")
				if err != nil {
					return err
				}
				d, err := file.Destination(destination)
				if err != nil {
					return err
				}
				if d.Kind != activate.Webhook {
					return fmt.Errorf("destination %q is an %s: only webhooks are replayed (the next audience export is complete)", d.Name, d.Kind)
				}
				only := *file
				only.Destinations = []activate.Destination{d}
				// No journal: a replay sends again on purpose, and the
				// service's journal is the running service's.
				svc, err := newService(cfg, conn, &only, rules, "", activate.NewMetrics(prometheus.NewRegistry()), zap.NewNop())
				if err != nil {
					return err
				}
				registry, err := kafka.NewRegistry(cfg.Kafka)
				if err != nil {
					return err
				}
				codecs := avro.NewCodecs(registry)
				var changes []activate.Change
				replayed := 0
				ctx := cmd.Context()
				if err := kafka.ReadCommitted(ctx, cfg.Kafka, nil, cfg.Kafka.Topics.SegmentChanges, nil, func(r *kgo.Record) error {
					c, err := activate.DecodeChange(ctx, codecs, r.Value)
					if err != nil {
						return fmt.Errorf("partition %d offset %d: %w", r.Partition, r.Offset, err)
					}
					if c.At.Before(start) || !c.At.Before(end) || !d.Receives(c.Segment) {
						return nil
					}
					if changes = append(changes, c); len(changes) < replayChunk {
						return nil
					}
					replayed += len(changes)
					err = svc.Deliver(ctx, changes, true)
					changes = changes[:0]
					return err
				}); err != nil {
					return err
				}
				replayed += len(changes)
				if err := svc.Deliver(ctx, changes, true); err != nil {
					return err
				}
				if err := svc.Ready(); err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "replayed %d changes of %s to %s\n", replayed, fmt.Sprint(d.Segments), d.Name)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&destination, "destination", "", "the webhook destination to send to")
	cmd.Flags().StringVar(&from, "from", "", "start of the range of change times (RFC 3339 or YYYY-MM-DD), included")
	cmd.Flags().StringVar(&to, "to", "", "end of the range, excluded; default now")
	_ = cmd.MarkFlagRequired("destination")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
