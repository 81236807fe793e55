// Package app wires touchline's packages into runnable services, shared by
// the per-service mains under cmd/ and by the all-in-one dev mode.
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
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/identitymap"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/observe"
	"github.com/touchline-io/touchline/pkg/resolver"
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
	ids, err := identity.LoadRules(filepath.Join(cfg.Pipelines, identity.RulesFile))
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
func Normalizer(cfg config.Config, rules *identity.Rules) (*identifiers.Normalizer, error) {
	if err := cfg.Identifiers.CheckPepper(); err != nil {
		return nil, err
	}
	norm, err := rules.Normalizer(cfg.Identifiers.Pepper)
	if err != nil {
		return nil, fmt.Errorf("identity rules: %w", err)
	}
	return norm, nil
}

// RunIngest runs the ingest service of cfg with its HTTP endpoints on
// cfg.HTTPAddr until ctx is cancelled. Metrics register with reg.
func RunIngest(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	proc, err := NewIngestProcessor(cfg)
	if err != nil {
		return err
	}
	// Ingest reads the touchpoints, spend and identity map topics and writes
	// dead letters and link requests: make sure they are all there, the
	// link requests' even before the resolver first runs.
	t := cfg.Kafka.Topics
	if err := prepareTopics(ctx, cfg, log, t.Touchpoints, t.Spend, t.DeadLetter, t.IdentityLinks, t.IdentityMap, t.Suppressions()); err != nil {
		return err
	}
	persons, closeMap, err := followIdentityMap(ctx, cfg, "identity-map", log)
	if err != nil {
		return err
	}
	defer closeMap()
	suppressed, stopSuppressions, err := resolver.FollowSuppressions(ctx, cfg.Kafka, log.Named("suppressions"))
	if err != nil {
		return err
	}
	defer stopSuppressions()
	proc.WithSuppressions(suppressed, enrich.NewSuppressedCounter(reg))
	svc, closeSvc, err := NewIngestService(ctx, cfg, proc, persons, reg, log)
	if err != nil {
		return err
	}
	defer closeSvc()
	ready := func() error { return errors.Join(suppressed.Err(), svc.Ready()) }
	return serve(ctx, cfg, reg, nil, ready, persons.guard(svc.Run), log)
}

// NewIngestService builds the ingest service of cfg around proc, resolving
// persons through persons with each lookup timed, and opens its ClickHouse
// connection. Metrics register with reg. Run the service, then call the
// returned function, which closes it and the connection.
func NewIngestService(ctx context.Context, cfg config.Config, proc *enrich.Processor, persons enrich.PersonLookup,
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

// followedMap is a local copy of the identity map that follows the map
// topic in the background.
type followedMap struct {
	*identitymap.Map
	stopped chan struct{} // closed when Follow has returned
	err     error         // what Follow returned; read after stopped is closed
}

// guard returns run wrapped so that it also ends, with an error, as soon as
// following the map fails (its local database cannot be written, say):
// a service must not go on resolving persons from a copy that has stopped
// following the topic.
func (f *followedMap) guard(run func(context.Context) error) func(context.Context) error {
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

// followIdentityMap opens the local copy of the identity map under
// cfg.StateDir/dir, follows the map topic in the background and returns once
// it has caught up. The returned function stops following and closes it.
func followIdentityMap(ctx context.Context, cfg config.Config, dir string, log *zap.Logger) (*followedMap, func(), error) {
	persons, err := identitymap.Open(filepath.Join(cfg.StateDir, dir), cfg.Ingest.IdentityCacheEntries, log.Named(dir))
	if err != nil {
		return nil, nil, err
	}
	f := &followedMap{Map: persons, stopped: make(chan struct{})}
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

// The ClickHouse ping behind the /readyz of the identity, segments and
// alerts services (ingest has its own, set by ingest.probe_interval and
// ingest.probe_timeout).
const (
	probeInterval = time.Second
	probeTimeout  = 3 * time.Second
)

// serve runs a service with /metrics, /healthz and /readyz, and the
// profiles when cfg.PProf is set, on cfg.HTTPAddr until ctx ends or either
// fails. /readyz answers with ready and, when conn is not nil, with a ping
// of ClickHouse through conn, which fails when ClickHouse does not answer
// within probeTimeout (a hung server).
func serve(ctx context.Context, cfg config.Config, reg *prometheus.Registry, conn driver.Conn, ready func() error, run func(context.Context) error, log *zap.Logger) error {
	pings := health.New(nil)
	srv, err := observe.Listen(cfg.HTTPAddr, reg, func() error { return errors.Join(ready(), pings.Err()) }, cfg.PProf, log)
	if err != nil {
		return err
	}
	log.Info("serving metrics and health", zap.String("addr", srv.Addr()))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx) })
	if conn != nil {
		g.Go(func() error {
			pings.Probe(gctx, "clickhouse_ping", probeInterval, probeTimeout, conn.Ping)
			return nil
		})
	}
	g.Go(func() error { return run(gctx) })
	return g.Wait()
}
