// Package observe serves a service's operational HTTP endpoints: Prometheus
// metrics on /metrics, liveness on /healthz, readiness on /readyz, and, when
// asked for, Go profiles under /debug/pprof/.
package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// ReadyFunc reports whether the service can do its work; nil means ready.
type ReadyFunc func() error

// Server is the operational HTTP server. It is safe for concurrent use.
type Server struct {
	ln  net.Listener
	mux *http.ServeMux
	srv *http.Server
}

// Listen binds addr (e.g. ":8080", or "127.0.0.1:0" for a free port) and
// prepares the endpoints, with the profiles under /debug/pprof/ only when
// profiles is set. Serve starts answering.
func Listen(addr string, g prometheus.Gatherer, ready ReadyFunc, profiles bool, log *zap.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	if profiles {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	errLog, _ := zap.NewStdLogAt(log.Named("http"), zap.WarnLevel)
	return &Server{ln: ln, mux: mux, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: errLog}}, nil
}

// Mux returns the server's request multiplexer, for a service whose own
// API shares the port with the operational endpoints (the collector).
// Register before Serve.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Addr returns the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers until ctx is cancelled, then shuts down within 5 seconds.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// URL returns the http URL of a bound address, with localhost for an
// address that listens on every interface.
func URL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
