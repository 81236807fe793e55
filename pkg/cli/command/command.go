// Package command is what every touchline command shares: the connection
// flags and the configuration they override, the command that runs a
// service, the root command of a per-service main, and Main, which runs a
// command until SIGINT or SIGTERM. It imports no service: each service's
// commands live in their own package (pkg/cli/ingestcmd and its siblings),
// so that a per-service binary links only its own service.
package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/logging"
	"github.com/touchline-io/touchline/pkg/version"
)

// Globals are the connection flags every command shares. Set flags override
// environment variables, which override the config file.
type Globals struct {
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

// Register adds the flags to cmd and its subcommands.
func (g *Globals) Register(cmd *cobra.Command) {
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
func (g *Globals) load(cmd *cobra.Command) (config.Config, error) {
	cfg, err := g.Assemble(cmd)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Assemble reads the configuration file and the environment and applies
// the flags set on cmd, without validating the result. The flags apply
// even when the file or another flag has errors, which it returns with the
// result.
func (g *Globals) Assemble(cmd *cobra.Command) (config.Config, error) {
	cfg, loadErr := config.Load(g.configFile)
	var flagErr error
	f := cmd.Flags()
	if f.Changed("clickhouse-dsn") {
		if err := cfg.ClickHouse.ApplyDSN(g.clickhouseDSN); err != nil {
			flagErr = fmt.Errorf("--clickhouse-dsn: %w", err)
		}
	}
	override(f, "brokers", g.brokers, &cfg.Kafka.Brokers)
	override(f, "clickhouse-addr", g.clickhouseAddr, &cfg.ClickHouse.Addr)
	override(f, "schema-registry", g.schemaRegistry, &cfg.Kafka.SchemaRegistry.URL)
	override(f, "database", g.database, &cfg.ClickHouse.Database)
	override(f, "pipelines", g.pipelines, &cfg.Pipelines)
	override(f, "log-level", g.logLevel, &cfg.Log.Level)
	override(f, "log-format", g.logFormat, &cfg.Log.Format)
	override(f, "http-addr", g.httpAddr, &cfg.HTTPAddr)
	return cfg, errors.Join(loadErr, flagErr)
}

// override sets *to to value when flag was given on the command line.
func override[T any](f *pflag.FlagSet, flag string, value T, to *T) {
	if f.Changed(flag) {
		*to = value
	}
}

// Setup loads and validates the configuration of cmd's flags and builds
// the logger it configures.
func (g *Globals) Setup(cmd *cobra.Command) (config.Config, *zap.Logger, error) {
	cfg, err := g.load(cmd)
	if err != nil {
		return cfg, nil, err
	}
	log, err := logging.New(cfg.Log)
	return cfg, log, err
}

// Service returns the command that runs a service until its context ends,
// with the service's subcommands: it loads the configuration of g, builds
// the logger and calls run with a fresh Prometheus registry
// (app.NewRegistry).
func Service(g *Globals, use, short string, run func(context.Context, config.Config, *prometheus.Registry, *zap.Logger) error,
	subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.Setup(cmd)
			if err != nil {
				return err
			}
			defer log.Sync() //nolint:errcheck // stderr sync errors are meaningless
			log.Info("starting "+use, zap.String("version", version.Get().String()))
			return run(cmd.Context(), cfg, app.NewRegistry(), log)
		},
	}
	cmd.AddCommand(subcommands...)
	return cmd
}

// Standalone returns the root command of a per-service main: the command
// that newCommand builds, with the shared flags and --version. Each main
// passes its own service's constructor, so that it links neither the other
// services' wiring and commands nor the tools of the touchline command.
func Standalone(newCommand func(*Globals) *cobra.Command) *cobra.Command {
	g := &Globals{}
	cmd := newCommand(g)
	cmd.Version = version.Get().String()
	cmd.SetVersionTemplate("{{.Version}}\n")
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	g.Register(cmd)
	return cmd
}

// Main runs cmd with a context cancelled by SIGINT or SIGTERM and returns the
// process exit code: 0, or 1 after printing the error. The first signal asks
// the command to shut down gracefully (a service drains and commits what it
// holds); it also restores the default handling, so that a second signal
// ends the process at once, as an operator pressing Ctrl-C twice expects.
func Main(cmd *cobra.Command) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		select {
		case <-signals:
			// Restored before the command hears of it, so that no second
			// signal can slip in between and be swallowed.
			signal.Stop(signals)
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := cmd.ExecuteContext(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "touchline:", err)
		return 1
	}
	return 0
}

// WithClickHouse loads the configuration of g and connects to ClickHouse
// for run.
func WithClickHouse(cmd *cobra.Command, g *Globals, run func(config.Config, driver.Conn) error) error {
	cfg, log, err := g.Setup(cmd)
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(cmd.Context(), cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return run(cfg, conn)
}

// WithIdentifier loads the configuration of g, reads the identifier
// argument arg ("type:value", normalised and hashed as ingest does) and
// connects to ClickHouse for run.
func WithIdentifier(cmd *cobra.Command, g *Globals, arg string, run func(config.Config, driver.Conn, identifiers.Identifier) error) error {
	return WithClickHouse(cmd, g, func(cfg config.Config, conn driver.Conn) error {
		id, err := ParseIdentifier(cfg, arg)
		if err != nil {
			return err
		}
		return run(cfg, conn, id)
	})
}

// ParseIdentifier reads "type:value" and normalises and hashes the value as
// ingest does, with the identity rules of the pipelines directory of cfg.
func ParseIdentifier(cfg config.Config, arg string) (identifiers.Identifier, error) {
	typ, value, ok := strings.Cut(arg, ":")
	if !ok || typ == "" || value == "" {
		return identifiers.Identifier{}, fmt.Errorf("%q: want <type>:<value>, e.g. email:jane@example.com", arg)
	}
	rules, err := stitch.LoadRules(filepath.Join(cfg.Pipelines, stitch.RulesFile))
	if err != nil {
		return identifiers.Identifier{}, err
	}
	norm, err := app.Normalizer(cfg, rules)
	if err != nil {
		return identifiers.Identifier{}, err
	}
	id, err := norm.Identifier(identifiers.NormalizeType(typ), value)
	if err != nil {
		return id, err
	}
	if id.Blocked {
		return id, fmt.Errorf("%s is on the blocklist of %s: it names no person", arg, stitch.RulesFile)
	}
	return id, nil
}

// PrintJSON prints v as indented JSON on cmd's output.
func PrintJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// FormatFlag registers --format, the output format of a command that prints
// rows through package table: table (the default), csv or json.
func FormatFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVar(format, "format", "table", "output format: table, csv or json")
}

// CheckFile returns the `check <file>` subcommand of a service: it runs
// check on the file argument, which prints what it found to w or returns
// the file's errors (file, line and reason), without starting anything.
func CheckFile(short string, check func(w io.Writer, file string) error) *cobra.Command {
	return &cobra.Command{
		Use:   "check <file>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return check(cmd.OutOrStdout(), args[0])
		},
	}
}

// Identify returns request.Env's Identify for cfg: an identifier given as
// type:value, normalised and hashed as ingest does.
func Identify(cfg config.Config) func(arg string) (analytics.Identifier, error) {
	return func(arg string) (analytics.Identifier, error) {
		id, err := ParseIdentifier(cfg, arg)
		return analytics.Identifier{Type: id.Type, Value: id.Value}, err
	}
}
