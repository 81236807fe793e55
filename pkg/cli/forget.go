package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/segments"
)

func newForgetCommand(g *command.Globals) *cobra.Command {
	var timeout time.Duration
	var undo bool
	cmd := &cobra.Command{
		Use:   "forget <type>:<value>",
		Short: "Erase the person of an identifier everywhere (right to erasure) and report what was removed",
		Long: "Sends a forget request through the identity links topic: the identity resolver drops the\n" +
			"person's identifiers, puts tombstones on the identity map topic, which removes them from\n" +
			"every local copy, and suppresses them: ingest, the resolver and the segments service drop\n" +
			"every later event that carries one, also when they consume old records again. Once the\n" +
			"resolver has passed the request, records the person as erased for the activation service\n" +
			"(none of her changes is delivered again, and no audience file lists her), erases the\n" +
			"person's segments state (the segments service must be running if it has ever run), then\n" +
			"deletes the person's touchpoints (also any event carrying one of its identifiers), identity\n" +
			"map, merges, refusals, person overrides, segment changes and activation deliveries from\n" +
			"ClickHouse and waits for the deletions. The identity resolver must be running. Prints what\n" +
			"it removed as JSON.\n\n" +
			"With --undo, lifts the suppression of the erasure the identifier was part of instead: the\n" +
			"person's identifiers may be stored again from then on. Nothing erased comes back.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return command.WithIdentifier(cmd, g, args[0], func(cfg config.Config, conn driver.Conn, id identifiers.Identifier) error {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				if undo {
					if err := identity.Lift(ctx, cfg.Kafka, cfg.Identity.Group, id); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "lifted the suppression of %s:%s and of the identifiers erased with it\n", id.Type, id.Value)
					return nil
				}
				erased, err := identity.Forget(ctx, cfg.Kafka, cfg.Identity.Group, conn, cfg.ClickHouse, id, func(ctx context.Context, persons []string) error {
					if err := activate.Forget(ctx, conn, persons); err != nil {
						return err
					}
					return segments.Forget(ctx, cfg.Kafka, cfg.Segments, persons)
				})
				if err != nil {
					return err
				}
				return command.PrintJSON(cmd, erased)
			})
		},
	}
	cmd.Flags().Var(pipefile.NewDurationFlag(&timeout, 5*time.Minute), "timeout", "give up after this long")
	cmd.Flags().BoolVar(&undo, "undo", false, "lift the suppression of an earlier erasure instead (restores nothing)")
	return cmd
}
