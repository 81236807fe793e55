// Package identitycmd is the identity resolver's program: its wiring (Run)
// and its commands, which the identity main and the touchline command run.
package identitycmd

import (
	"context"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

// Run runs the identity resolver service of cfg, with its HTTP
// endpoints on cfg.HTTPAddr, until ctx is cancelled. It creates the identity
// topics when they do not exist and kafka.create_topics allows it. Metrics
// register with reg.
func Run(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	rules, err := stitch.LoadRules(filepath.Join(cfg.Pipelines, stitch.RulesFile))
	if err != nil {
		return err
	}
	if err := app.PrepareTopics(ctx, cfg, log, cfg.Kafka.Topics.IdentityLinks, cfg.Kafka.Topics.IdentityMap, cfg.Kafka.Topics.Suppressions()); err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	svc, err := identity.New(cfg.Identity, cfg.Kafka, conn, rules, identity.NewMetrics(reg), log.Named("identity"))
	if err != nil {
		return err
	}
	defer svc.Close()
	return app.Serve(ctx, cfg, reg, conn, svc.Ready, svc.Run, log)
}
