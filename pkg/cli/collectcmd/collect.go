// Package collectcmd is the collector's program: its wiring (Run) and its
// command, which the collect main and the touchline command run.
package collectcmd

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/gctune"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/observe"
	"github.com/touchline-io/touchline/pkg/publish"
)

// New returns the collect command with the shared flags of g.
func New(g *command.Globals) *cobra.Command {
	return command.Service(g, "collect", "Run the HTTP collector: the Segment tracking API and touchline's JSON into Kafka", Run)
}

// Run runs the collector of cfg on cfg.Collect.Addr (the API, /metrics,
// /healthz and /readyz) until ctx is cancelled. Metrics register with reg.
// It first sets the process's garbage collector (gctune.Apply with
// collect.gc_percent); dev mode, which runs the collector by Listen, does
// not.
func Run(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) error {
	gc := gctune.Apply(cfg.Collect.GCPercent)
	log.Info("garbage collector", zap.Int("gc_percent", gc.GCPercent), zap.Bool("gc_percent_from_GOGC", gc.GCPercentFromEnv),
		zap.Int64("memory_limit_from_cgroup", gc.MemoryLimit))
	srv, err := Listen(ctx, cfg, reg, log)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// Collector is a collector listening on its address, ready to serve.
type Collector struct {
	http  *observe.Server
	pub   *publish.Publisher
	pings *health.Status
	cfg   collect.Config
}

// Listen prepares the collector of cfg: it loads the mapping and ingest's
// validation, connects to Kafka (failing when no broker answers within
// kafka.dial_timeout), makes sure the touchpoints topic exists and binds
// cfg.Collect.Addr. Serve runs it.
func Listen(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger) (*Collector, error) {
	mapping, err := collect.LoadMapping(filepath.Join(cfg.Pipelines, collect.MappingFile))
	if err != nil {
		return nil, err
	}
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return nil, fmt.Errorf("loading ingest's validation: %w", err)
	}
	if err := app.PrepareTopics(ctx, cfg, log, cfg.Kafka.Topics.Touchpoints); err != nil {
		return nil, err
	}
	cc := cfg.Collect
	pub, err := publish.Dial(ctx, cfg.Kafka, ProducerOptions(cc)...)
	if err != nil {
		return nil, err
	}
	pings := health.New(nil)
	srv, err := observe.Listen(cc.Addr, reg, pings.Err, cfg.PProf, log)
	if err != nil {
		pub.Close()
		return nil, err
	}
	api := collect.NewServer(cc, mapping, proc.Check, pub, collect.NewMetrics(reg), log.Named("collect"))
	api.Register(srv.Mux())
	log.Info("collector listening", zap.String("addr", srv.Addr()), zap.Int("write_keys", len(cc.WriteKeys)))
	return &Collector{http: srv, pub: pub, pings: pings, cfg: cc}, nil
}

// ProducerOptions are the collector's producer settings, applied over
// publish.Dial's: acks from all in-sync replicas (franz-go's default for
// its idempotent producer, stated here as the collector's promise), no
// linger (a request waits for its own records only) and records given up
// after cc.AckTimeout. The benchmark's bare produce uses them too.
func ProducerOptions(cc collect.Config) []kgo.Opt {
	return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(cc.AckTimeout)}
}

// Addr returns the address the collector listens on.
func (c *Collector) Addr() string { return c.http.Addr() }

// Serve answers requests until ctx ends, probing Kafka for /readyz, then
// closes the Kafka client.
func (c *Collector) Serve(ctx context.Context) error {
	defer c.pub.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.http.Serve(gctx) })
	g.Go(func() error {
		c.pings.Probe(gctx, "kafka_ping", c.cfg.ProbeInterval, c.cfg.AckTimeout, c.pub.Ping)
		return nil
	})
	return g.Wait()
}
