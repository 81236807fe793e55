package clickhouse

import (
	"context"
	"fmt"
	"log/slog"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// Open connects to the configured database and checks the connection with a
// ping. The returned connection is safe for concurrent use.
func Open(ctx context.Context, cfg Config, log *zap.Logger) (driver.Conn, error) {
	return open(ctx, cfg, cfg.Database, nil, log)
}

// OpenWith is Open with settings that every query of the connection sends
// ahead of its own (ch.Context's), in the order ClickHouse applies them.
func OpenWith(ctx context.Context, cfg Config, settings ch.Settings, log *zap.Logger) (driver.Conn, error) {
	return open(ctx, cfg, cfg.Database, settings, log)
}

func open(ctx context.Context, cfg Config, database string, settings ch.Settings, log *zap.Logger) (driver.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("clickhouse tls: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Cluster != "" {
		settings = withClusterSettings(settings)
	}
	conn, err := ch.Open(&ch.Options{
		Addr:         cfg.Addr,
		Auth:         ch.Auth{Database: database, Username: cfg.User, Password: cfg.Password},
		TLS:          tlsCfg,
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.QueryTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		MaxIdleConns: cfg.MaxOpenConns,
		Settings:     settings,
		// clickhouse-go warns on every connection to a server older than the
		// releases it is tested with; touchline tests the subset of the
		// protocol it uses on 18.16 itself, so only errors are logged.
		Logger: slog.New(zapslog.NewHandler(log.Named("clickhouse").WithOptions(zap.IncreaseLevel(zap.ErrorLevel)).Core())),
	})
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse %v: %w", cfg.Addr, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("connecting to clickhouse %v database %s: %w", cfg.Addr, database, err)
	}
	if cfg.Cluster != "" {
		if err := checkProductMode(pingCtx, conn, cfg); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return conn, nil
}
