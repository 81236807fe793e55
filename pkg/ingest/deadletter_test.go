package ingest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/kafka/kafkatest"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

func headerOf(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func source(key, value []byte) *kgo.Record {
	return &kgo.Record{Topic: "tp", Partition: 3, Offset: 1234, Key: key, Value: value,
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}}}
}

var oversize = &enrich.Rejection{Reason: touchpoint.ReasonOversizeField, Err: errors.New("page_url is too long")}

func TestDeadLetterWhole(t *testing.T) {
	r := source([]byte("k"), []byte("value"))
	d, kept := deadLetter("dlq", r, oversize, maxRecordBytes)
	if kept != "" || d.Topic != "dlq" || string(d.Key) != "k" || string(d.Value) != "value" {
		t.Fatalf("a small record is dead-lettered whole: kept %q, %+v", kept, d)
	}
	want := []string{HeaderReason, HeaderError, HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset, "trace"}
	var got []string
	for _, h := range d.Headers {
		got = append(got, h.Key)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("headers %v, want %v", got, want)
	}
	if v, _ := headerOf(d, HeaderSourceOffset); v != "1234" {
		t.Fatalf("source offset %q", v)
	}
}

// A record of about 1 MB (a 1,009,900-byte page_url) fits the broker's
// default limit but not the producer's with the dead-letter headers added:
// its value is cut, and headers say so.
func TestDeadLetterTruncatesValue(t *testing.T) {
	value := bytes.Repeat([]byte("a"), 1_009_950)
	r := source([]byte("bomb"), value)
	d, kept := deadLetter("dlq", r, oversize, maxRecordBytes)
	if kept != keptValue {
		t.Fatalf("kept %q, want %q", kept, keptValue)
	}
	if recordSize(d) > maxRecordBytes || len(d.Value) < maxRecordBytes-1024 || !bytes.HasPrefix(value, d.Value) {
		t.Fatalf("cut value of %d bytes (record %d bytes): want a prefix just under %d", len(d.Value), recordSize(d), maxRecordBytes)
	}
	if v, _ := headerOf(d, HeaderTruncated); v != "value" {
		t.Fatalf("truncated header %q", v)
	}
	if v, _ := headerOf(d, HeaderValueBytes); v != strconv.Itoa(len(value)) {
		t.Fatalf("original size header %q", v)
	}
	if string(d.Key) != "bomb" {
		t.Fatal("the key must be kept")
	}
	if v, _ := headerOf(d, "trace"); v != "t-1" {
		t.Fatal("the original headers must be kept")
	}
	produce(t, d)
}

// A record whose key alone is too large keeps its coordinates only.
func TestDeadLetterCoordinatesOnly(t *testing.T) {
	r := source(bytes.Repeat([]byte("k"), maxRecordBytes), []byte("v"))
	long := &enrich.Rejection{Reason: touchpoint.ReasonOversizeField, Err: errors.New(strings.Repeat("e", 5000))}
	d, kept := deadLetter("dlq", r, long, maxRecordBytes)
	if kept != keptCoordinates || !coordinatesOnly(d) || d.Key != nil || d.Value != nil {
		t.Fatalf("kept %q, coordinates only %v, key %d bytes, value %d bytes", kept, coordinatesOnly(d), len(d.Key), len(d.Value))
	}
	if v, _ := headerOf(d, HeaderValueBytes); v != "1" {
		t.Fatalf("original size header %q", v)
	}
	if v, _ := headerOf(d, HeaderError); len(v) > maxErrorBytes+3 {
		t.Fatalf("error header of %d bytes is not bounded", len(v))
	}
	if _, ok := headerOf(d, "trace"); ok {
		t.Fatal("coordinates only must drop the original headers")
	}
	produce(t, d)
	// A whole dead letter the broker refuses is reduced the same way.
	whole, _ := deadLetter("dlq", source([]byte("k"), []byte("value")), oversize, maxRecordBytes)
	c := toCoordinates(whole)
	if v, _ := headerOf(c, HeaderValueBytes); v != "5" || !coordinatesOnly(c) || coordinatesOnly(whole) {
		t.Fatalf("coordinates of a whole dead letter: %+v", c.Headers)
	}
	if v, _ := headerOf(c, HeaderSourceOffset); v != "1234" {
		t.Fatalf("source offset %q", v)
	}
}

// produce sends d through a client with the default producer limits to an
// in-process broker: the size estimate must keep it under them.
func produce(t *testing.T, d *kgo.Record) {
	t.Helper()
	cl := kafkatest.New(t, kfake.SeedTopics(1, "dlq")).Client(t, kgo.ProducerBatchMaxBytes(maxRecordBytes))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, d).FirstErr(); err != nil {
		t.Fatalf("producing the dead letter: %v", err)
	}
}
