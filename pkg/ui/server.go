// Package ui is touchline's web UI: a JSON API under /api/ that runs the
// analyses of `touchline query` (the same parameters, read by
// pkg/analytics/request, and the same JSON, CSV and SQL), and a web app
// embedded in the binary that draws them with Apache ECharts. Every query
// runs read-only, with a time limit and a bound on its rows.
package ui

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/health"
	"github.com/touchline-io/touchline/pkg/observe"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/ui/settings"
)

//go:embed web
var web embed.FS

// Server is the web UI listening on its address, ready to serve.
type Server struct {
	http  *observe.Server
	conn  driver.Conn
	pings *health.Status
	cfg   settings.Config
}

// Pipelines is what the UI reads from the pipelines directory, as
// `touchline query` does.
type Pipelines struct {
	// Attribution is the attribution settings of attribution.yaml.
	Attribution analytics.Attribution
	// Stages is the funnel stages of stages.yaml; nil for
	// analytics.DefaultStages.
	Stages analytics.Stages
	// AlertRules is the rules of alerts.yaml.
	AlertRules *rules.Rules
}

// Listen prepares the UI of cfg: it connects to ClickHouse as the UI's user
// (cfg.ClickHouseUser, else the clickhouse section's) with the UI's query
// limits, and binds cfg.Listen. pipelines is what the analyses read from
// the pipelines directory; identify reads a person given by an identifier
// (type:value). Serve runs it. pprof serves Go's profiles too.
func Listen(ctx context.Context, cfg settings.Config, chCfg clickhouse.Config, pipelines Pipelines,
	identify func(string) (analytics.Identifier, error), reg *prometheus.Registry, pprof bool, log *zap.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClickHouseUser != "" {
		chCfg.User, chCfg.Password = cfg.ClickHouseUser, cfg.ClickHousePassword
	}
	conn, perQuery, err := openReadOnly(ctx, cfg, chCfg, log)
	if err != nil {
		return nil, err
	}
	pings := health.New(nil)
	srv, err := observe.Listen(cfg.Listen, reg, pings.Err, pprof, log)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	run := func(ctx context.Context, sql string) (*table.Result, error) {
		return runBounded(ctx, conn, perQuery, cfg, sql)
	}
	limits, err := queryLimits(ctx, run)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	api := NewAPI(run, pipelines.Attribution, pipelines.AlertRules, cfg, NewMetrics(reg), log.Named("ui"))
	api.limits, api.identify, api.stages = limits, identify, pipelines.Stages
	Register(srv.Mux(), api, cfg)
	return &Server{http: srv, conn: conn, pings: pings, cfg: cfg}, nil
}

// openReadOnly connects to ClickHouse so that every query is read-only
// and bounded in time. A user that may change settings (readonly=0) gets
// max_execution_time on the connection and readonly=1 on each query, which
// ClickHouse applies after it (readonly=1 forbids changing settings); a
// readonly=2 user, read-only already, gets the time limit; a readonly=1 user
// can change no setting, so its profile must hold the limit. It returns the
// connection and the settings each query sends.
func openReadOnly(ctx context.Context, cfg settings.Config, chCfg clickhouse.Config, log *zap.Logger) (driver.Conn, ch.Settings, error) {
	probe, err := clickhouse.Open(ctx, chCfg, log)
	if err != nil {
		return nil, nil, err
	}
	var readonly string
	err = probe.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&readonly)
	_ = probe.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the readonly setting of clickhouse user %s: %w", chCfg.User, err)
	}
	limits := ch.Settings{"max_execution_time": int(cfg.MaxExecutionTime.Seconds())}
	var perQuery ch.Settings
	switch readonly {
	case "0":
		perQuery = ch.Settings{"readonly": 1}
	case "2":
	default:
		log.Warn("the clickhouse user may change no setting (readonly=1): its profile must set max_execution_time",
			zap.String("user", chCfg.User))
		limits = nil
	}
	conn, err := clickhouse.OpenWith(ctx, chCfg, limits, log)
	if err != nil {
		return nil, nil, err
	}
	log.Info("ui queries run read-only", zap.String("user", chCfg.User), zap.String("user_readonly", readonly),
		zap.Duration("max_execution_time", cfg.MaxExecutionTime), zap.Int("max_rows", cfg.MaxRows))
	return conn, perQuery, nil
}

// runBounded runs sql with the per-query settings and at most cfg.MaxRows
// rows. ClickHouse stops the query at max_execution_time; a server that does
// not answer at all is given up 5 seconds later. The query's context has no
// deadline, though ctx's cancellation reaches it: clickhouse-go would turn a
// deadline into a max_execution_time sent with the query's own settings, in
// any order with readonly=1, and ClickHouse refuses any setting after
// readonly=1.
func runBounded(ctx context.Context, conn driver.Conn, perQuery ch.Settings, cfg settings.Config, sql string) (*table.Result, error) {
	qctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	defer stop()
	timer := time.AfterFunc(cfg.MaxExecutionTime+5*time.Second, func() { cancel(context.DeadlineExceeded) })
	defer timer.Stop()
	runCtx := qctx
	if perQuery != nil {
		runCtx = ch.Context(qctx, ch.WithSettings(perQuery))
	}
	res, err := table.RunMax(runCtx, conn, sql, cfg.MaxRows)
	if err != nil && errors.Is(context.Cause(qctx), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return res, err
}

// queryLimits asks ClickHouse, the way every analysis runs, which
// readonly and max_execution_time settings hold, and refuses a connection
// on which queries could write.
func queryLimits(ctx context.Context, run Runner) (map[string]string, error) {
	res, err := run(ctx, "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'max_execution_time')")
	if err != nil {
		return nil, fmt.Errorf("reading the settings of the ui's queries: %w", err)
	}
	limits := map[string]string{}
	for _, row := range res.Rows {
		limits[fmt.Sprint(row[0])] = fmt.Sprint(row[1])
	}
	if limits["readonly"] == "" || limits["readonly"] == "0" {
		return nil, fmt.Errorf("the ui's queries are not read-only on clickhouse (readonly=%q)", limits["readonly"])
	}
	return limits, nil
}

// Register adds the API and the web app to mux, behind the authentication
// cfg asks for.
func Register(mux *http.ServeMux, api *API, cfg settings.Config) {
	assets, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	files := http.FileServer(http.FS(assets))
	mux.Handle("/api/", guard(cfg, api))
	mux.Handle("/", guard(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})))
}

// guard requires the authentication of cfg, when it asks for any: basic
// authentication with its user and password, or its bearer token.
func guard(cfg settings.Config, next http.Handler) http.Handler {
	if cfg.BasicAuth.User == "" && cfg.BearerToken == "" {
		return headers(next)
	}
	return headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); ok && cfg.BasicAuth.User != "" && same(user, cfg.BasicAuth.User) && same(pass, cfg.BasicAuth.Password) {
			next.ServeHTTP(w, r)
			return
		}
		if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && cfg.BearerToken != "" && same(token, cfg.BearerToken) {
			next.ServeHTTP(w, r)
			return
		}
		if cfg.BasicAuth.User != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="touchline", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="touchline"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error": "authentication required"}` + "\n"))
	}))
}

// headers sets the headers of every answer of the UI.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// same compares secrets in constant time.
func same(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Addr returns the address the UI listens on.
func (s *Server) Addr() string { return s.http.Addr() }

// Serve answers requests until ctx ends, probing ClickHouse for /readyz,
// then closes the connection.
func (s *Server) Serve(ctx context.Context) error {
	defer s.conn.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.http.Serve(gctx) })
	g.Go(func() error {
		s.pings.Probe(gctx, "clickhouse_ping", s.cfg.ProbeInterval, 5*time.Second, s.conn.Ping)
		return nil
	})
	return g.Wait()
}
