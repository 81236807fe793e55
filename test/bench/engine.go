package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// jsonRow is a touchpoints row as ClickHouse's JSONEachRow format reads
// it: one object per row, keyed by column name, times as text.
type jsonRow struct {
	EventID          string   `json:"event_id"`
	EventTime        string   `json:"event_time"`
	EventMillis      uint16   `json:"event_millis"`
	EventType        string   `json:"event_type"`
	Channel          string   `json:"channel"`
	Campaign         string   `json:"campaign"`
	UTMSource        string   `json:"utm_source"`
	UTMMedium        string   `json:"utm_medium"`
	UTMCampaign      string   `json:"utm_campaign"`
	UTMContent       string   `json:"utm_content"`
	UTMTerm          string   `json:"utm_term"`
	Referrer         string   `json:"referrer"`
	PageURL          string   `json:"page_url"`
	PersonID         string   `json:"person_id"`
	IdentifierTypes  []string `json:"identifier_types"`
	IdentifierValues []string `json:"identifier_values"`
	Revenue          int64    `json:"revenue"`
	Currency         string   `json:"currency"`
	OrderID          string   `json:"order_id"`
	PropertyKeys     []string `json:"property_keys"`
	PropertyValues   []string `json:"property_values"`
	DeviceType       string   `json:"device_type"`
	OS               string   `json:"os"`
	Country          string   `json:"country"`
	SourcePartition  int32    `json:"source_partition"`
	SourceOffset     int64    `json:"source_offset"`
	IngestedAt       string   `json:"ingested_at"`
}

// encodeJSONRow writes r as one JSONEachRow line.
func encodeJSONRow(r clickhouse.TouchpointRow) ([]byte, error) {
	const dateTime = "2006-01-02 15:04:05"
	b, err := json.Marshal(jsonRow{
		EventID: r.EventID, EventTime: r.EventTime.UTC().Format(dateTime), EventMillis: r.EventMillis, EventType: r.EventType,
		Channel: r.Channel, Campaign: r.Campaign, UTMSource: r.UTMSource, UTMMedium: r.UTMMedium, UTMCampaign: r.UTMCampaign,
		UTMContent: r.UTMContent, UTMTerm: r.UTMTerm, Referrer: r.Referrer, PageURL: r.PageURL, PersonID: r.PersonID,
		IdentifierTypes: array(r.IdentifierTypes), IdentifierValues: array(r.IdentifierValues), Revenue: r.Revenue, Currency: r.Currency,
		OrderID: r.OrderID, PropertyKeys: array(r.PropertyKeys), PropertyValues: array(r.PropertyValues), DeviceType: r.DeviceType, OS: r.OS,
		Country: r.Country, SourcePartition: r.SourcePartition, SourceOffset: r.SourceOffset, IngestedAt: r.IngestedAt.UTC().Format(dateTime),
	})
	return append(b, '\n'), err
}

// array returns s, or an empty slice for nil, which JSON would write as
// null where ClickHouse reads an array.
func array(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// engineConsumers returns the Kafka engine set-ups measured, as numbers of
// consumers: the engine's default of one, and one per core of this machine
// (at most one per partition), what its documentation suggests when one
// consumer is not fast enough.
func engineConsumers() []int {
	perCore := min(runtime.NumCPU(), partitions)
	if perCore <= 1 {
		return []int{1}
	}
	return []int{1, perCore}
}

// engineSuffix is the suffix of the name of the database (and consumer
// group) of the Kafka engine with consumers consumers at its attempt-th
// load.
func engineSuffix(consumers, attempt int) string {
	if attempt > 1 {
		return fmt.Sprintf("_kafka_engine_%d_%d", consumers, attempt)
	}
	return fmt.Sprintf("_kafka_engine_%d", consumers)
}

// engineAttempts is how many times the Kafka engine is loaded, each time
// into a fresh database by a fresh consumer group, while it re-delivers
// rows.
const engineAttempts = 3

// errRedelivered is the Kafka engine loading more rows than there are
// events: it delivers at least once, and a consumer group rebalance during
// the load re-delivers what it had not committed. A load it spoiled so is
// measured again (engineAttempts).
var errRedelivered = errors.New("the Kafka engine re-delivered rows")

// kafkaEngine measures ClickHouse's own Kafka engine, the peer users would
// pick instead of the ingest service, with consumers consumers: it loads
// n rows published by publishJSON to topic in blocks of batch rows,
// ingest's batch size, into the touchpoints table of a fresh database and
// into the tables of its materialised views. The server reads a new group
// from the start of a topic (testenv.Start). The load is timed from the
// moment every view is in place until the table holds every row, and its
// rows and views must then equal the insert baseline's. attempt numbers
// the load, each into its own database by its own consumer group.
func kafkaEngine(ctx context.Context, cfg config.Config, topic string, n, batch, consumers, attempt int, pids [roles]int) (measurement, error) {
	suffix := engineSuffix(consumers, attempt)
	database := cfg.ClickHouse.Database + suffix
	conn, err := openFresh(ctx, cfg, suffix)
	if err != nil {
		return measurement{}, err
	}
	defer conn.Close()
	views, targets, err := queueViews(ctx, conn, database)
	if err != nil {
		return measurement{}, err
	}
	// The engine streams a block to every view on the queue, and only
	// while every such view's target table exists: 18.16 checks them
	// before each block, and looks again when a view is created and every
	// 500 ms. A gate view whose target does not exist yet holds the stream
	// back while the views are created; creating its target and one more
	// view starts the load with all of them in place.
	setUp := slices.Concat([]string{
		fmt.Sprintf(`CREATE TABLE touchpoints_queue AS touchpoints
ENGINE = Kafka SETTINGS kafka_broker_list = '%s', kafka_topic_list = '%s', kafka_group_name = '%s',
    kafka_format = 'JSONEachRow', kafka_max_block_size = %d, kafka_num_consumers = %d`,
			strings.Join(cfg.Kafka.Brokers, ","), topic, cfg.Ingest.Group+suffix, batch, consumers),
		"CREATE MATERIALIZED VIEW touchpoints_gate TO touchpoints_gate_open AS SELECT event_id FROM touchpoints_queue",
		"CREATE MATERIALIZED VIEW touchpoints_consumer TO touchpoints AS SELECT * FROM touchpoints_queue",
	}, views)
	start := []string{
		"CREATE TABLE touchpoints_gate_open (event_id String) ENGINE = Null",
		"CREATE MATERIALIZED VIEW touchpoints_start TO touchpoints_gate_open AS SELECT event_id FROM touchpoints_queue",
	}
	for _, q := range setUp {
		if err := conn.Exec(ctx, q); err != nil {
			return measurement{}, fmt.Errorf("setting up the Kafka engine: %s: %w", q, err)
		}
	}
	m, err := startMeter(pids)
	if err != nil {
		return measurement{}, err
	}
	began := time.Now()
	for _, q := range start {
		if err := conn.Exec(ctx, q); err != nil {
			return measurement{}, fmt.Errorf("starting the Kafka engine: %s: %w", q, err)
		}
	}
	if err := waitRows(ctx, conn, n, nil); err != nil {
		return measurement{}, fmt.Errorf("the Kafka engine (its errors are in the server's clickhouse-server.err.log): %w", err)
	}
	// The engine writes a block to its views in the order of their names,
	// so touchpoints_consumer's rows come last: once touchpoints holds
	// every row, every view has written its part.
	name := fmt.Sprintf("ClickHouse Kafka engine, %d consumer", consumers)
	if consumers > 1 {
		name += "s"
	}
	out, err := m.finish(name, n, time.Since(began))
	if err != nil {
		return measurement{}, err
	}
	// Dropping the views stops the stream; it waits for the stream's
	// current read, which ends stream_flush_interval_ms after it began.
	views, err = viewsOn(ctx, conn, database, "touchpoints_queue")
	if err != nil {
		return measurement{}, err
	}
	for _, v := range views {
		if err := conn.Exec(ctx, "DROP TABLE "+v); err != nil {
			return measurement{}, err
		}
	}
	return out, sameRows(ctx, conn, cfg.ClickHouse.Database+"_baseline", targets)
}

// queueViews returns, for every materialised view of database that reads
// touchpoints, the statement creating a copy of it that reads
// touchpoints_queue instead, and the tables those views write to.
// ClickHouse 18.16 does not pass the rows a view writes into a table on to
// that table's own views, so the engine's rows reach the tables of the
// views on touchpoints only through such copies.
func queueViews(ctx context.Context, conn driver.Conn, database string) (creates, targets []string, err error) {
	names, err := viewsOn(ctx, conn, database, "touchpoints")
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("found no materialised view on %s.touchpoints", database)
	}
	from := "FROM " + database + ".touchpoints "
	target := regexp.MustCompile(`^CREATE MATERIALIZED VIEW \S+ TO ` + regexp.QuoteMeta(database) + `\.(\w+) `)
	for _, name := range names {
		var create string
		if err := conn.QueryRow(ctx, "SHOW CREATE TABLE "+database+"."+name).Scan(&create); err != nil {
			return nil, nil, err
		}
		view := "VIEW " + database + "." + name + " "
		to := target.FindStringSubmatch(create)
		if strings.Count(create, from) != 1 || !strings.Contains(create, view) || to == nil {
			return nil, nil, fmt.Errorf("cannot copy the view %s onto the Kafka engine's queue: %s", name, create)
		}
		create = strings.Replace(create, view, "VIEW "+database+"."+name+"_queue ", 1)
		creates = append(creates, strings.Replace(create, from, "FROM "+database+".touchpoints_queue ", 1))
		targets = append(targets, to[1])
	}
	return creates, targets, nil
}

// viewsOn returns the names of the materialised views of database that
// read table.
func viewsOn(ctx context.Context, conn driver.Conn, database, table string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT arrayJoin(dependencies_table) AS view FROM system.tables
WHERE database = ? AND name = ? ORDER BY view`, database, table)
	if err != nil {
		return nil, fmt.Errorf("listing the views on %s.%s: %w", database, table, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}

// publishJSON publishes rows as JSONEachRow records (one row per record)
// to topic, which it creates with the touchpoints topic's partitions, for
// the Kafka engine. It is not timed.
func publishJSON(ctx context.Context, cfg config.Config, topic string, rows []clickhouse.TouchpointRow) error {
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := kafka.CreateTopics(ctx, cl, kafka.TopicSpec{Name: topic, Partitions: partitions, Replication: 1}); err != nil {
		return err
	}
	var mu sync.Mutex
	var failed error
	for _, r := range rows {
		value, err := encodeJSONRow(r)
		if err != nil {
			return err
		}
		cl.Produce(ctx, &kgo.Record{Key: []byte(r.PersonID), Value: value}, func(_ *kgo.Record, err error) {
			mu.Lock()
			failed = errors.Join(failed, err)
			mu.Unlock()
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return failed
}

// viewSummaries read each table a view on touchpoints writes to as one
// row of its merged states per key, and sum a hash of those rows, so that
// two databases compare whatever parts their states sit in.
var viewSummaries = map[string]string{
	"channel_kpis_daily": `SELECT count(), sum(cityHash64(date, channel, campaign, n_impressions, n_clicks, n_conversions, toString(purchases)))
FROM (SELECT date, channel, campaign, uniqExactMerge(impressions) AS n_impressions, uniqExactMerge(clicks) AS n_clicks,
    uniqExactMerge(conversions) AS n_conversions, arraySort(groupUniqArrayMerge(revenue)) AS purchases
    FROM %s GROUP BY date, channel, campaign)`,
	"channel_revenue_daily": `SELECT count(), sum(cityHash64(date, channel, campaign, currency, n_conversions, toString(purchases)))
FROM (SELECT date, channel, campaign, currency, uniqExactMerge(conversions) AS n_conversions,
    arraySort(groupUniqArrayMerge(revenue)) AS purchases
    FROM %s GROUP BY date, channel, campaign, currency)`,
}

// sameRows checks that the touchpoints table of conn's database holds the
// same rows as that of database (the same count, events, revenue and sum
// of a hash of every column), and that each of the views' tables, targets,
// holds the same merged states.
func sameRows(ctx context.Context, conn driver.Conn, database string, targets []string) error {
	const summary = "SELECT count(), uniqExact(event_id), sum(revenue), sum(cityHash64(*)) FROM %s"
	var got, want [4]uint64
	for _, q := range []struct {
		table string
		into  *[4]uint64
	}{{"touchpoints", &got}, {database + ".touchpoints", &want}} {
		var revenue int64
		if err := conn.QueryRow(ctx, fmt.Sprintf(summary, q.table)).Scan(&q.into[0], &q.into[1], &revenue, &q.into[3]); err != nil {
			return err
		}
		q.into[2] = uint64(revenue)
	}
	if got[0] > got[1] {
		return fmt.Errorf("%w: it loaded %d rows of %d events", errRedelivered, got[0], got[1])
	}
	if got != want {
		return fmt.Errorf("the Kafka engine loaded other rows than the insert baseline: count, events, revenue, hash %v, want %v", got, want)
	}
	for _, table := range targets {
		query, ok := viewSummaries[table]
		if !ok {
			return fmt.Errorf("no summary to compare the view table %s by; add one to viewSummaries", table)
		}
		var got, want [2]uint64
		for _, q := range []struct {
			table string
			into  *[2]uint64
		}{{table, &got}, {database + "." + table, &want}} {
			if err := conn.QueryRow(ctx, fmt.Sprintf(query, q.table)).Scan(&q.into[0], &q.into[1]); err != nil {
				return fmt.Errorf("summarising %s: %w", q.table, err)
			}
		}
		if got != want || got[0] == 0 {
			return fmt.Errorf("the Kafka engine's views filled %s otherwise than the insert baseline's: keys, hash %v, want %v", table, got, want)
		}
	}
	return nil
}
