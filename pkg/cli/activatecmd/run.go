// Package activatecmd is the activation service's program: its wiring (Run)
// and its commands, which the activate main and the touchline command run.
package activatecmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// Run runs the activation service of cfg, with its HTTP endpoints on
// cfg.HTTPAddr, until ctx is cancelled. It creates the changes topic and
// the kafka destinations' topics when they do not exist and
// kafka.create_topics allows it; a kafka destination may not write to one
// of touchline's own topics. It refuses a
// missing pepper that the configuration requires: without it, the service
// could not tell that stored emails and phones are keyed hashes, which no
// platform can match.
func Run(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	if err := cfg.Identifiers.CheckPepper(); err != nil {
		return err
	}
	file, rules, err := Load(cfg.Pipelines, cfg.Identifiers.Pepper, "")
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	var own []string
	for _, t := range app.Topics(cfg) {
		own = append(own, t.Name)
	}
	if err := file.CheckTopics(own...); err != nil {
		return err
	}
	if err := app.PrepareTopics(ctx, cfg, log, append(file.KafkaTopics(), cfg.Kafka.Topics.SegmentChanges)...); err != nil {
		return err
	}
	svc, err := newService(cfg, conn, file, rules, activate.JournalPath(cfg.StateDir, file.Group), activate.NewMetrics(reg), log.Named("activate"))
	if err != nil {
		return err
	}
	log.Info("activate service started", zap.Int("destinations", len(file.Destinations)), zap.String("group", file.Group))
	return app.Serve(ctx, cfg, reg, conn, svc.Ready, svc.Run, log)
}

// newService builds the service of file over conn, with the journal of its
// POSTs at journal (none when empty).
func newService(cfg config.Config, conn driver.Conn, file *activate.File, rules activate.Rules, journal string, m *activate.Metrics, log *zap.Logger) (*activate.Service, error) {
	registry, err := kafka.NewRegistry(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	return activate.NewService(file, cfg.Kafka, activate.NewStore(conn), avro.NewCodecs(registry), activate.NewExporter(rules.Hashed), journal, m, log), nil
}

// Load reads the destinations file (path, or destinations.yaml of the
// pipelines directory when empty) and checks it against the segment
// definitions and identity rules of the pipelines directory.
func Load(pipelines, pepper, path string) (*activate.File, activate.Rules, error) {
	rules, err := Rules(pipelines, pepper)
	if err != nil {
		return nil, rules, err
	}
	if path == "" {
		path = filepath.Join(pipelines, activate.DestinationsFile)
	}
	file, err := activate.LoadFile(path, rules)
	return file, rules, err
}

// Rules returns what a destinations file is checked against: the segments
// of the pipelines directory's definitions and the identifier types its
// identity rules hash. A directory without definitions checks no segment
// names.
func Rules(pipelines, pepper string) (activate.Rules, error) {
	rules := activate.Rules{Peppered: pepper != ""}
	ids, err := stitch.LoadRules(filepath.Join(pipelines, stitch.RulesFile))
	if err != nil {
		return rules, err
	}
	for _, t := range ids.Types {
		if t.Hash {
			rules.Hashed = append(rules.Hashed, t.Name)
		}
	}
	defs, err := engine.LoadDefinitions(filepath.Join(pipelines, engine.DefinitionsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return rules, err
	default:
		rules.Segments = []string{}
		for _, s := range defs.Segments {
			rules.Segments = append(rules.Segments, s.Name)
		}
	}
	return rules, nil
}
