package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/resolver"
	"github.com/touchline-io/touchline/pkg/segmenter"
	"github.com/touchline-io/touchline/pkg/table"
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
			return withIdentifier(cmd, g, args[0], func(_ config.Config, conn driver.Conn, id identifiers.Identifier) error {
				p, err := resolver.Describe(cmd.Context(), conn, id)
				if err != nil {
					return err
				}
				if format == "json" {
					return printJSON(cmd, p)
				}
				return printPerson(cmd, p)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// withIdentifier loads the configuration, reads the identifier argument and
// connects to ClickHouse for run.
func withIdentifier(cmd *cobra.Command, g *globals, arg string, run func(config.Config, driver.Conn, identifiers.Identifier) error) error {
	return withClickHouse(cmd, g, func(cfg config.Config, conn driver.Conn) error {
		id, err := parseIdentifier(cfg, arg)
		if err != nil {
			return err
		}
		return run(cfg, conn, id)
	})
}

// withClickHouse loads the configuration and connects to ClickHouse for run.
func withClickHouse(cmd *cobra.Command, g *globals, run func(config.Config, driver.Conn) error) error {
	cfg, log, err := g.setup(cmd)
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(cmd.Context(), cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return run(cfg, conn)
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseIdentifier reads "type:value" and normalises and hashes the value as
// ingest does.
func parseIdentifier(cfg config.Config, arg string) (identifiers.Identifier, error) {
	typ, value, ok := strings.Cut(arg, ":")
	if !ok || typ == "" || value == "" {
		return identifiers.Identifier{}, fmt.Errorf("%q: want <type>:<value>, e.g. email:jane@example.com", arg)
	}
	rules, err := identity.LoadRules(filepath.Join(cfg.Pipelines, identity.RulesFile))
	if err != nil {
		return identifiers.Identifier{}, err
	}
	norm, err := app.Normalizer(cfg, rules)
	if err != nil {
		return identifiers.Identifier{}, err
	}
	id, err := norm.Identifier(identifiers.NormalizeType(typ), value)
	if err != nil {
		return id, err
	}
	if id.Blocked {
		return id, fmt.Errorf("%s is on the blocklist of %s: it names no person", arg, identity.RulesFile)
	}
	return id, nil
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

func newForgetCommand(g *globals) *cobra.Command {
	var timeout time.Duration
	var undo bool
	cmd := &cobra.Command{
		Use:   "forget <type>:<value>",
		Short: "Erase the person of an identifier everywhere (right to erasure) and report what was removed",
		Long: "Sends a forget request through the identity links topic: the identity resolver drops the\n" +
			"person's identifiers, puts tombstones on the identity map topic, which removes them from\n" +
			"every local copy, and suppresses them: ingest, the resolver and the segments service drop\n" +
			"every later event that carries one, also when they consume old records again. Once the\n" +
			"resolver has passed the request, erases the person's segments state (the segments service\n" +
			"must be running if it has ever run), then deletes the person's touchpoints (also any event\n" +
			"carrying one of its identifiers), identity map, merges, refusals, person overrides and\n" +
			"segment changes from ClickHouse and waits for the deletions. The identity resolver must be\n" +
			"running. Prints what it removed as JSON.\n\n" +
			"With --undo, lifts the suppression of the erasure the identifier was part of instead: the\n" +
			"person's identifiers may be stored again from then on. Nothing erased comes back.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIdentifier(cmd, g, args[0], func(cfg config.Config, conn driver.Conn, id identifiers.Identifier) error {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				if undo {
					if err := resolver.Lift(ctx, cfg.Kafka, cfg.Identity.Group, id); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "lifted the suppression of %s:%s and of the identifiers erased with it\n", id.Type, id.Value)
					return nil
				}
				erased, err := resolver.Forget(ctx, cfg.Kafka, cfg.Identity.Group, conn, id, func(ctx context.Context, persons []string) error {
					return segmenter.Forget(ctx, cfg.Kafka, cfg.Segments, persons)
				})
				if err != nil {
					return err
				}
				return printJSON(cmd, erased)
			})
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	cmd.Flags().BoolVar(&undo, "undo", false, "lift the suppression of an earlier erasure instead (restores nothing)")
	return cmd
}
