package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/rates"
)

func newRatesCommand(g *command.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rates",
		Short: "Exchange rates: load published rates into the exchange rates topic",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newRatesLoadCommand(g))
	return cmd
}

func newRatesLoadCommand(g *command.Globals) *cobra.Command {
	var file, source string
	cmd := &cobra.Command{
		Use:   "load --file F.csv [--source ecb]",
		Short: "Publish the exchange rates of a CSV file; bad lines are reported and skipped",
		Long: "Reads a CSV file of exchange rates in one of two shapes (docs/analytics.md):\n" +
			"the European Central Bank's reference rates (\"Date\" and one column per\n" +
			"currency, units per euro; N/A or empty means no rate that day), or one rate per\n" +
			"line with the columns date, base, quote, rate and optionally source. Each rate is\n" +
			"checked as the ingest service checks it and published as an ExchangeRate record\n" +
			"keyed by date|base|quote, so loading a corrected file restates the rates it\n" +
			"holds (the topic is created first when kafka.create_topics allows it).\n" +
			"A bad line is reported with its line number and reason on standard error\n" +
			"and none of its rates go; the good lines still go, all of them acknowledged\n" +
			"before the command exits; the exit status is 1 when any line was bad.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			proc, err := app.NewIngestProcessor(cfg)
			if err != nil {
				return fmt.Errorf("loading ingest's validation: %w", err)
			}
			in, err := os.Open(file)
			if err != nil {
				return err
			}
			defer in.Close()
			ctx := cmd.Context()
			if err := app.PrepareTopics(ctx, cfg, log, cfg.Kafka.Topics.Rates()); err != nil {
				return err
			}
			p, err := publish.Dial(ctx, cfg.Kafka)
			if err != nil {
				return err
			}
			defer p.Close()
			good, bad := 0, 0
			check := func(r *rates.ExchangeRate) error {
				if _, rej := proc.ExchangeRateRow(r); rej != nil {
					return rejection(rej)
				}
				return nil
			}
			readErr := rates.ReadCSV(in, source, check, func(r *rates.ExchangeRate) error {
				if err := ctx.Err(); err != nil { // interrupted: stop reading, deliver what was read
					return err
				}
				good++
				return p.ExchangeRate(ctx, r)
			}, func(line int, err error) {
				bad++
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: line %d: %v\n", file, line, err)
			})
			if err := flush(ctx, p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published %d exchange rates to %s, rejected %d lines\n", good, cfg.Kafka.Topics.Rates(), bad)
			if readErr != nil {
				return fmt.Errorf("%s: %w", file, readErr)
			}
			if bad > 0 {
				return fmt.Errorf("%d bad lines in %s", bad, file)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "CSV file of exchange rates")
	cmd.Flags().StringVar(&source, "source", "ecb", "source of the rates, for lines that do not name theirs")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// rejection formats a refusal of the ingest service's checks as its error
// and reason.
func rejection(rej *enrich.Rejection) error {
	return fmt.Errorf("%w (%s)", rej.Err, rej.Reason)
}
