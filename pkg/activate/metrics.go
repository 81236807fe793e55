package activate

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the activation service's Prometheus metrics.
type Metrics struct {
	deliveries *prometheus.CounterVec
	lag        *prometheus.GaugeVec
	exports    *prometheus.CounterVec
	members    *prometheus.GaugeVec
	invalid    prometheus.Counter
}

// The results of touchline_activate_deliveries_total.
const (
	resultDelivered = "delivered"
	resultFailed    = "failed"
	resultRetried   = "retried"
	resultDead      = "dead"
	resultErased    = "erased"
	resultDone      = "done"
)

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchline_activate_deliveries_total",
			Help: "Webhook deliveries by destination and result: delivered, failed (an attempt), retried, dead (after the last attempt), " +
				"erased (a forgotten person's change, not sent), done (delivered before, consumed again, not sent).",
		}, []string{"destination", "result"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "touchline_activate_lag_seconds",
			Help: "From the time of the last change delivered to the destination (its event time) to its delivery.",
		}, []string{"destination"}),
		exports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchline_activate_exports_total", Help: "Audience file exports by destination and result (ok, failed).",
		}, []string{"destination", "result"}),
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "touchline_activate_audience_rows", Help: "Rows of the last full audience file of each destination and segment.",
		}, []string{"destination", "segment"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "touchline_activate_invalid_total", Help: "Records of the changes topic that are not SegmentChange records, skipped.",
		}),
	}
	reg.MustRegister(m.deliveries, m.lag, m.exports, m.members, m.invalid)
	return m
}

// start exports every result of destination from zero.
func (m *Metrics) start(destination string) {
	for _, r := range []string{resultDelivered, resultFailed, resultRetried, resultDead, resultErased, resultDone} {
		m.deliveries.WithLabelValues(destination, r)
	}
}
