// Package uicmd is the web UI's program: its wiring (Run) and its command,
// which the ui main and the touchline command run.
package uicmd

import (
	"context"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/observe"
	"github.com/touchline-io/touchline/pkg/ui"
)

// New returns the ui command with the shared flags of g.
func New(g *command.Globals) *cobra.Command {
	return command.Service(g, "ui", "Serve the web UI and its JSON API: charts of the analyses of touchline query", Run)
}

// Run serves the UI of cfg on cfg.UI.Listen until ctx is cancelled.
// Metrics register with reg.
func Run(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	srv, err := Listen(ctx, cfg, reg, log)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// Listen prepares the UI of cfg: it loads the attribution settings, the
// funnel stages and the alert rules of the pipelines directory, as
// `touchline query` does (a bad file is refused at start with its line),
// connects to ClickHouse and binds cfg.UI.Listen.
func Listen(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) (*ui.Server, error) {
	attribution, err := analytics.LoadAttribution(filepath.Join(cfg.Pipelines, analytics.AttributionFile))
	if err != nil {
		return nil, err
	}
	stages, err := analytics.LoadStages(filepath.Join(cfg.Pipelines, analytics.StagesFile))
	if err != nil {
		return nil, err
	}
	alertRules, err := rules.LoadRules(filepath.Join(cfg.Pipelines, rules.RulesFile))
	if err != nil {
		return nil, err
	}
	srv, err := ui.Listen(ctx, cfg.UI, cfg.ClickHouse, ui.Pipelines{Attribution: attribution, Stages: stages, AlertRules: alertRules}, command.Identify(cfg), reg, cfg.PProf, log)
	if err != nil {
		return nil, err
	}
	log.Info("ui listening", zap.String("url", observe.URL(srv.Addr())))
	return srv, nil
}
