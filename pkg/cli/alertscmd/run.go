// Package alertscmd is the alerts service's program: its wiring (Run) and
// its commands, which the alerts main and the touchline command run.
package alertscmd

import (
	"context"
	"path/filepath"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// Run runs the alerts service of cfg, with its HTTP endpoints on
// cfg.HTTPAddr, until ctx is cancelled. It creates the alerts topic when it
// does not exist and kafka.create_topics allows it. Metrics, the KPI gauges included, register with reg.
func Run(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	set, err := rules.LoadRules(filepath.Join(cfg.Pipelines, rules.RulesFile))
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	var sinks []alerts.Sink
	for _, w := range alerts.NewWebhooks(cfg.Alerts) {
		sinks = append(sinks, w)
	}
	if cfg.Alerts.Topic {
		cl, err := kafka.NewClient(cfg.Kafka, log)
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := app.PrepareTopics(ctx, cfg, log, cfg.Kafka.Topics.Alerts); err != nil {
			return err
		}
		registry, err := kafka.NewRegistry(cfg.Kafka)
		if err != nil {
			return err
		}
		topic, err := alerts.NewTopic(ctx, cl, registry, cfg.Kafka.Topics.Alerts)
		if err != nil {
			return err
		}
		sinks = append(sinks, topic)
	}
	engine, err := NewEngine(ctx, cfg, conn, set, sinks, alerts.NewMetrics(reg), log.Named("alerts"))
	if err != nil {
		return err
	}
	log.Info("alerts service started", zap.Int("rules", len(set.Rules)), zap.Int("sinks", len(sinks)))
	return app.Serve(ctx, cfg, reg, conn, engine.Ready, engine.Run, log)
}

// NewEngine builds the alerts engine of cfg over conn: the attribution
// defaults of the pipelines directory, the states stored in ClickHouse.
func NewEngine(ctx context.Context, cfg config.Config, conn driver.Conn, set *rules.Rules, sinks []alerts.Sink, metrics *alerts.Metrics, log *zap.Logger) (*alerts.Engine, error) {
	attribution, err := analytics.LoadAttribution(filepath.Join(cfg.Pipelines, analytics.AttributionFile))
	if err != nil {
		return nil, err
	}
	return alerts.NewEngine(ctx, set, alerts.NewSource(conn, attribution), alerts.NewStore(conn), sinks, cfg.Alerts, metrics, log)
}
