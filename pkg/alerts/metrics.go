package alerts

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
)

// Metrics are the alerts service's Prometheus metrics, KPI gauges included.
type Metrics struct {
	evaluations       *prometheus.CounterVec
	evaluationSeconds prometheus.Histogram
	notifications     *prometheus.CounterVec
	outbox            prometheus.Gauge
	kpi               *prometheus.GaugeVec
	state             *prometheus.GaugeVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchline_alerts_evaluations_total", Help: "Rule evaluations by rule and result (ok, error).",
		}, []string{"rule", "result"}),
		evaluationSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "touchline_alerts_evaluation_seconds", Help: "Time to evaluate one rule, its ClickHouse queries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchline_alerts_notifications_total",
			Help: "Notification delivery attempts by sink, status (firing, resolved) and result (sent, failed).",
		}, []string{"sink", "status", "result"}),
		outbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "touchline_alerts_outbox", Help: "Deliveries (notification and sink) waiting for a retry.",
		}),
		kpi: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "touchline_alerts_kpi_value",
			Help: "The KPI value of each rule and group at its last evaluation (absent when undefined).",
		}, []string{"rule", "kpi", "channel", "campaign"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "touchline_alerts_state",
			Help: "The state of each rule and group at its last evaluation: 0 ok, 1 pending, 2 firing.",
		}, []string{"rule", "severity", "channel", "campaign"}),
	}
	reg.MustRegister(m.evaluations, m.evaluationSeconds, m.notifications, m.outbox, m.kpi, m.state)
	return m
}

// statusValue is the value of the state gauge.
var statusValue = map[Status]float64{StatusOK: 0, StatusPending: 1, StatusFiring: 2}

// observe replaces the gauges of r with the outcomes of its evaluation, so
// groups that vanished leave no stale series.
func (m *Metrics) observe(r *rules.Rule, outcomes []Outcome) {
	m.kpi.DeletePartialMatch(prometheus.Labels{"rule": r.Name})
	m.state.DeletePartialMatch(prometheus.Labels{"rule": r.Name})
	for _, o := range outcomes {
		g := o.Observation.Group
		if o.Observation.Defined {
			m.kpi.WithLabelValues(r.Name, string(r.KPI), g.Channel, g.Campaign).Set(o.Observation.Value)
		}
		m.state.WithLabelValues(r.Name, r.Severity, g.Channel, g.Campaign).Set(statusValue[o.State.Status])
	}
}
