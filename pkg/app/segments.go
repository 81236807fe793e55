package app

import (
	"context"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segmenter"
	"github.com/touchline-io/touchline/pkg/segments"
)

// RunSegments runs the segments service of cfg (router and stateful stage),
// with its HTTP endpoints on cfg.HTTPAddr, until ctx is cancelled. It
// creates the segment topics when they do not exist.
func RunSegments(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	defs, err := segments.LoadDefinitions(filepath.Join(cfg.Pipelines, segments.DefinitionsFile))
	if err != nil {
		return err
	}
	proc, err := NewIngestProcessor(cfg)
	if err != nil {
		return err
	}
	if err := ensureIdentityTopics(ctx, cfg, log); err != nil {
		return err
	}
	if err := ensureSegmentTopics(ctx, cfg, log); err != nil {
		return err
	}
	persons, closeMap, err := followIdentityMap(ctx, cfg, "segments-identity-map", log)
	if err != nil {
		return err
	}
	defer closeMap()
	proc.WithPersons(persons)
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	metrics := segmenter.NewMetrics(reg)
	instance := segmenter.InstanceName(cfg.StateDir)
	router, err := segmenter.NewRouter(cfg.Segments, cfg.Kafka, conn, proc, defs.AllowedLateness, instance, metrics, log.Named("segments-router"))
	if err != nil {
		return err
	}
	defer router.Close()
	svc, err := segmenter.New(ctx, cfg.Segments, cfg.Kafka, conn, defs, instance, filepath.Join(cfg.StateDir, "segments-state"),
		metrics, log.Named("segments"))
	if err != nil {
		return err
	}
	defer svc.Close()
	return serve(ctx, cfg.HTTPAddr, reg, svc.Ready, func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return router.Run(gctx) })
		g.Go(func() error { return svc.Run(gctx) })
		return g.Wait()
	}, log)
}

// ensureSegmentTopics creates the segment topics when they do not exist.
func ensureSegmentTopics(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	admin, err := kafka.NewClient(cfg.Kafka, log)
	if err != nil {
		return err
	}
	defer admin.Close()
	return segmenter.EnsureTopics(ctx, admin, cfg.Kafka.Topics, cfg.Segments.Partitions)
}
