package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// kafkaEngine measures ClickHouse's own Kafka engine, the peer users would
// pick instead of the ingest service: the rows, already normalised by the
// ingest processor, are published as JSONEachRow (one row per record) to a
// topic of their own with as many partitions as the touchpoints topic, and
// a Kafka engine table with a materialised view into the touchpoints table
// of a fresh database (with its own views) loads them in blocks of batch
// rows, ingest's batch size. The server reads a new group from the start
// of a topic (testenv.Start). Publishing is not timed; the load is timed
// from the view's creation until the table holds every row, and its rows
// must then equal the insert baseline's.
func kafkaEngine(ctx context.Context, cfg config.Config, rows []clickhouse.TouchpointRow, batch int, pids [roles]int) (measurement, error) {
	topic := cfg.Kafka.Topics.Touchpoints + ".json"
	if err := publishJSON(ctx, cfg, topic, rows); err != nil {
		return measurement{}, err
	}
	conn, err := openFresh(ctx, cfg, "_kafka_engine")
	if err != nil {
		return measurement{}, err
	}
	defer conn.Close()
	queue := fmt.Sprintf(`CREATE TABLE touchpoints_queue AS touchpoints
ENGINE = Kafka SETTINGS kafka_broker_list = '%s', kafka_topic_list = '%s', kafka_group_name = '%s',
    kafka_format = 'JSONEachRow', kafka_max_block_size = %d`,
		strings.Join(cfg.Kafka.Brokers, ","), topic, cfg.Ingest.Group+".kafka-engine", batch)
	if err := conn.Exec(ctx, queue); err != nil {
		return measurement{}, fmt.Errorf("creating the Kafka engine table: %w", err)
	}
	m, err := startMeter(pids)
	if err != nil {
		return measurement{}, err
	}
	start := time.Now()
	if err := conn.Exec(ctx, "CREATE MATERIALIZED VIEW touchpoints_consumer TO touchpoints AS SELECT * FROM touchpoints_queue"); err != nil {
		return measurement{}, fmt.Errorf("creating the Kafka engine's view: %w", err)
	}
	if err := waitRows(ctx, conn, len(rows), nil); err != nil {
		return measurement{}, fmt.Errorf("the Kafka engine (its errors are in the server's clickhouse-server.err.log): %w", err)
	}
	out, err := m.finish("ClickHouse Kafka engine, JSONEachRow", len(rows), time.Since(start))
	if err != nil {
		return measurement{}, err
	}
	if err := conn.Exec(ctx, "DROP TABLE touchpoints_consumer"); err != nil {
		return measurement{}, err
	}
	return out, sameRows(ctx, conn, cfg.ClickHouse.Database+"_baseline")
}

// publishJSON publishes rows as JSONEachRow records to topic, which it
// creates with the touchpoints topic's partitions.
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

// sameRows checks that the touchpoints table of conn's database holds the
// same rows as that of database: the same count, events, revenue and sum
// of a hash of every column.
func sameRows(ctx context.Context, conn driver.Conn, database string) error {
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
	if got != want {
		return fmt.Errorf("the Kafka engine loaded other rows than the insert baseline: count, events, revenue, hash %v, want %v", got, want)
	}
	return nil
}
