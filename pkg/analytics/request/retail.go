package request

import (
	"strings"

	"github.com/touchline-io/touchline/pkg/analytics"
)

// acquisitionModel is the kpis analysis's model parameter that credits
// every order of a customer to their acquisition channel.
const acquisitionModel = "acquisition"

func retailKPIs() Analysis {
	return Analysis{
		Name:  "kpis",
		Use:   "kpis [--by channel|campaign|cohort] [--model acquisition|M] [--currency USD]",
		Short: "Retail KPIs of the orders in the range: AOV, purchase frequency, repeat-purchase rate, time between orders, refunds, projected CLV",
		Long: "Customers are grouped by their acquisition channel or campaign (their oldest touch before\n" +
			"their first purchase ever) or by cohort (the month of that purchase); without --by, all\n" +
			"customers form one row. Refunds (event type " + analytics.RefundType + ") are netted from the order whose order_id they carry.\n" +
			"With --model and --by channel or campaign, orders, revenue, refunds and AOV are credited to channels\n" +
			"by an attribution model (fractional orders), within the lookback of " + analytics.AttributionFile + ";\n" +
			"the customers' KPIs stay by acquisition channel. Models: " + strings.Join(modelNames(analytics.Models), ", ") + ".",
		Params: withRange(
			Param{Name: "by", Usage: "group customers by channel, campaign or cohort (default: all customers in one row)"},
			Param{Name: "model", Default: acquisitionModel, Usage: "credit orders to channels by this attribution model, or acquisition: every order to the customer's acquisition channel"},
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
			if m := p.get("model"); m != acquisitionModel {
				q.Model = analytics.Model(m)
				if err := q.CheckModel(); err != nil {
					return "", p.wrap("model", err)
				}
			}
			return q.SQL()
		},
	}
}

func stages() Analysis {
	return Analysis{
		Name:       "stages",
		Use:        "stages [--by channel]",
		Short:      "Persons reaching each funnel stage (awareness, consideration, conversion, retention), per acquisition channel",
		Long:       "The stages' event types come from " + analytics.StagesFile + " in the pipelines directory.",
		UsesStages: true,
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
