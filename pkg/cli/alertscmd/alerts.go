package alertscmd

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics/request"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/table"
)

// New returns the alerts command, with its check, eval and list
// subcommands, with the shared flags of g.
func New(g *command.Globals) *cobra.Command {
	return command.Service(g, "alerts",
		"Run the alerts service: KPI rules evaluated against ClickHouse, notifications to webhooks, Kafka and Prometheus", Run,
		newCheckCommand(), newEvalCommand(g), newListCommand(g))
}

func newCheckCommand() *cobra.Command {
	return command.CheckFile("Validate an alert rules file; errors name the file, the line and the reason",
		func(w io.Writer, file string) error {
			set, err := rules.LoadRulesFile(file)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s: %d rules OK\n", file, len(set.Rules))
			return err
		})
}

func newEvalCommand(g *command.Globals) *cobra.Command {
	var at, format, rulesFile string
	cmd := &cobra.Command{
		Use:   "eval [--at TIME] [--rules FILE]",
		Short: "Dry run: evaluate every rule at a time and show its values, states and what would be sent",
		Long: "Evaluates every rule against ClickHouse as the alerts service would at --at (default\n" +
			"now), starting from the stored alert states, and prints one row per rule and group:\n" +
			"the value, its volume and reference, whether the condition holds, the state before\n" +
			"and after, and the notification that would be sent. Nothing is stored or sent.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := table.CheckFormat(format); err != nil {
				return err
			}
			when := time.Now()
			if at != "" {
				var err error
				if when, err = request.ParseTime(at); err != nil {
					return fmt.Errorf("--at: %w", err)
				}
			}
			return command.WithClickHouse(cmd, g, func(cfg config.Config, conn driver.Conn) error {
				path := rulesFile
				if path == "" {
					path = filepath.Join(cfg.Pipelines, rules.RulesFile)
				}
				set, err := rules.LoadRulesFile(path)
				if err != nil {
					return err
				}
				engine, err := NewEngine(cmd.Context(), cfg, conn, set, nil, alerts.NewMetrics(prometheus.NewRegistry()), nil)
				if err != nil {
					return err
				}
				outcomes, err := engine.Plan(cmd.Context(), when, set.Rules)
				if err != nil {
					return err
				}
				return alerts.OutcomesResult(outcomes).Write(cmd.OutOrStdout(), format)
			})
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "evaluation time (RFC 3339 or YYYY-MM-DD); default now")
	cmd.Flags().StringVar(&rulesFile, "rules", "", "rules file; default alerts.yaml of the pipelines directory")
	command.FormatFlag(cmd, &format)
	return cmd
}

func newListCommand(g *command.Globals) *cobra.Command {
	var format string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "List the current incidents (pending and firing), or with --all every stored state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := table.CheckFormat(format); err != nil {
				return err
			}
			return command.WithClickHouse(cmd, g, func(_ config.Config, conn driver.Conn) error {
				states, err := alerts.NewStore(conn).States(cmd.Context())
				if err != nil {
					return err
				}
				return alerts.StatesResult(states, all).Write(cmd.OutOrStdout(), format)
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list rules and groups that are ok")
	command.FormatFlag(cmd, &format)
	return cmd
}
