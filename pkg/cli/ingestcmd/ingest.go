// Package ingestcmd is the ingest service's program: its wiring (Run) and
// its command, which the ingest main and the touchline command run.
package ingestcmd

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/gctune"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/ingest"
)

// New returns the ingest command with the shared flags of g.
func New(g *command.Globals) *cobra.Command {
	return command.Service(g, "ingest", "Run the ingest service: Kafka touchpoints and spend into ClickHouse", Run)
}

// Run runs the ingest service of cfg with its HTTP endpoints on
// cfg.HTTPAddr until ctx is cancelled. Metrics register with reg. It first
// sets the process's garbage collector (gctune.Apply with
// ingest.gc_percent), which in dev mode's one process all services share.
func Run(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	gc := gctune.Apply(cfg.Ingest.GCPercent)
	log.Info("garbage collector", zap.Int("gc_percent", gc.GCPercent), zap.Bool("gc_percent_from_GOGC", gc.GCPercentFromEnv),
		zap.Int64("memory_limit_from_cgroup", gc.MemoryLimit))
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return err
	}
	// Ingest reads the touchpoints, spend and identity map topics and writes
	// dead letters and link requests: make sure they are all there, the
	// link requests' even before the resolver first runs.
	t := cfg.Kafka.Topics
	if err := app.PrepareTopics(ctx, cfg, log, t.Touchpoints, t.Spend, t.Rates(), t.DeadLetter, t.IdentityLinks, t.IdentityMap, t.Suppressions()); err != nil {
		return err
	}
	persons, closeMap, err := app.FollowIdentityMap(ctx, cfg, "identity-map", log)
	if err != nil {
		return err
	}
	defer closeMap()
	suppressed, stopSuppressions, err := identity.FollowSuppressions(ctx, cfg.Kafka, log.Named("suppressions"))
	if err != nil {
		return err
	}
	defer stopSuppressions()
	proc.WithSuppressions(suppressed, enrich.NewSuppressedCounter(reg))
	svc, closeSvc, err := NewService(ctx, cfg, proc, persons, reg, log)
	if err != nil {
		return err
	}
	defer closeSvc()
	ready := func() error { return errors.Join(suppressed.Err(), persons.Ready(), svc.Ready()) }
	return app.Serve(ctx, cfg, reg, nil, ready, persons.Guard(svc.Run), log)
}

// NewService builds the ingest service of cfg around proc, resolving
// persons through persons with each lookup timed, and opens its ClickHouse
// connection. Metrics register with reg. Run the service, then call the
// returned function, which closes it and the connection.
func NewService(ctx context.Context, cfg config.Config, proc *enrich.Processor, persons enrich.PersonLookup,
	reg prometheus.Registerer, log *zap.Logger) (*ingest.Service, func(), error) {
	metrics := ingest.NewMetrics(reg)
	proc.WithPersons(metrics.TimeLookups(persons))
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return nil, nil, err
	}
	svc, err := ingest.New(cfg.Ingest, cfg.Kafka, conn, proc, metrics, log.Named("ingest"))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return svc, func() { svc.Close(); conn.Close() }, nil
}
