package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/identifiers"
)

// Metrics are the ingest service's Prometheus metrics.
type Metrics struct {
	records     *prometheus.CounterVec
	rows        *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	// deadLettersShrunk counts dead letters too large to carry their
	// record whole, by what they kept.
	deadLettersShrunk *prometheus.CounterVec
	linkRequests      prometheus.Counter
	lookups           prometheus.Histogram
	batchRows         prometheus.Histogram
	flushSeconds      prometheus.Histogram
	writeErrors       *prometheus.CounterVec
	lag               *prometheus.GaugeVec
	buffered          prometheus.Gauge
	commits           prometheus.Counter
	commitErrors      prometheus.Counter
	clickhouseUp      prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "touchline", "ingest"
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "records_consumed_total", Help: "Kafka records consumed, by topic."}, []string{"topic"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "rows_written_total", Help: "Rows written to ClickHouse, by table."}, []string{"table"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dead_letters_total", Help: "Records sent to the dead-letter topic, by topic and reason."}, []string{"topic", "reason"}),
		deadLettersShrunk: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dead_letters_shortened_total", Help: "Dead letters too large for one Kafka record, sent with their value cut (kept=value) or as their coordinates only (kept=record)."}, []string{"kept"}),
		linkRequests: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "link_requests_total", Help: "Identity link requests sent to the resolver (events whose identifier set was not sent recently)."}),
		lookups: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "identity_lookup_seconds", Help: "Time of the lookup of one event's identifiers in the local identity map.",
			Buckets: prometheus.ExponentialBuckets(1e-7, 2, 16)}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_records", Help: "Records per flushed batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "flush_seconds", Help: "Time to flush a batch, from its hand-off to its offset commit: ClickHouse inserts (waiting for the batches before it), dead letters, link requests and the commit, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "write_errors_total", Help: "Failed writes that will be retried, by target."}, []string{"target"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "consumer_lag", Help: "Records between the high watermark and the last consumed record, by topic and partition."}, []string{"topic", "partition"}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "buffered_records", Help: "Records consumed and not yet flushed."}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "offset_commits_total", Help: "Successful offset commits."}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "offset_commit_errors_total", Help: "Failed offset commits; they are retried every flush_interval until one succeeds or the partitions are revoked or lost."}),
		clickhouseUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "clickhouse_up", Help: "1 while ClickHouse answers its ping within ingest.probe_timeout and writes to it succeed, 0 otherwise."}),
	}
	reg.MustRegister(m.records, m.rows, m.deadLetters, m.deadLettersShrunk, m.linkRequests, m.lookups, m.batchRows, m.flushSeconds, m.writeErrors,
		m.lag, m.buffered, m.commits, m.commitErrors, m.clickhouseUp)
	return m
}

// TimeLookups returns persons with each lookup (of one event's identifiers)
// timed into touchline_ingest_identity_lookup_seconds.
func (m *Metrics) TimeLookups(persons enrich.PersonLookup) enrich.PersonLookup {
	return timedLookup{persons: persons, seconds: m.lookups}
}

type timedLookup struct {
	persons enrich.PersonLookup
	seconds prometheus.Histogram
}

func (t timedLookup) Persons(ids []identifiers.Identifier, persons []string) error {
	start := time.Now()
	err := t.persons.Persons(ids, persons)
	t.seconds.Observe(time.Since(start).Seconds())
	return err
}
