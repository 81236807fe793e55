// Package dev is touchline's all-in-one mode: an embedded Kafka broker that
// outside producers can use, every service and the web UI in one process, ClickHouse from a
// DSN or a local clickhouse-server it starts itself, synthetic traffic, and a
// report of what arrived.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/cli/collectcmd"
	"github.com/touchline-io/touchline/pkg/cli/identitycmd"
	"github.com/touchline-io/touchline/pkg/cli/ingestcmd"
	"github.com/touchline-io/touchline/pkg/cli/segmentscmd"
	"github.com/touchline-io/touchline/pkg/cli/uicmd"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/observe"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/servers"
)

// Options configures the dev mode.
type Options struct {
	// KafkaPort is the embedded broker's port on 127.0.0.1. Default 9092.
	KafkaPort int
	// ExternalClickHouse uses the configured ClickHouse instead of starting a
	// local clickhouse-server.
	ExternalClickHouse bool
	// DataDir holds the local ClickHouse server's files. Default .touchline/dev.
	DataDir string
	// Generate publishes synthetic traffic (Traffic) at start.
	Generate bool
	// Traffic sizes the synthetic traffic.
	Traffic generate.Config
	// ReportEvery is the interval of progress lines. Default 5s.
	ReportEvery time.Duration
	// Once stops after the synthetic traffic is ingested and reported,
	// instead of running until interrupted.
	Once bool
}

// Run runs the dev mode until ctx is cancelled (or, with Once, until the
// report is printed). It writes its human-readable output to out.
func Run(ctx context.Context, cfg config.Config, opts Options, out io.Writer, log *zap.Logger) error {
	// The embedded broker starts empty every time: so does the services'
	// local state, which follows its topics.
	cfg.StateDir = filepath.Join(opts.DataDir, "state")
	if err := os.RemoveAll(cfg.StateDir); err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(
		kfake.Ports(opts.KafkaPort),
		kfake.SeedTopics(4, cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend),
		kfake.SeedTopics(1, cfg.Kafka.Topics.DeadLetter, cfg.Kafka.Topics.IdentityLinks),
		kfake.SeedTopics(4, cfg.Kafka.Topics.IdentityMap),
		kfake.AllowAutoTopicCreation(),
	)
	if err != nil {
		return fmt.Errorf("starting the embedded kafka broker on port %d: %w", opts.KafkaPort, err)
	}
	defer cluster.Close()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SchemaRegistry.URL = ""
	fmt.Fprintf(out, "kafka:       embedded broker at %v (topics %s, %s, %s)\n", cfg.Kafka.Brokers,
		cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend, cfg.Kafka.Topics.DeadLetter)

	if !opts.ExternalClickHouse {
		srv, err := servers.StartClickHouse(ctx, servers.ClickHouseOptions{Dir: filepath.Join(opts.DataDir, "clickhouse"), Logger: log})
		if err != nil {
			if errors.Is(err, servers.ErrNotInstalled) {
				return fmt.Errorf("%w\n(or pass --clickhouse-dsn to use a running ClickHouse)", err)
			}
			return err
		}
		defer srv.Stop() //nolint:errcheck // best effort at exit; the process group dies with us anyway
		cfg.ClickHouse.Addr = []string{srv.Addr()}
		fmt.Fprintf(out, "clickhouse:  local clickhouse-server at %s (http %s, data in %s)\n", srv.Addr(), srv.HTTPAddr(), srv.Dir())
	} else {
		fmt.Fprintf(out, "clickhouse:  %v database %s\n", cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
	}
	applied, err := clickhouse.Migrate(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "migrations:  %d applied\n", len(applied))
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()

	g, gctx := errgroup.WithContext(ctx)
	svcCtx, stopServices := context.WithCancel(gctx)
	defer stopServices()
	g.Go(func() error { return ingestcmd.Run(svcCtx, cfg, app.NewRegistry(), log) })
	identityCfg := cfg
	identityCfg.HTTPAddr = nextPort(cfg.HTTPAddr)
	g.Go(func() error { return identitycmd.Run(svcCtx, identityCfg, app.NewRegistry(), log) })
	alertsCfg := identityCfg
	alertsCfg.HTTPAddr = nextPort(identityCfg.HTTPAddr)
	g.Go(func() error { return alertscmd.Run(svcCtx, alertsCfg, app.NewRegistry(), log) })
	segmentsCfg := alertsCfg
	segmentsCfg.HTTPAddr = nextPort(alertsCfg.HTTPAddr)
	g.Go(func() error { return segmentscmd.Run(svcCtx, segmentsCfg, app.NewRegistry(), log) })
	fmt.Fprintf(out, "services:    ingest (metrics on %s), identity resolver (metrics on %s), alerts (metrics on %s), segments (metrics on %s)\n",
		cfg.HTTPAddr, identityCfg.HTTPAddr, alertsCfg.HTTPAddr, segmentsCfg.HTTPAddr)
	collectCfg := devCollect(segmentsCfg)
	collector, err := collectcmd.Listen(ctx, collectCfg, app.NewRegistry(), log)
	if err != nil {
		stopServices()
		return errors.Join(fmt.Errorf("starting the collector: %w", err), g.Wait())
	}
	g.Go(func() error { return collector.Serve(svcCtx) })
	collectURL := observe.URL(collector.Addr())
	fmt.Fprintf(out, "collector:   %s (Segment API and POST /v1/touchpoints; write key %q)\n", collectURL, collectCfg.Collect.WriteKeys[0].Key)
	uiSrv, err := uicmd.Listen(ctx, cfg, app.NewRegistry(), log)
	if err != nil {
		stopServices()
		return errors.Join(fmt.Errorf("starting the web ui: %w", err), g.Wait())
	}
	g.Go(func() error { return uiSrv.Serve(svcCtx) })
	fmt.Fprintf(out, "ui:          %s (charts of touchline query; its JSON API under /api/)\n", observe.URL(uiSrv.Addr()))
	printHowToQuery(out, cfg, collectURL, collectCfg.Collect.WriteKeys[0].Key)

	g.Go(func() error {
		defer func() {
			if opts.Once {
				stopServices()
			}
		}()
		if opts.Generate {
			if err := publishTraffic(gctx, cfg, opts.Traffic, out); err != nil {
				return err
			}
		}
		return report(svcCtx, conn, out, caughtUp(cfg), cfg.Pipelines, opts)
	})
	return g.Wait()
}

func publishTraffic(ctx context.Context, cfg config.Config, traffic generate.Config, out io.Writer) error {
	gen, err := generate.New(traffic)
	if err != nil {
		return err
	}
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		return err
	}
	defer p.Close()
	start := time.Now()
	n, _, err := p.Generated(ctx, gen, nil)
	if err == nil {
		err = p.Flush(ctx)
	}
	if err != nil {
		return fmt.Errorf("publishing synthetic traffic: %w", err)
	}
	fmt.Fprintf(out, "traffic:     published %d touchpoints and the daily spend in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// caughtUp returns a check of whether the ingest service has processed
// everything published so far.
func caughtUp(cfg config.Config) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		cl, err := kafka.NewClient(cfg.Kafka, nil)
		if err != nil {
			return false, err
		}
		defer cl.Close()
		return kafka.GroupCaughtUp(ctx, kadm.NewClient(cl), cfg.Ingest.Group, cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend, cfg.Kafka.Topics.Rates())
	}
}

// report prints progress until the ingest service has caught up with what was
// published, then the analyses of the traffic's days;
// without Once it goes on printing progress until ctx ends.
func report(ctx context.Context, conn driver.Conn, out io.Writer, caughtUp func(context.Context) (bool, error), pipelines string, opts Options) error {
	tick := time.NewTicker(opts.ReportEvery)
	defer tick.Stop()
	start := time.Now()
	reported := false
	for {
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM touchpoints FINAL").Scan(&rows); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("counting touchpoints: %w", err)
		}
		fmt.Fprintf(out, "progress:    %d touchpoints queryable after %s\n", rows, time.Since(start).Round(time.Second))
		done, err := caughtUp(ctx)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("checking the ingest group: %w", err)
		}
		if !reported && done {
			days := opts.Traffic.Days
			if days <= 0 {
				days = generate.DefaultDays
			}
			if err := printAnalyses(ctx, conn, out, pipelines, analytics.LastDays(time.Now(), days)); err != nil {
				return err
			}
			reported = true
			if opts.Once {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// nextPort returns addr with the port after its own, or addr itself when
// its port is 0 (any free port) or unreadable.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// DevWriteKey is the collector's write key in the dev mode when the
// configuration has none.
const DevWriteKey = "dev"

// devCollect returns cfg with the collector's dev settings: its
// configured address (default :8090), and, when no write key is
// configured, DevWriteKey for any origin.
func devCollect(cfg config.Config) config.Config {
	if len(cfg.Collect.WriteKeys) == 0 {
		cfg.Collect.WriteKeys = []collect.WriteKey{{Key: DevWriteKey, Source: "dev", Origins: []string{"*"}}}
	}
	return cfg
}
