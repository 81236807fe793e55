package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/table"
)

// queryFlags are the flags every analysis shares.
type queryFlags struct {
	from, to, format string
	printSQL         bool
}

func (f *queryFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "start of the range, inclusive: RFC 3339 time or YYYY-MM-DD, UTC (default: 30 days before --to)")
	fl.StringVar(&f.to, "to", "", "end of the range, exclusive: RFC 3339 time or YYYY-MM-DD, UTC (default: the next UTC midnight)")
	command.FormatFlag(cmd, &f.format)
	fl.BoolVar(&f.printSQL, "sql", false, "print the SQL instead of running it")
}

// queryRange returns the flags' range; now gives the defaults.
func (f *queryFlags) queryRange(now time.Time) (analytics.Range, error) {
	var r analytics.Range
	var err error
	r.To = now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	if f.to != "" {
		if r.To, err = command.ParseTime(f.to); err != nil {
			return r, fmt.Errorf("--to: %w", err)
		}
	}
	r.From = r.To.AddDate(0, 0, -30)
	if f.from != "" {
		if r.From, err = command.ParseTime(f.from); err != nil {
			return r, fmt.Errorf("--from: %w", err)
		}
	}
	return r, r.Validate()
}

// sqlBuilder returns the SQL of an analysis over a range.
type sqlBuilder func(config.Config, analytics.Range) (string, error)

// command returns a query subcommand with the shared flags that runs the
// SQL sql builds.
func (f *queryFlags) command(g *command.Globals, use, short string, sql sqlBuilder) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, g, sql)
		},
	}
	f.register(cmd)
	return cmd
}

// run prints the SQL that sql builds from the configuration, or runs it on ClickHouse and prints the result.
func (f *queryFlags) run(cmd *cobra.Command, g *command.Globals, sql sqlBuilder) error {
	if err := table.CheckFormat(f.format); err != nil {
		return err
	}
	r, err := f.queryRange(time.Now())
	if err != nil {
		return err
	}
	cfg, log, err := g.Setup(cmd)
	if err != nil {
		return err
	}
	q, err := sql(cfg, r)
	if err != nil {
		return err
	}
	if f.printSQL {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), q+";")
		return err
	}
	conn, err := clickhouse.Open(cmd.Context(), cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := table.Run(cmd.Context(), conn, q)
	if err != nil {
		return err
	}
	return res.Write(cmd.OutOrStdout(), f.format)
}

func newQueryCommand(g *command.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Run an analysis on ClickHouse: funnel, attribution, romi or cohort",
		Long: "Runs one of touchline's analyses over the half-open UTC range [--from, --to)\n" +
			"and prints the result as a table, CSV or JSON; --sql prints the SQL instead.\n" +
			"The exact semantics are those of docs/analytics.md.",
		Args:                       cobra.ArbitraryArgs,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			names := make([]string, 0, len(cmd.Commands()))
			for _, c := range cmd.Commands() {
				names = append(names, c.Name())
			}
			want := strings.Join(names, ", ")
			if len(args) == 0 {
				return fmt.Errorf("query: name an analysis: %s", want)
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				want = strings.Join(s, " or ")
			}
			return fmt.Errorf("query: unknown analysis %q: want %s", args[0], want)
		},
	}
	cmd.AddCommand(newFunnelCommand(g), newAttributionCommand(g, false), newAttributionCommand(g, true), newCohortCommand(g))
	return cmd
}

func newFunnelCommand(g *command.Globals) *cobra.Command {
	var (
		qf                       queryFlags
		steps, window, breakdown string
	)
	cmd := qf.command(g, "funnel --steps a,b[k=v],c [--window 24h] [--breakdown channel]",
		"Persons reaching each step of an ordered funnel within a window",
		func(_ config.Config, r analytics.Range) (string, error) {
			s, err := analytics.ParseSteps(steps)
			if err != nil {
				return "", fmt.Errorf("--steps: %w", err)
			}
			w, err := pipefile.ParseDuration(window)
			if err != nil {
				return "", fmt.Errorf("--window: %w", err)
			}
			return analytics.FunnelQuery{Range: r, Steps: s, Window: w, Breakdown: breakdown}.SQL()
		})
	cmd.Flags().StringVar(&steps, "steps", "", "steps in order: event types, each with optional [name=value;...] filters (required)")
	cmd.Flags().StringVar(&window, "window", "24h", "conversion window from step 1 (e.g. 30m, 24h, 7d)")
	cmd.Flags().StringVar(&breakdown, "breakdown", "", "split by a field of the step-1 event: channel, campaign, device_type, country, ...")
	_ = cmd.MarkFlagRequired("steps")
	return cmd
}

// newAttributionCommand returns `query attribution`, or `query romi` when
// romi is set: both attribute conversions with the same settings.
func newAttributionCommand(g *command.Globals, romi bool) *cobra.Command {
	var (
		qf                        queryFlags
		model, lookback, halfLife string
		byCampaign                bool
	)
	use, short := "attribution", "Revenue and conversions credited to channels by a multi-touch model"
	if romi {
		use, short = "romi", "Attributed revenue against spend per channel: ROAS, ROMI and CPA"
	}
	cmd := qf.command(g, use+" [--model M] [--lookback 30d] [--half-life 7d] [--by-campaign]", short,
		func(cfg config.Config, r analytics.Range) (string, error) {
			a, err := attributionSettings(cfg, model, lookback, halfLife)
			if err != nil {
				return "", err
			}
			if romi {
				return analytics.ROMIQuery{Range: r, Attribution: a, ByCampaign: byCampaign}.SQL()
			}
			return analytics.AttributionQuery{Range: r, Attribution: a, ByCampaign: byCampaign}.SQL()
		})
	cmd.Long = short + ".\nDefaults come from " + analytics.AttributionFile + " in the pipelines directory;\n" +
		"the flags override them. Models: first_touch, last_touch, last_non_direct, linear,\n" +
		"position_based, time_decay."
	fl := cmd.Flags()
	fl.StringVar(&model, "model", "", "attribution model (default from "+analytics.AttributionFile+")")
	fl.StringVar(&lookback, "lookback", "", "how far before a conversion a touch counts, e.g. 30d")
	fl.StringVar(&halfLife, "half-life", "", "half-life of the time_decay model, e.g. 7d")
	fl.BoolVar(&byCampaign, "by-campaign", false, "split by campaign within each channel")
	return cmd
}

// attributionSettings loads the pipelines' attribution settings and applies
// the flags that were given.
func attributionSettings(cfg config.Config, model, lookback, halfLife string) (analytics.Attribution, error) {
	a, err := analytics.LoadAttribution(filepath.Join(cfg.Pipelines, analytics.AttributionFile))
	if err != nil {
		return a, err
	}
	if model != "" {
		if a.Model, err = analytics.ParseModel(model); err != nil {
			return a, fmt.Errorf("--model: %w", err)
		}
	}
	if lookback != "" {
		if a.Lookback, err = pipefile.ParseDuration(lookback); err != nil {
			return a, fmt.Errorf("--lookback: %w", err)
		}
	}
	if halfLife != "" {
		if a.HalfLife, err = pipefile.ParseDuration(halfLife); err != nil {
			return a, fmt.Errorf("--half-life: %w", err)
		}
	}
	return a, nil
}

func newCohortCommand(g *command.Globals) *cobra.Command {
	var (
		qf                   queryFlags
		period, by, activity string
		periods              int
		byChannel            bool
	)
	cmd := qf.command(g, "cohort [--period day|week|month] [--periods 6] [--by first_purchase|first_seen] [--activity purchase|any] [--by-channel]",
		"Retention and revenue per person of cohorts, period by period",
		func(cfg config.Config, r analytics.Range) (string, error) {
			a, err := attributionSettings(cfg, "", "", "")
			if err != nil {
				return "", err
			}
			return analytics.CohortQuery{Range: r, Period: analytics.Period(period), Periods: periods, By: by,
				Activity: activity, ByChannel: byChannel, PurchaseType: a.ConversionType}.SQL()
		})
	fl := cmd.Flags()
	fl.StringVar(&period, "period", "month", "cohort and activity period: day, week (from Monday) or month, UTC")
	fl.IntVar(&periods, "periods", 6, "how many periods (0 .. periods-1) to report")
	fl.StringVar(&by, "by", analytics.FirstPurchase, "what places a person in a cohort: first_purchase or first_seen")
	fl.StringVar(&activity, "activity", analytics.PurchaseActivity, "what makes a member active in a period: purchase or any (event)")
	fl.BoolVar(&byChannel, "by-channel", false, "split cohorts by the channel of the event that placed the person")
	return cmd
}
