// Package app is the wiring every service program shares: the Prometheus
// registry, the topics and their creation, the local identity map that
// follows its topic, the record processor of package enrich, and Serve,
// which runs a service with its HTTP endpoints. It imports no service: each
// service's own wiring is in its command package (pkg/cli/ingestcmd and its
// siblings).
package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/identitymap"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/observe"
	"github.com/touchline-io/touchline/pkg/scrub"
	"github.com/touchline-io/touchline/pkg/version"
)

// ChannelsFile is the channel rules file inside the pipelines directory.
const ChannelsFile = "channels.yaml"

// NewRegistry returns a Prometheus registry with the Go and process
// collectors and touchline_build_info, for one service process.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), version.Collector())
	return reg
}

// NewIngestProcessor builds the ingest processor of cfg: schema registry,
// channel and identity rules from the pipelines directory.
func NewIngestProcessor(cfg config.Config) (*enrich.Processor, error) {
	reg, err := kafka.NewRegistry(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	rules, err := channel.Load(filepath.Join(cfg.Pipelines, ChannelsFile))
	if err != nil {
		return nil, err
	}
	ids, err := stitch.LoadRules(filepath.Join(cfg.Pipelines, stitch.RulesFile))
	if err != nil {
		return nil, err
	}
	norm, err := Normalizer(cfg, ids)
	if err != nil {
		return nil, err
	}
	scrubber, err := scrub.New(cfg.Ingest.Scrub)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return enrich.NewProcessor(avro.NewCodecs(reg), rules, norm, ids, cfg.Ingest.Limits).WithScrubber(scrubber), nil
}

// Normalizer returns the identifier normaliser of the identity rules with
// the configuration's pepper, refusing a missing pepper that the
// configuration requires.
func Normalizer(cfg config.Config, rules *stitch.Rules) (*identifiers.Normalizer, error) {
	if err := cfg.Identifiers.CheckPepper(); err != nil {
		return nil, err
	}
	norm, err := rules.Normalizer(cfg.Identifiers.Pepper)
	if err != nil {
		return nil, fmt.Errorf("identity rules: %w", err)
	}
	return norm, nil
}

// FollowedMap is a local copy of the identity map that follows the map
// topic in the background.
type FollowedMap struct {
	*identitymap.Map
	stopped chan struct{} // closed when Follow has returned
	err     error         // what Follow returned; read after stopped is closed
}

// Guard returns run wrapped so that it also ends, with an error, as soon as
// following the map fails (its local database cannot be written, say):
// a service must not go on resolving persons from a copy that has stopped
// following the topic.
func (f *FollowedMap) Guard(run func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return run(gctx) })
		g.Go(func() error {
			select {
			case <-f.stopped:
				if f.err != nil {
					return fmt.Errorf("following the identity map: %w", f.err)
				}
			case <-gctx.Done():
			}
			return nil
		})
		return g.Wait()
	}
}

// Ready reports, for a service's /readyz, why the map cannot read its
// topic at the moment (it then lags the topic, and persons resolved from
// it may be out of date), or nil.
func (f *FollowedMap) Ready() error {
	if err := f.FetchErr(); err != nil {
		return fmt.Errorf("identity_map: %w", err)
	}
	return nil
}

// FollowIdentityMap opens the local copy of the identity map under
// cfg.StateDir/dir, follows the map topic in the background and returns once
// it has caught up. The returned function stops following and closes it.
func FollowIdentityMap(ctx context.Context, cfg config.Config, dir string, log *zap.Logger) (*FollowedMap, func(), error) {
	persons, err := identitymap.Open(filepath.Join(cfg.StateDir, dir), cfg.Ingest.IdentityCacheEntries, log.Named(dir))
	if err != nil {
		return nil, nil, err
	}
	f := &FollowedMap{Map: persons, stopped: make(chan struct{})}
	followCtx, stopFollowing := context.WithCancel(ctx)
	go func() {
		defer close(f.stopped)
		f.err = persons.Follow(followCtx, cfg.Kafka, cfg.Kafka.Topics.IdentityMap)
	}()
	closeMap := func() {
		stopFollowing()
		<-f.stopped
		if f.err != nil {
			log.Warn("following the identity map failed", zap.Error(f.err))
		}
		if err := persons.Close(); err != nil {
			log.Warn("closing the identity map", zap.Error(err))
		}
	}
	start := time.Now()
	if err := persons.CatchUp(ctx); err != nil {
		closeMap()
		return nil, nil, fmt.Errorf("catching up with the identity map: %w", err)
	}
	log.Info("identity map caught up", zap.Int("identifiers", persons.Len()), zap.Duration("took", time.Since(start)))
	return f, closeMap, nil
}

// The pings of ClickHouse and of the Kafka brokers behind the /readyz of
// the identity, segments, alerts and activate services (ingest has its own,
// set by ingest.probe_interval and ingest.probe_timeout).
const (
	probeInterval = time.Second
	probeTimeout  = 3 * time.Second
)

// Serve runs a service with /metrics, /healthz and /readyz, and the
// profiles when cfg.PProf is set, on cfg.HTTPAddr until ctx ends or either
// fails. /readyz answers with ready and, when conn is not nil, with a ping
// of ClickHouse through conn and one of the Kafka brokers through a client
// of its own: each fails when its server does not answer within
// probeTimeout (a hung server), so that a service idle for want of input
// does not answer 200 while it could neither read nor write. Ingest passes
// nil: it probes both through its own clients.
func Serve(ctx context.Context, cfg config.Config, reg *prometheus.Registry, conn driver.Conn, ready func() error, run func(context.Context) error, log *zap.Logger) error {
	probes := map[string]func(context.Context) error{}
	if conn != nil {
		brokers, err := kafka.NewClient(cfg.Kafka, log.Named("kafka_ping"))
		if err != nil {
			return err
		}
		defer brokers.Close()
		probes["clickhouse_ping"], probes["kafka_ping"] = conn.Ping, brokers.Ping
	}
	pings := health.New(nil)
	srv, err := observe.Listen(cfg.HTTPAddr, reg, func() error { return errors.Join(ready(), pings.Err()) }, cfg.PProf, log)
	if err != nil {
		return err
	}
	log.Info("serving metrics and health", zap.String("addr", srv.Addr()))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx) })
	for name, ping := range probes {
		g.Go(func() error {
			pings.Probe(gctx, name, probeInterval, probeTimeout, ping)
			return nil
		})
	}
	g.Go(func() error { return run(gctx) })
	return g.Wait()
}
