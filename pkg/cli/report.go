package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/ui"
)

func newReportCommand(g *command.Globals) *cobra.Command {
	var (
		path string
		opts ui.ReportOptions
	)
	cmd := &cobra.Command{
		Use:   "report --html FILE [--from T] [--to T] [--steps a,b,c] [--window 24h] [--currency USD]",
		Short: "Write one self-contained HTML file with the overview, attribution and ROMI, funnel and cohorts",
		Long: "Runs the analyses of the web UI's overview, attribution and ROMI (every model),\n" +
			"funnel and cohorts pages over the half-open UTC range [--from, --to) and writes\n" +
			"them, drawn by the UI's own page code, as one HTML file that loads nothing from\n" +
			"anywhere (charts, data, downloads and SQL inside): for sharing. Its numbers are\n" +
			"those of touchline query for the same range. With a reporting currency (--currency,\n" +
			"or reporting_currency of attribution.yaml) every money figure is converted into it\n" +
			"and labelled with it, as touchline query --currency does. See docs/ui.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("--html: name the file to write")
			}
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			attribution, err := analytics.LoadAttribution(filepath.Join(cfg.Pipelines, analytics.AttributionFile))
			if err != nil {
				return err
			}
			report, err := ui.PlanReport(opts, attribution, time.Now())
			if err != nil {
				return err
			}
			out, err := createBeside(path)
			if err != nil {
				return err
			}
			defer os.Remove(out.Name()) // gone after the rename; a leftover otherwise
			defer out.Close()
			conn, err := clickhouse.Open(cmd.Context(), cfg.ClickHouse, log)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := report.Run(cmd.Context(), func(ctx context.Context, sql string) (*table.Result, error) {
				return table.Run(ctx, conn, sql)
			}); err != nil {
				return err
			}
			if err := report.WriteHTML(out); err != nil {
				return err
			}
			// A report is for sharing: readable as a file os.Create makes.
			if err := out.Chmod(0o644); err != nil {
				return fmt.Errorf("--html: %w", err)
			}
			if err := out.Close(); err != nil {
				return fmt.Errorf("--html: writing %s: %w", path, err)
			}
			if err := os.Rename(out.Name(), path); err != nil {
				return fmt.Errorf("--html: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "html", "", "the HTML file to write (required); replaced only once the report is complete")
	fl.StringVar(&opts.From, "from", "", "start of the range, inclusive: RFC 3339 time or YYYY-MM-DD, UTC (default: 30 days before --to)")
	fl.StringVar(&opts.To, "to", "", "end of the range, exclusive: RFC 3339 time or YYYY-MM-DD, UTC (default: the next UTC midnight)")
	fl.StringVar(&opts.Steps, "steps", ui.DefaultFunnelSteps, "the funnel's steps in order: event types, each with optional [name=value;...] filters")
	fl.StringVar(&opts.Window, "window", ui.DefaultFunnelWindow, "the funnel's conversion window from step 1 (e.g. 30m, 24h, 7d)")
	fl.StringVar(&opts.Currency, "currency", "", "reporting currency (ISO 4217) every money figure is converted into at the day's exchange rate (default reporting_currency of "+
		analytics.AttributionFile+"; none: amounts as stored, for a shop with one currency)")
	return cmd
}

// createBeside creates a temporary file in the directory of path, which is
// renamed to path once it is complete, so that a failed report never
// leaves half a file at path. It refuses a path that is a directory.
func createBeside(path string) (*os.File, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return nil, fmt.Errorf("--html: %s is a directory", path)
	}
	out, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("--html: cannot write %s: %w", path, err)
	}
	return out, nil
}
