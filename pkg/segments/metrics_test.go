package segments

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestEvaluationsIsACounter: touchline_segments_evaluations was a gauge set
// to a count that a rebuilt partition restores, which the docs told
// operators to rate(); it is now a counter that only grows by the
// evaluations made.
func TestEvaluationsIsACounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.startEvaluations(3, 100) // a partition's state restored with 100 evaluations
	m.countEvaluations(3, 130)
	m.countEvaluations(3, 130)
	m.startEvaluations(3, 120) // rebuilt from an older checkpoint
	m.countEvaluations(3, 125)
	m.countEvaluations(7, 50) // never started here: counted from its first report
	m.countEvaluations(7, 60)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "touchline_segments_evaluations_total" {
			continue
		}
		if f.GetType() != dto.MetricType_COUNTER {
			t.Fatalf("%s is a %s", f.GetName(), f.GetType())
		}
		for _, metric := range f.GetMetric() {
			got[metric.GetLabel()[0].GetValue()] = metric.GetCounter().GetValue()
		}
	}
	if got["3"] != 35 || got["7"] != 10 || len(got) != 2 {
		t.Errorf("evaluations by partition %v, want 3: 30 + 5, 7: 10", got)
	}
}
