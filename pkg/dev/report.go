package dev

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/table"
)

// printAnalyses prints three of touchline's analyses over r: the channel
// KPIs (the overview), the page_view -> add_to_cart -> purchase funnel
// within 24 hours, and ROMI per channel under the attribution settings of
// the pipelines directory. Money is in the pipelines' reporting currency,
// USD when they name none, and the titles say which.
func printAnalyses(ctx context.Context, conn driver.Conn, out io.Writer, pipelines string, r analytics.Range) error {
	a, err := analytics.LoadAttribution(filepath.Join(pipelines, analytics.AttributionFile))
	if err != nil {
		return err
	}
	steps, err := analytics.ParseSteps("page_view,add_to_cart,purchase")
	if err != nil {
		return err
	}
	span := fmt.Sprintf("[%s, %s)", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly))
	// The generated spend is in USD and its EUR revenue has the generated
	// EUR/USD rates: money is in USD unless the pipelines name a currency.
	cur := a.Currency
	if cur.Code == "" {
		cur.Code = "USD"
	}
	for _, q := range []struct {
		title string
		query interface{ SQL() (string, error) }
	}{
		{"channel KPIs in " + cur.Code + ", " + span, analytics.OverviewQuery{Range: r, PurchaseType: a.ConversionType, Currency: cur}},
		{"funnel page_view -> add_to_cart -> purchase within 24h, " + span, analytics.FunnelQuery{Range: r, Steps: steps, Window: 24 * time.Hour}},
		{"ROMI per channel in " + cur.Code + ", " + string(a.Model) + " attribution, " + span, analytics.ROMIQuery{Range: r, Attribution: a, Currency: cur}},
	} {
		sql, err := q.query.SQL()
		if err != nil {
			return err
		}
		res, err := table.Run(ctx, conn, sql)
		if err != nil {
			return fmt.Errorf("%s: %w", q.title, err)
		}
		fmt.Fprintf(out, "report:      %s\n\n", q.title)
		if err := res.Write(out, "table"); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "more:        touchline query overview|funnel|attribution|romi|cohort --help (docs/analytics.md)")
	return printAlerts(ctx, conn, out, pipelines)
}

// printAlerts prints what the alert rules see now: the groups in breach.
func printAlerts(ctx context.Context, conn driver.Conn, out io.Writer, pipelines string) error {
	set, err := rules.LoadRules(filepath.Join(pipelines, rules.RulesFile))
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Pipelines = pipelines
	engine, err := alertscmd.NewEngine(ctx, cfg, conn, set, nil, alerts.NewMetrics(prometheus.NewRegistry()), nil)
	if err != nil {
		return err
	}
	outcomes, err := engine.Plan(ctx, time.Now(), set.Rules)
	if err != nil {
		return err
	}
	var breaching []alerts.Outcome
	for _, o := range outcomes {
		if o.Observation.Breach {
			breaching = append(breaching, o)
		}
	}
	fmt.Fprintf(out, "\nreport:      alert rules now: %d rules, %d groups measured, %d in breach\n\n", len(set.Rules), len(outcomes), len(breaching))
	if len(breaching) > 0 {
		if err := alerts.OutcomesResult(breaching).Write(out, "table"); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "more:        touchline alerts eval|list --help (docs/alerts.md)")
	return printSegments(ctx, conn, out)
}

// printSegments prints the members of every segment so far: the segments
// service may still be working through the traffic.
func printSegments(ctx context.Context, conn driver.Conn, out io.Writer) error {
	res, err := table.Run(ctx, conn, analytics.SegmentCountsQuery)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nreport:      segment members so far (the segments service works on in the background)\n\n")
	if err := res.Write(out, "table"); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nmore:        touchline segments list|members|person --help (docs/segments.md)")
	return nil
}

func printHowToQuery(out io.Writer, cfg config.Config, collectURL, writeKey string) {
	host, port, err := net.SplitHostPort(cfg.ClickHouse.Addr[0])
	if err != nil {
		host, port = cfg.ClickHouse.Addr[0], "9000"
	}
	metrics := cfg.HTTPAddr
	if strings.HasPrefix(metrics, ":") {
		metrics = "localhost" + metrics
	}
	fmt.Fprintf(out, `
how to use:
  publish:     touchline produce --brokers %s --file events.jsonl
  collect:     curl -u %s: -H 'Content-Type: application/json' %s/v1/track -d '{"event":"Product Added","anonymousId":"a-1"}'
  query:       clickhouse-client --host %s --port %s -d %s -q "SELECT channel, count() FROM touchpoints FINAL GROUP BY channel"
  metrics:     curl http://%s/metrics
  stop:        Ctrl-C

`, cfg.Kafka.Brokers[0], writeKey, collectURL, host, port, cfg.ClickHouse.Database, metrics)
}
