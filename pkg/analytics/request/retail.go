package request

import (
	"github.com/touchline-io/touchline/pkg/analytics"
)

func retailKPIs() Analysis {
	return Analysis{
		Name:  "kpis",
		Use:   "kpis [--by channel|campaign|cohort] [--currency USD]",
		Short: "Retail KPIs of the orders in the range: AOV, purchase frequency, repeat-purchase rate, time between orders, refunds, projected CLV",
		Long: "Customers are grouped by their acquisition channel or campaign (their oldest touch before\n" +
			"their first purchase ever) or by cohort (the month of that purchase); without --by, all\n" +
			"customers form one row. Refunds (event type " + analytics.RefundType + ") are netted from the order whose order_id they carry.",
		Params: withRange(
			Param{Name: "by", Usage: "group customers by channel, campaign or cohort (default: all customers in one row)"},
			currencyParam,
		),
		build: func(p *reader, r analytics.Range) (string, error) {
			c, err := p.currency()
			if err != nil {
				return "", err
			}
			q := analytics.RetailKPIsQuery{Range: r, Attribution: p.env.Attribution, By: p.get("by"), Currency: c}
			if err := q.Check(); err != nil {
				return "", p.wrap("by", err)
			}
			return q.SQL()
		},
	}
}

func stages() Analysis {
	return Analysis{
		Name:  "stages",
		Use:   "stages [--by channel]",
		Short: "Persons reaching each funnel stage (awareness, consideration, conversion, retention), per acquisition channel",
		Long:  "The stages' event types come from " + analytics.StagesFile + " in the pipelines directory.",
		Params: withRange(
			Param{Name: "by", Usage: "channel: split by acquisition channel (default: all persons)"},
		),
		build: func(p *reader, r analytics.Range) (string, error) {
			by := p.get("by")
			if by != "" && by != analytics.KPIsByChannel {
				return "", p.errorf("by", "%q: want channel or nothing", by)
			}
			s := p.env.Stages
			if s == nil {
				s = analytics.DefaultStages()
			}
			return analytics.StagesQuery{Range: r, Stages: s, Attribution: p.env.Attribution, ByChannel: by != ""}.SQL()
		},
	}
}
