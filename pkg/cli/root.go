// Package cli is touchline's command line: the `touchline` command and the
// per-service commands the mains under cmd/ run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/logging"
	"github.com/touchline-io/touchline/pkg/version"
)

// globals are the connection flags every command shares. Set flags override
// environment variables, which override the config file.
type globals struct {
	configFile     string
	brokers        []string
	schemaRegistry string
	clickhouseAddr []string
	clickhouseDSN  string
	database       string
	pipelines      string
	logLevel       string
	logFormat      string
	httpAddr       string
}

func (g *globals) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&g.configFile, "config", "c", os.Getenv("TOUCHLINE_CONFIG"), "YAML config file (env TOUCHLINE_CONFIG)")
	f.StringSliceVar(&g.brokers, "brokers", nil, "Kafka seed brokers (env TOUCHLINE_KAFKA_BROKERS)")
	f.StringVar(&g.schemaRegistry, "schema-registry", "", "Schema Registry URL (env TOUCHLINE_SCHEMA_REGISTRY_URL)")
	f.StringSliceVar(&g.clickhouseAddr, "clickhouse-addr", nil, "ClickHouse native addresses (env TOUCHLINE_CLICKHOUSE_ADDR)")
	f.StringVar(&g.clickhouseDSN, "clickhouse-dsn", "", "ClickHouse DSN clickhouse://user:pass@host:9000/db (env TOUCHLINE_CLICKHOUSE_DSN)")
	f.StringVar(&g.database, "database", "", "ClickHouse database (env TOUCHLINE_CLICKHOUSE_DATABASE)")
	f.StringVar(&g.pipelines, "pipelines", "", "pipelines directory (env TOUCHLINE_PIPELINES)")
	f.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (env TOUCHLINE_LOG_LEVEL)")
	f.StringVar(&g.logFormat, "log-format", "", "json or console")
	f.StringVar(&g.httpAddr, "http-addr", "", "address of /metrics, /healthz, /readyz (env TOUCHLINE_HTTP_ADDR)")
}

// load assembles and validates the configuration.
func (g *globals) load(cmd *cobra.Command) (config.Config, error) {
	cfg, err := g.assemble(cmd)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// assemble reads the configuration file and the environment and applies
// the flags set on cmd, without validating the result. The flags apply
// even when the file or another flag has errors, which it returns with the
// result.
func (g *globals) assemble(cmd *cobra.Command) (config.Config, error) {
	cfg, loadErr := config.Load(g.configFile)
	var flagErr error
	f := cmd.Flags()
	if f.Changed("brokers") {
		cfg.Kafka.Brokers = g.brokers
	}
	if f.Changed("schema-registry") {
		cfg.Kafka.SchemaRegistry.URL = g.schemaRegistry
	}
	if f.Changed("clickhouse-dsn") {
		if err := cfg.ClickHouse.ApplyDSN(g.clickhouseDSN); err != nil {
			flagErr = fmt.Errorf("--clickhouse-dsn: %w", err)
		}
	}
	if f.Changed("clickhouse-addr") {
		cfg.ClickHouse.Addr = g.clickhouseAddr
	}
	if f.Changed("database") {
		cfg.ClickHouse.Database = g.database
	}
	if f.Changed("pipelines") {
		cfg.Pipelines = g.pipelines
	}
	if f.Changed("log-level") {
		cfg.Log.Level = g.logLevel
	}
	if f.Changed("log-format") {
		cfg.Log.Format = g.logFormat
	}
	if f.Changed("http-addr") {
		cfg.HTTPAddr = g.httpAddr
	}
	return cfg, errors.Join(loadErr, flagErr)
}

// setup loads the configuration and builds the logger.
func (g *globals) setup(cmd *cobra.Command) (config.Config, *zap.Logger, error) {
	cfg, err := g.load(cmd)
	if err != nil {
		return cfg, nil, err
	}
	log, err := logging.New(cfg.Log)
	return cfg, log, err
}

// NewRoot returns the `touchline` command with all its subcommands.
func NewRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "touchline",
		Short:         "Streaming omnichannel marketing analytics: Kafka in, ClickHouse out",
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	g.register(root)
	root.AddCommand(
		newMigrateCommand(g),
		newTopicsCommand(g),
		newProduceCommand(g),
		newGenerateCommand(g),
		newIngestCommand(g),
		newIdentityCommand(g),
		newForgetCommand(g),
		newAlertsCommand(g),
		newSegmentsCommand(g),
		newDevCommand(g),
		newQueryCommand(g),
		newVersionCommand(),
		newCheckCommand(g),
	)
	return root
}

// NewService returns the root command of a per-service main: the service's
// own command with the shared flags.
func NewService(name string) *cobra.Command {
	g := &globals{}
	var cmd *cobra.Command
	switch name {
	case "ingest":
		cmd = newIngestCommand(g)
	case "identity":
		cmd = newIdentityCommand(g)
	case "alerts":
		cmd = newAlertsCommand(g)
	case "segments":
		cmd = newSegmentsCommand(g)
	default:
		panic("unknown service " + name)
	}
	cmd.Use = name
	cmd.Version = version.Get().String()
	cmd.SetVersionTemplate("{{.Version}}\n")
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	g.register(cmd)
	return cmd
}

// Main runs cmd with a context cancelled by SIGINT or SIGTERM and returns the
// process exit code: 0, or 1 after printing the error.
func Main(cmd *cobra.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "touchline:", err)
		return 1
	}
	return 0
}
