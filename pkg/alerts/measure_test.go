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

// TestRetailKPIsAddUpOverAcquisitionGroups: two acquisition groups (2
// customers, 5 orders, 450 net, both repeat; 3 customers, 3 orders, 150
// net, none repeat) make one scope of 5 customers and 8 orders.
func TestRetailKPIsAddUpOverAcquisitionGroups(t *testing.T) {
	var sum measures
	sum.add(&measures{customers: 2, orders: 5, netRevenue: 450, repeatCustomers: 2})
	sum.add(&measures{customers: 3, orders: 3, netRevenue: 150})
	for k, want := range map[rules.KPI][2]float64{rules.AOV: {75, 8}, rules.PurchaseFrequency: {1.6, 5}, rules.RepeatRate: {0.4, 5}} {
		if v, defined, volume := sum.kpi(k); !defined || v != want[0] || volume != want[1] {
			t.Errorf("%s = %v (defined %t, volume %v), want %v over %v", k, v, defined, volume, want[0], want[1])
		}
	}
	if v, defined, _ := (&measures{}).kpi(rules.AOV); defined {
		t.Errorf("aov without orders = %v, want undefined", v)
	}
	sum.add(&measures{unconverted: 1})
	if _, defined, _ := sum.kpi(rules.AOV); defined {
		t.Error("aov over unconverted money is defined")
	}
	if v, defined, _ := sum.kpi(rules.RepeatRate); !defined || v != 0.4 {
		t.Errorf("repeat rate = %v (defined %t), want 0.4: it reads no rates", v, defined)
	}
}
