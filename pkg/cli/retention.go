package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

func newRetentionCommand(g *command.Globals) *cobra.Command {
	var timeout time.Duration
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "retention [--dry-run]",
		Short: "Remove the rows older than clickhouse.retention (run it daily, e.g. from cron)",
		Long: "For every table family with a retention in clickhouse.retention (touchpoints,\n" +
			"segment_changes, alert_notifications; all off by default), drops the monthly partitions\n" +
			"whose whole month is older than now minus the retention (ALTER TABLE ... DROP PARTITION;\n" +
			"on a cluster, on the shard-local tables, on one replica of each shard). A month that is only\n" +
			"partly older is kept until its last day has expired. Prints every partition it removed, or with\n" +
			"--dry-run would remove, with its rows.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
			if err != nil {
				return err
			}
			defer conn.Close()
			removed, err := clickhouse.Expire(ctx, conn, cfg.ClickHouse, time.Now(), dryRun, log)
			verb := "dropped"
			if dryRun {
				verb = "would drop"
			}
			out := cmd.OutOrStdout()
			for _, r := range removed {
				fmt.Fprintf(out, "%s %s partition %d (%d rows, all before %s)\n", verb, r.Table, r.Partition, r.Rows, r.Cutoff.Format(time.RFC3339))
			}
			if err != nil {
				return err
			}
			if len(removed) == 0 {
				fmt.Fprintln(out, "nothing to remove")
			}
			return nil
		},
	}
	cmd.Flags().Var(pipefile.NewDurationFlag(&timeout, 30*time.Minute), "timeout", "give up after this long")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be removed and remove nothing")
	return cmd
}
