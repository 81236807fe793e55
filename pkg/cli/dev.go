package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/dev"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

func trafficFlags(cmd *cobra.Command, c *generate.Config, events, persons int) {
	cmd.Flags().IntVar(&c.Events, "events", events, "number of touchpoints")
	cmd.Flags().IntVar(&c.Persons, "persons", persons, "number of persons")
	cmd.Flags().IntVar(&c.Days, "days", 30, "days of traffic, ending today")
	cmd.Flags().Int64Var(&c.Seed, "seed", 1, "random seed; the same seed gives the same traffic")
}

func newDevCommand(g *command.Globals) *cobra.Command {
	opts := dev.Options{Generate: true}
	var noGenerate bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "All-in-one: embedded Kafka, every service, local ClickHouse, synthetic traffic, reports, the web UI",
		Long: "Starts an embedded Kafka broker on 127.0.0.1:--kafka-port that outside producers can\n" +
			"use, a local clickhouse-server (or the ClickHouse of --clickhouse-dsn), migrates it,\n" +
			"runs every service in this process, publishes synthetic traffic unless --no-generate,\n" +
			"prints a report once it is queryable, and serves the web UI on ui.listen\n" +
			"(default 127.0.0.1:8070, env TOUCHLINE_UI_LISTEN), whose URL it prints.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("log-format") {
				_ = cmd.Flags().Set("log-format", "console")
			}
			if !cmd.Flags().Changed("log-level") {
				_ = cmd.Flags().Set("log-level", "warn")
			}
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			opts.Generate = !noGenerate
			opts.ExternalClickHouse = cmd.Flags().Changed("clickhouse-dsn") || cmd.Flags().Changed("clickhouse-addr") ||
				os.Getenv("TOUCHLINE_CLICKHOUSE_DSN") != "" || os.Getenv("TOUCHLINE_CLICKHOUSE_ADDR") != ""
			return dev.Run(cmd.Context(), cfg, opts, cmd.OutOrStdout(), log)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.KafkaPort, "kafka-port", 9092, "port of the embedded Kafka broker")
	f.StringVar(&opts.DataDir, "data-dir", ".touchline/dev", "directory of the local ClickHouse server")
	f.BoolVar(&noGenerate, "no-generate", false, "publish no synthetic traffic")
	f.Var(pipefile.NewDurationFlag(&opts.ReportEvery, 5*time.Second), "report-every", "interval of progress lines")
	f.BoolVar(&opts.Once, "once", false, "exit after the synthetic traffic is ingested and reported")
	trafficFlags(cmd, &opts.Traffic, 50000, 2000)
	return cmd
}

func newGenerateCommand(g *command.Globals) *cobra.Command {
	var (
		traffic generate.Config
		out     string
		every   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "generate --events N --persons P --days D --seed S [--out PREFIX]",
		Short: "Publish (or write as JSON lines) deterministic synthetic omnichannel traffic and spend",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			gen, err := generate.New(traffic)
			if err != nil {
				return err
			}
			if out != "" {
				return writeTraffic(gen, out, cmd)
			}
			p, err := publish.Dial(cmd.Context(), cfg.Kafka)
			if err != nil {
				return err
			}
			defer p.Close()
			ctx := cmd.Context()
			report, sent := newProgress(cmd.ErrOrStderr(), every), 0
			n, s, err := p.Generated(ctx, gen, func(*touchpoint.Touchpoint) error {
				sent++
				report.maybe("generate: %d of %d touchpoints handed to Kafka", sent, traffic.Events)
				return nil
			})
			if ferr := flush(ctx, p); ferr != nil || err != nil {
				return errors.Join(err, ferr)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "produced %d touchpoints to %s and %d spend records to %s\n",
				n, cfg.Kafka.Topics.Touchpoints, s, cfg.Kafka.Topics.Spend)
			return nil
		},
	}
	trafficFlags(cmd, &traffic, 10000, 1000)
	cmd.Flags().StringVar(&out, "out", "", "write PREFIX.touchpoints.jsonl and PREFIX.spend.jsonl instead of producing to Kafka")
	progressFlag(cmd, &every)
	return cmd
}

func writeTraffic(gen *generate.Generator, prefix string, cmd *cobra.Command) error {
	write := func(path string, each func(func(any) error) error) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		if err := each(func(rec any) error { return enc.Encode(rec) }); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
		return f.Close()
	}
	if err := write(prefix+".touchpoints.jsonl", func(enc func(any) error) error {
		return gen.Touchpoints(func(t *touchpoint.Touchpoint) error { return enc(t) })
	}); err != nil {
		return err
	}
	return write(prefix+".spend.jsonl", func(enc func(any) error) error {
		return gen.Spend(func(s *touchpoint.Spend) error { return enc(s) })
	})
}
