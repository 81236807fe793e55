package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/analytics/request"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/table"
)

// newAnalysisCommand returns the query subcommand of an analysis: its
// parameters as flags, plus --format and --sql.
func newAnalysisCommand(g *command.Globals, a request.Analysis) *cobra.Command {
	var (
		format   string
		printSQL bool
	)
	cmd := &cobra.Command{
		Use:   a.Use,
		Short: a.Short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := table.CheckFormat(format); err != nil {
				return err
			}
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			plan, err := analysisPlan(cmd, cfg, a)
			if err != nil {
				return err
			}
			if printSQL {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), plan.SQL+";")
				return err
			}
			conn, err := clickhouse.Open(cmd.Context(), cfg.ClickHouse, log)
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := table.Run(cmd.Context(), conn, plan.SQL)
			if err == nil && plan.Finish != nil {
				res, err = plan.Finish(res)
			}
			if err != nil {
				return err
			}
			return res.Write(cmd.OutOrStdout(), format)
		},
	}
	if a.Long != "" {
		cmd.Long = a.Short + ".\n" + a.Long
	}
	fl := cmd.Flags()
	for _, p := range a.Params {
		switch p.Kind {
		case request.Bool:
			fl.Bool(p.Name, p.Default == "true", p.Usage)
		case request.Int:
			n, _ := strconv.Atoi(p.Default)
			fl.Int(p.Name, n, p.Usage)
		default:
			fl.String(p.Name, p.Default, p.Usage)
		}
		if p.Required {
			_ = cmd.MarkFlagRequired(p.Name)
		}
	}
	command.FormatFlag(cmd, &format)
	fl.BoolVar(&printSQL, "sql", false, "print the SQL instead of running it")
	return cmd
}

// analysisPlan returns the plan of analysis a for the flags of cmd, with
// the attribution settings of the pipelines directory of cfg and, for an
// analysis that uses them only, its funnel stages: a bad stages file fails
// the stages query alone.
func analysisPlan(cmd *cobra.Command, cfg config.Config, a request.Analysis) (request.Plan, error) {
	attribution, err := analytics.LoadAttribution(filepath.Join(cfg.Pipelines, analytics.AttributionFile))
	if err != nil {
		return request.Plan{}, err
	}
	var stages analytics.Stages
	if a.UsesStages {
		if stages, err = analytics.LoadStages(filepath.Join(cfg.Pipelines, analytics.StagesFile)); err != nil {
			return request.Plan{}, err
		}
	}
	values := request.Values{}
	for _, p := range a.Params {
		values[p.Name] = cmd.Flags().Lookup(p.Name).Value.String()
	}
	return a.Plan(values, request.Env{Now: time.Now(), Attribution: attribution, Stages: stages, Prefix: "--", Identify: command.Identify(cfg)})
}

func newQueryCommand(g *command.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Run an analysis on ClickHouse: overview, funnel, attribution, romi, paths, cohort, kpis, stages, alerts, segments and persons",
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
	for _, a := range request.Analyses() {
		cmd.AddCommand(newAnalysisCommand(g, a))
	}
	cmd.AddCommand(newAlertRulesCommand(g))
	return cmd
}

// newAlertRulesCommand returns `query alert-rules`: the rules of alerts.yaml
// in the pipelines directory as the web UI's /api/alert-rules lists them.
// It reads the file, not ClickHouse, so it has no SQL.
func newAlertRulesCommand(g *command.Globals) *cobra.Command {
	var (
		format   string
		printSQL bool
	)
	cmd := &cobra.Command{
		Use:   "alert-rules",
		Short: "The alert rules of alerts.yaml: KPI, scope, filters, windows, condition, severity and line of each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := table.CheckFormat(format); err != nil {
				return err
			}
			if printSQL {
				return fmt.Errorf("alert-rules has no SQL: the rules are read from %s in the pipelines directory", rules.RulesFile)
			}
			cfg, _, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			set, err := rules.LoadRules(filepath.Join(cfg.Pipelines, rules.RulesFile))
			if err != nil {
				return err
			}
			return rules.RuleRows(set).Write(cmd.OutOrStdout(), format)
		},
	}
	command.FormatFlag(cmd, &format)
	cmd.Flags().BoolVar(&printSQL, "sql", false, "refused: the rules are read from a file, not queried")
	return cmd
}
