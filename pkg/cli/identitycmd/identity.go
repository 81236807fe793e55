package identitycmd

import (
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/table"
)

// New returns the identity command, with its show subcommand, with the
// shared flags of g.
func New(g *command.Globals) *cobra.Command {
	return command.Service(g, "identity",
		"Run the identity resolver: link requests into the identity map, merges into ClickHouse", Run,
		newShowCommand(g))
}

func newShowCommand(g *command.Globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show <type>:<value>",
		Short: "Show the person of an identifier: its identifiers, merges and refused links",
		Long: "Normalises and hashes the value as ingest does (identity rules of the pipelines\n" +
			"directory, identifiers.pepper), then prints what ClickHouse records of its person.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("unknown format %q: want text or json", format)
			}
			return command.WithIdentifier(cmd, g, args[0], func(_ config.Config, conn driver.Conn, id identifiers.Identifier) error {
				p, err := identity.Describe(cmd.Context(), conn, id)
				if err != nil {
					return err
				}
				if format == "json" {
					return command.PrintJSON(cmd, p)
				}
				return printPerson(cmd, p)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// printPerson prints p as tables: the person, its identifiers, its merges
// and its refused links. Identifier values and request ids come from
// producers; the tables escape them, so that each stays on its line.
func printPerson(cmd *cobra.Command, p *identity.Person) error {
	person := &table.Result{Columns: []string{"person", "first seen"}, Rows: [][]any{{p.PersonID, p.FirstSeen}}}
	ids := &table.Result{Columns: []string{"identifier"}}
	for _, k := range p.Identifiers {
		ids.Rows = append(ids.Rows, []any{k.Type + ":" + k.Value})
	}
	merges := &table.Result{Columns: []string{"merged person", "into", "request", "at"}}
	for _, m := range p.Merges {
		merges.Rows = append(merges.Rows, []any{m.MergedPersonID, m.SurvivingPersonID, m.RequestID, m.MergedAt})
	}
	refusals := &table.Result{Columns: []string{"refused links with", "reason", "request", "at"}}
	for _, r := range p.Refusals {
		refusals.Rows = append(refusals.Rows, []any{r.OtherPersonID, r.Reason, r.RequestID, r.RefusedAt})
	}
	return table.WriteTables(cmd.OutOrStdout(), person, ids, merges, refusals)
}
