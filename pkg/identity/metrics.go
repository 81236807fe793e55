package identity

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the resolver's Prometheus metrics (touchline_identity_*).
type Metrics struct {
	requests    *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	merges      prometheus.Counter
	identifiers prometheus.Gauge
	persons     prometheus.Gauge
	lag         prometheus.Gauge
	writeErrors *prometheus.CounterVec
}

// NewMetrics registers the resolver's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_identity_link_requests_total",
			Help: "Link requests read, by result: applied (changed the map), unchanged, refused (at least one merge refused), suppressed (dropped: an identifier was erased), forget, lift (a suppression lifted), invalid."}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_identity_refusals_total",
			Help: "Merges refused, by the identifier type whose per-person limit they would break."}, []string{"type"}),
		merges: prometheus.NewCounter(prometheus.CounterOpts{Name: "touchline_identity_merges_total",
			Help: "Persons merged into another."}),
		identifiers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "touchline_identity_identifiers",
			Help: "Identifiers in the identity map."}),
		persons: prometheus.NewGauge(prometheus.GaugeOpts{Name: "touchline_identity_persons",
			Help: "Persons in the identity map."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "touchline_identity_resolver_lag",
			Help: "Link requests in the links topic not yet applied, as of the last fetch."}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_identity_write_errors_total",
			Help: "Failed writes, retried, by target (kafka, clickhouse)."}, []string{"target"}),
	}
	reg.MustRegister(m.requests, m.refusals, m.merges, m.identifiers, m.persons, m.lag, m.writeErrors)
	return m
}
