package segments

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the segments service's Prometheus metrics
// (touchline_segments_*).
type Metrics struct {
	inputs           *prometheus.CounterVec
	routed           *prometheus.CounterVec
	changes          prometheus.Counter
	changesBySegment *prometheus.CounterVec
	latency          prometheus.Histogram
	batchSeconds     prometheus.Histogram
	routerSeconds    prometheus.Histogram
	persons          *prometheus.GaugeVec
	cached           *prometheus.GaugeVec
	evaluations      *prometheus.CounterVec
	watermarkLag     *prometheus.GaugeVec
	lag              *prometheus.GaugeVec
	routerLag        *prometheus.GaugeVec
	holds            *prometheus.GaugeVec
	writeErrors      *prometheus.CounterVec
	aborted          *prometheus.CounterVec

	mu sync.Mutex
	// evaluated is, by partition, the processor's own count of
	// evaluations when it was last reported: the counter grows by the
	// difference.
	evaluated map[int32]int64
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		inputs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_segments_inputs_total",
			Help: "Segment inputs read, by result: applied, late (dropped: older than their touchpoints partition's progress less the allowed lateness), invalid, forget (an erasure), suppressed (dropped: of an erased person)."}, []string{"result"}),
		routed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_segments_routed_total",
			Help: "Records the router put on the inputs topic, by kind (event, merge), or skipped (rejected touchpoints) or suppressed (touchpoints of erased identifiers)."}, []string{"kind"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: "touchline_segments_changes_total",
			Help: "Segment entries and exits committed."}),
		changesBySegment: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_segments_segment_changes_total",
			Help: "Segment changes by segment and change (entered, left)."}, []string{"segment", "change"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "touchline_segments_event_to_change_seconds",
			Help: "From a change's event time (its deciding event's time, or its timer's due time) to the change.", Buckets: buckets}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "touchline_segments_batch_seconds",
			Help: "Time to process and commit one batch.", Buckets: buckets}),
		routerSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "touchline_segments_router_batch_seconds",
			Help: "Time for the router to route and commit one poll of touchpoints.", Buckets: buckets}),
		persons: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "touchline_segments_state_persons",
			Help: "Persons held in state, by inputs partition."}, []string{"partition"}),
		cached: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "touchline_segments_cached_persons",
			Help: "Persons held in memory (the others are in the local state on disk), by inputs partition."}, []string{"partition"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_segments_evaluations_total",
			Help: "Evaluations of persons by this instance, by inputs partition (rate() gives evaluations/s)."}, []string{"partition"}),
		watermarkLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "touchline_segments_watermark_lag_seconds",
			Help: "How far each partition's watermark is behind the clock."}, []string{"partition"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "touchline_segments_consumer_lag",
			Help: "Inputs not yet processed, by partition, as of the last fetch."}, []string{"partition"}),
		holds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "touchline_segments_holds",
			Help: "Identity merges a partition holds its watermark for, until their transfers arrive."}, []string{"partition"}),
		routerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "touchline_segments_router_lag",
			Help: "Touchpoints not yet routed, by touchpoints partition."}, []string{"partition"}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_segments_write_errors_total",
			Help: "Failed writes and schema registry look-ups, retried, by target (kafka, clickhouse, schema_registry)."}, []string{"target"}),
		aborted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchline_segments_aborted_evaluations_total",
			Help: "Evaluations that decided nothing, by segment or feature and reason (max_cost: stopped at the definitions' budget; error: failed, such as a division by zero); the membership they were deciding stayed as it was."}, []string{"expression", "reason"}),
	}
	m.evaluated = map[int32]int64{}
	for _, result := range []string{"applied", "late", "invalid"} {
		m.inputs.WithLabelValues(result) // exported as 0 before the first
	}
	reg.MustRegister(m.inputs, m.routed, m.changes, m.changesBySegment, m.latency, m.batchSeconds, m.routerSeconds,
		m.persons, m.cached, m.evaluations, m.watermarkLag, m.lag, m.routerLag, m.holds, m.writeErrors, m.aborted)
	return m
}

// startEvaluations takes total, the evaluations count of partition p's
// newly built processor (restored with its state), as the point from which
// countEvaluations counts.
func (m *Metrics) startEvaluations(p int32, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evaluated[p] = total
}

// countEvaluations adds to the counter of partition p the evaluations its
// processor made since the last report, total being the processor's count.
func (m *Metrics) countEvaluations(p int32, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if last, ok := m.evaluated[p]; ok && total > last {
		m.evaluations.WithLabelValues(fmt.Sprint(p)).Add(float64(total - last))
	}
	m.evaluated[p] = total
}
