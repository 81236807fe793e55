package dev

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"text/tabwriter"
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

// ChannelReportSQL is the dev mode's report: touchpoints, persons, purchases,
// revenue and spend per channel, in currency units. It runs on ClickHouse
// 18.16 and current releases.
const ChannelReportSQL = `SELECT
    t.channel AS channel,
    t.touchpoints AS touchpoints,
    t.persons AS persons,
    t.purchases AS purchases,
    t.revenue AS revenue,
    s.spend AS spend
FROM
(
    SELECT channel, count() AS touchpoints, uniqExact(person_id) AS persons,
           countIf(event_type = 'purchase') AS purchases, sum(revenue) / 1000000 AS revenue
    FROM touchpoints FINAL
    GROUP BY channel
) AS t
ANY LEFT JOIN
(
    SELECT channel, sum(cost) / 1000000 AS spend
    FROM spend FINAL
    GROUP BY channel
) AS s USING (channel)
ORDER BY touchpoints DESC, channel`

func printChannelReport(ctx context.Context, conn driver.Conn, out io.Writer) error {
	rows, err := conn.Query(ctx, ChannelReportSQL)
	if err != nil {
		return fmt.Errorf("channel report: %w", err)
	}
	defer rows.Close()
	fmt.Fprintln(out, "\nreport:      touchpoints per channel (all currencies summed)")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "channel\ttouchpoints\tpersons\tpurchases\trevenue\tspend\t")
	for rows.Next() {
		var (
			channel                    string
			touchpoints, persons, buys uint64
			revenue, spend             float64
		)
		if err := rows.Scan(&channel, &touchpoints, &persons, &buys, &revenue, &spend); err != nil {
			return fmt.Errorf("channel report: %w", err)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%.2f\t\n", channel, touchpoints, persons, buys, revenue, spend)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("channel report: %w", err)
	}
	fmt.Fprintln(out)
	return tw.Flush()
}

// printAnalyses prints two of touchline's analyses over r: the
// page_view -> add_to_cart -> purchase funnel within 24 hours, and ROMI per
// channel under the attribution settings of the pipelines directory.
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
	// EUR/USD rates: ROMI is in USD unless the pipelines name a currency.
	cur := a.Currency
	if cur.Code == "" {
		cur.Code = "USD"
	}
	for _, q := range []struct {
		title string
		query interface{ SQL() (string, error) }
	}{
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
	fmt.Fprintln(out, "more:        touchline query funnel|attribution|romi|cohort --help (docs/analytics.md)")
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
