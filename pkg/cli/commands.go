package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/publish"
)

func newMigrateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade touchline's ClickHouse tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.setup(cmd)
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

func newIngestCommand(g *globals) *cobra.Command {
	return newServiceCommand(g, "ingest", "Run the ingest service: Kafka touchpoints and spend into ClickHouse", app.RunIngest)
}

func newIdentityCommand(g *globals) *cobra.Command {
	cmd := newServiceCommand(g, "identity",
		"Run the identity resolver: link requests into the identity map, merges into ClickHouse", app.RunIdentity)
	cmd.AddCommand(newIdentityShowCommand(g))
	return cmd
}

// newServiceCommand returns the command that runs a service until SIGINT
// or SIGTERM.
func newServiceCommand(g *globals, use, short string, run func(context.Context, config.Config, *prometheus.Registry, *zap.Logger) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.setup(cmd)
			if err != nil {
				return err
			}
			defer log.Sync() //nolint:errcheck // stderr sync errors are meaningless
			log.Info("starting "+use, zap.String("version", Build().String()))
			return run(cmd.Context(), cfg, app.NewRegistry(), log)
		},
	}
}

func newProduceCommand(g *globals) *cobra.Command {
	var file, kind string
	cmd := &cobra.Command{
		Use:   "produce --file F.jsonl [--kind touchpoint|spend]",
		Short: "Publish JSON lines as Avro records; bad lines are reported and skipped",
		Long: "Reads one JSON record per line (see docs/records.md), encodes it as Avro in the\n" +
			"Confluent wire format and produces it. A bad line is reported with its line number\n" +
			"and reason on standard error and the good lines still go; the exit status is 1\n" +
			"when any line was bad.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.setup(cmd)
			if err != nil {
				return err
			}
			in := os.Stdin
			if file != "-" {
				if in, err = os.Open(file); err != nil {
					return err
				}
				defer in.Close()
			}
			p, err := publish.Dial(cmd.Context(), cfg.Kafka)
			if err != nil {
				return err
			}
			defer p.Close()
			ctx := cmd.Context()
			good, bad := 0, 0
			err = publish.ReadJSONL(in, publish.Kind(kind), cfg.Ingest.Limits, func(rec any) error {
				good++
				return p.Record(ctx, rec)
			}, func(e *publish.LineError) {
				bad++
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", file, e)
			})
			if err != nil {
				return err
			}
			if err := p.Flush(ctx); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "produced %d %s records, rejected %d lines\n", good, kind, bad)
			if bad > 0 {
				return fmt.Errorf("%d bad lines in %s", bad, file)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "-", "JSON-lines file, - for standard input")
	cmd.Flags().StringVar(&kind, "kind", string(publish.KindTouchpoint), "record kind: touchpoint or spend")
	return cmd
}
