package collect

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the collector's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	recs     *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytes    prometheus.Counter
	inflight prometheus.Gauge
}

// NewMetrics registers the collector's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchline_collect_requests_total", Help: "Requests by endpoint (path) and HTTP status.",
		}, []string{"endpoint", "status"}),
		recs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchline_collect_records_total",
			Help: "Records by result: accepted (acknowledged by Kafka), rejected (invalid), failed (not acknowledged, answered 503).",
		}, []string{"result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "touchline_collect_request_duration_seconds", Help: "Time to answer a request, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"endpoint"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "touchline_collect_request_bytes_total", Help: "Bytes of request bodies read, as sent (compressed when gzipped).",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "touchline_collect_inflight_bytes", Help: "Bytes of the requests being handled, counted against collect.max_inflight_bytes.",
		}),
	}
	reg.MustRegister(m.requests, m.recs, m.latency, m.bytes, m.inflight)
	for _, r := range []string{"accepted", "rejected", "failed"} {
		m.recs.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) observe(endpoint string, status int, took time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(endpoint).Observe(took.Seconds())
}

// count adds n records of result (accepted, rejected or failed).
func (m *Metrics) count(result string, n int) {
	m.recs.WithLabelValues(result).Add(float64(n))
}
