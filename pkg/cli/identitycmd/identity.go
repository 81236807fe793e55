package identitycmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/resolver"
	"github.com/touchline-io/touchline/pkg/table"
)

// New returns the identity command, with its show subcommand, with the
// shared flags of g.
func New(g *command.Globals) *cobra.Command {
	cmd := command.Service(g, "identity",
		"Run the identity resolver: link requests into the identity map, merges into ClickHouse", Run)
	cmd.AddCommand(newShowCommand(g))
	return cmd
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
				p, err := resolver.Describe(cmd.Context(), conn, id)
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

func printPerson(cmd *cobra.Command, p *resolver.Person) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "person\t%s\nfirst seen\t%s\n\nidentifiers\n", p.PersonID, p.FirstSeen.UTC().Format(time.RFC3339))
	// Identifier values and request ids come from producers: escaped, so
	// that each stays on its line.
	esc := table.Escape
	for _, k := range p.Identifiers {
		fmt.Fprintf(tw, "%s:%s\n", esc(k.Type), esc(k.Value))
	}
	fmt.Fprintf(tw, "\nmerged person\tinto\trequest\tat\n")
	for _, m := range p.Merges {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.MergedPersonID, m.SurvivingPersonID, esc(m.RequestID), m.MergedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "\nrefused links with\treason\trequest\tat\n")
	for _, r := range p.Refusals {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.OtherPersonID, r.Reason, esc(r.RequestID), r.RefusedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
