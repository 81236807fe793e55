package segmentscmd

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/segments"
	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/pkg/table"
)

// New returns the segments command, with its check, list, members and
// person subcommands, with the shared flags of g.
func New(g *command.Globals) *cobra.Command {
	return command.Service(g, "segments",
		"Run the segments service: persons enter and leave segments as their events arrive and timers fire", Run,
		newCheckCommand(), newListCommand(g), newMembersCommand(g), newPersonCommand(g))
}

func newCheckCommand() *cobra.Command {
	return command.CheckFile("Validate segment definitions; errors name the file, the line and the reason", check)
}

// check prints what the definitions of file hold and their costliest
// evaluation, or returns their errors.
func check(w io.Writer, file string) error {
	defs, err := engine.LoadDefinitions(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d segments OK (%d named features, allowed lateness %s)\n",
		file, len(defs.Segments), len(defs.Features), pipefile.FormatDuration(defs.AllowedLateness))
	costliest, cost, total := "", uint64(0), uint64(0)
	for _, s := range defs.Segments {
		total += s.Cost
		if s.Cost > cost {
			costliest, cost = "segment "+s.Name, s.Cost
		}
	}
	for _, f := range defs.Features {
		total += f.Cost
		if f.Cost > cost {
			costliest, cost = "feature "+f.Name, f.Cost
		}
	}
	fmt.Fprintf(w, "costliest evaluation: %s, estimated at %d of max_cost %d; all of a person's: %d\n",
		costliest, cost, defs.MaxCost, total)
	return nil
}

// loadDefinitions reads the definitions of the pipelines directory.
func loadDefinitions(cfg config.Config) (*engine.Definitions, error) {
	return engine.LoadDefinitions(filepath.Join(cfg.Pipelines, engine.DefinitionsFile))
}

// withDefinitions checks the output format, loads the configuration and
// the definitions, and connects to ClickHouse for run.
func withDefinitions(cmd *cobra.Command, g *command.Globals, format string, run func(driver.Conn, *engine.Definitions) error) error {
	if err := table.CheckFormat(format); err != nil {
		return err
	}
	return command.WithClickHouse(cmd, g, func(cfg config.Config, conn driver.Conn) error {
		defs, err := loadDefinitions(cfg)
		if err != nil {
			return err
		}
		return run(conn, defs)
	})
}

func newListCommand(g *command.Globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the segments: name, description, condition and current members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDefinitions(cmd, g, format, func(conn driver.Conn, defs *engine.Definitions) error {
				counts, err := table.Run(cmd.Context(), conn, analytics.SegmentCountsQuery)
				if err != nil {
					return err
				}
				members := map[string]uint64{}
				for _, row := range counts.Rows {
					members[row[0].(string)] = row[1].(uint64)
				}
				res := &table.Result{Columns: []string{"segment", "members", "description", "condition"}}
				for _, s := range defs.Segments {
					res.Rows = append(res.Rows, []any{s.Name, members[s.Name], s.Description, s.When})
				}
				return res.Write(cmd.OutOrStdout(), format)
			})
		},
	}
	command.FormatFlag(cmd, &format)
	return cmd
}

func newMembersCommand(g *command.Globals) *cobra.Command {
	var format string
	var limit int
	cmd := &cobra.Command{
		Use:   "members <segment> [--limit N]",
		Short: "List the current members of a segment, the person each resolves to now, and since when",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDefinitions(cmd, g, format, func(conn driver.Conn, defs *engine.Definitions) error {
				if defs.Segment(args[0]) == nil {
					return fmt.Errorf("no segment %q in %s: want one of %v", args[0], engine.DefinitionsFile, defs.Names())
				}
				sql, err := analytics.SegmentMembersQuery{Segment: args[0], Limit: limit}.SQL()
				if err != nil {
					return fmt.Errorf("--limit: %w", err)
				}
				res, err := table.Run(cmd.Context(), conn, sql)
				if err != nil {
					return err
				}
				return res.Write(cmd.OutOrStdout(), format)
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many members (0: all; at most 100000)")
	command.FormatFlag(cmd, &format)
	return cmd
}

func newPersonCommand(g *command.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "person <type>:<value>",
		Short: "Show the segments of an identifier's person and its current feature values",
		Long: "Normalises and hashes the value as ingest does, finds its person in the identity map\n" +
			"(ClickHouse), and prints the person's segments and the value of every feature the\n" +
			"definitions use, as of its partition's watermark, from the segments changelog (Kafka).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return command.WithIdentifier(cmd, g, args[0], func(cfg config.Config, conn driver.Conn, id identifiers.Identifier) error {
				defs, err := loadDefinitions(cfg)
				if err != nil {
					return err
				}
				person := stitch.SingletonID(id)
				if known, err := identity.Describe(cmd.Context(), conn, id); err == nil && known != nil && known.PersonID != "" {
					person = known.PersonID
				}
				state, err := segments.DescribePerson(cmd.Context(), cfg.Kafka, cfg.Segments.Partitions, defs, person)
				if err != nil {
					return err
				}
				return printPerson(cmd, state)
			})
		},
	}
	return cmd
}

// printPerson prints p as tables: the person, the time its state is as of
// and its segments, then the value of every feature.
func printPerson(cmd *cobra.Command, p *segments.PersonState) error {
	if !p.Known {
		return table.WriteTables(cmd.OutOrStdout(), &table.Result{Columns: []string{"person", "state"},
			Rows: [][]any{{p.Person, "none (no events of this person in the segments service's windows)"}}})
	}
	person := &table.Result{Columns: []string{"person", "as of (the partition's watermark)", "segments"},
		Rows: [][]any{{p.Person, p.AsOf, strings.Join(p.Segments, ", ")}}}
	features := &table.Result{Columns: []string{"feature", "value"}}
	for _, k := range slices.Sorted(maps.Keys(p.Features)) {
		features.Rows = append(features.Rows, []any{k, p.Features[k]})
	}
	return table.WriteTables(cmd.OutOrStdout(), person, features)
}
