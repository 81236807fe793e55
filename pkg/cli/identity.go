package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/resolver"
)

func newIdentityShowCommand(g *globals) *cobra.Command {
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
			cfg, log, err := g.setup(cmd)
			if err != nil {
				return err
			}
			typ, value, ok := strings.Cut(args[0], ":")
			if !ok || typ == "" || value == "" {
				return fmt.Errorf("%q: want <type>:<value>, e.g. email:jane@example.com", args[0])
			}
			rules, err := identity.LoadRules(filepath.Join(cfg.Pipelines, identity.RulesFile))
			if err != nil {
				return err
			}
			norm, err := rules.Normalizer(cfg.Identifiers.Pepper)
			if err != nil {
				return err
			}
			id, err := norm.Identifier(identifiers.NormalizeType(typ), value)
			if err != nil {
				return err
			}
			if id.Blocked {
				return fmt.Errorf("%s is on the blocklist of %s: it never links persons", args[0], identity.RulesFile)
			}
			conn, err := clickhouse.Open(cmd.Context(), cfg.ClickHouse, log)
			if err != nil {
				return err
			}
			defer conn.Close()
			p, err := resolver.Describe(cmd.Context(), conn, id)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			return printPerson(cmd, p)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func printPerson(cmd *cobra.Command, p *resolver.Person) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "person\t%s\nfirst seen\t%s\n\nidentifiers\n", p.PersonID, p.FirstSeen.UTC().Format(time.RFC3339))
	for _, k := range p.Identifiers {
		fmt.Fprintf(tw, "%s:%s\n", k.Type, k.Value)
	}
	fmt.Fprintf(tw, "\nmerged person\tinto\trequest\tat\n")
	for _, m := range p.Merges {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.MergedPersonID, m.SurvivingPersonID, m.RequestID, m.MergedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "\nrefused links with\treason\trequest\tat\n")
	for _, r := range p.Refusals {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.OtherPersonID, r.Reason, r.RequestID, r.RefusedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
