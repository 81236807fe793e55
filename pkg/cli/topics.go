package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/command"
)

// newTopicsCommand is `touchline topics`, whose `create` is for Kafka what
// `touchline migrate` is for ClickHouse.
func newTopicsCommand(g *command.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Manage touchline's Kafka topics",
		Args:  cobra.NoArgs,
	}
	var dryRun bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the Kafka topics touchline reads and writes that do not exist yet",
		Long: `Create every Kafka topic of the configuration that does not exist yet, with its
partitions, replication factor (kafka.replication_factor), compaction for the
identity map and the segments changelog, and retention (kafka.retention) for the
others, and wait until each partition has a leader. The topics of the kafka
destinations of the pipelines' destinations.yaml are created too. Existing topics are left as
they are. Run it before the services, as ` + "`touchline migrate`" + ` for ClickHouse.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			destinations, err := activate.Topics(filepath.Join(cfg.Pipelines, activate.DestinationsFile))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if dryRun {
				for _, s := range app.Topics(cfg, destinations...) {
					fmt.Fprintln(out, s)
				}
				return nil
			}
			created, err := app.CreateTopics(cmd.Context(), cfg, log, destinations...)
			for _, s := range created {
				fmt.Fprintf(out, "created %s\n", s)
			}
			if err != nil {
				return err
			}
			if len(created) == 0 {
				fmt.Fprintln(out, "every topic exists")
			}
			return nil
		},
	}
	create.Flags().BoolVar(&dryRun, "dry-run", false, "print the topics and their settings without creating anything")
	cmd.AddCommand(create)
	return cmd
}
