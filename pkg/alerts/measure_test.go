package alerts

import (
	"testing"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
)

// TestMoneyKPIsWithUnconvertedMoney: revenue, spend, CAC, ROAS, ROMI and CPA
// over money part of which had no exchange rate into the reporting currency
// are undefined, never computed on the part that converted; the other KPIs
// keep their values.
func TestMoneyKPIsWithUnconvertedMoney(t *testing.T) {
	m := &measures{attributedConversions: 2, attributedRevenue: 300, spend: 100, clicks: 10, impressions: 1000,
		revenue: 250, conversions: 3, newCustomers: 4}
	money := map[rules.KPI]float64{rules.ROAS: 3, rules.ROMI: 2, rules.CPA: 50, rules.Revenue: 250, rules.Spend: 100, rules.CAC: 25}
	for k, want := range money {
		if v, defined, _ := m.kpi(k); !defined || v != want {
			t.Errorf("%s = %v (defined %t), want %v", k, v, defined, want)
		}
	}
	var sum measures
	sum.add(m)
	sum.add(&measures{unconverted: 1})
	for k := range money {
		if v, defined, _ := sum.kpi(k); defined {
			t.Errorf("%s = %v with unconverted money, want undefined", k, v)
		}
	}
	if v, defined, _ := sum.kpi(rules.CTR); !defined || v != 0.01 {
		t.Errorf("CTR = %v (defined %t), want 0.01", v, defined)
	}
	if v, defined, _ := sum.kpi(rules.Conversions); !defined || v != 3 {
		t.Errorf("conversions = %v (defined %t), want 3", v, defined)
	}
}
