package alerts

import (
	"testing"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
)

// TestAttributedKPIsWithUnconvertedMoney: ROAS, ROMI and CPA over money part
// of which had no exchange rate into the reporting currency are undefined,
// never computed on the part that converted; the other KPIs keep their
// values.
func TestAttributedKPIsWithUnconvertedMoney(t *testing.T) {
	m := &measures{attributedConversions: 2, attributedRevenue: 300, spend: 100, clicks: 10, impressions: 1000}
	for k, want := range map[rules.KPI]float64{rules.ROAS: 3, rules.ROMI: 2, rules.CPA: 50} {
		if v, defined, _ := m.kpi(k); !defined || v != want {
			t.Errorf("%s = %v (defined %t), want %v", k, v, defined, want)
		}
	}
	var sum measures
	sum.add(m)
	sum.add(&measures{unconverted: 1})
	for _, k := range []rules.KPI{rules.ROAS, rules.ROMI, rules.CPA} {
		if v, defined, _ := sum.kpi(k); defined {
			t.Errorf("%s = %v with unconverted money, want undefined", k, v)
		}
	}
	if v, defined, _ := sum.kpi(rules.CTR); !defined || v != 0.01 {
		t.Errorf("CTR = %v (defined %t), want 0.01", v, defined)
	}
}
