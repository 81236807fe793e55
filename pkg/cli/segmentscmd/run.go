// Package segmentscmd is the segments service's program: its wiring (Run)
// and its commands, which the segments main and the touchline command run.
package segmentscmd

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/segments"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// Run runs the segments service of cfg (router and stateful stage),
// with its HTTP endpoints on cfg.HTTPAddr, until ctx is cancelled. It
// creates the topics it reads and writes when they do not exist and
// kafka.create_topics allows it.
func Run(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	defs, err := engine.LoadDefinitions(filepath.Join(cfg.Pipelines, engine.DefinitionsFile))
	if err != nil {
		return err
	}
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return err
	}
	t := cfg.Kafka.Topics
	if err := app.PrepareTopics(ctx, cfg, log, t.Touchpoints, t.IdentityLinks, t.IdentityMap, t.Suppressions(),
		t.SegmentInputs, t.SegmentChangelog, t.SegmentChanges); err != nil {
		return err
	}
	persons, closeMap, err := app.FollowIdentityMap(ctx, cfg, "segments-identity-map", log)
	if err != nil {
		return err
	}
	defer closeMap()
	proc.WithPersons(persons)
	suppressed, stopSuppressions, err := identity.FollowSuppressions(ctx, cfg.Kafka, log.Named("suppressions"))
	if err != nil {
		return err
	}
	defer stopSuppressions()
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	metrics := segments.NewMetrics(reg)
	proc.WithSuppressions(suppressed, metrics.Suppressed())
	instance := segments.InstanceName(cfg.StateDir)
	router, err := segments.NewRouter(cfg.Segments, cfg.Kafka, conn, proc, defs.AllowedLateness, instance, metrics, log.Named("segments-router"))
	if err != nil {
		return err
	}
	defer router.Close()
	svc, err := segments.New(ctx, cfg.Segments, cfg.Kafka, conn, defs, instance, filepath.Join(cfg.StateDir, "segments-state"),
		metrics, log.Named("segments"))
	if err != nil {
		return err
	}
	defer svc.Close()
	ready := func() error { return errors.Join(suppressed.Err(), persons.Ready(), svc.Ready(), router.Ready()) }
	return app.Serve(ctx, cfg, reg, conn, ready, persons.Guard(func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return router.Run(gctx) })
		g.Go(func() error { return svc.Run(gctx) })
		return g.Wait()
	}), log)
}
