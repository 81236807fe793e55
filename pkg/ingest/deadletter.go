package ingest

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/enrich"
)

// Dead-letter headers. They come first, before the original record's
// headers, which the dead letter keeps with its original key and value
// unless the whole does not fit in one Kafka record (HeaderTruncated).
const (
	HeaderReason          = "touchline.reason"
	HeaderError           = "touchline.error"
	HeaderSourceTopic     = "touchline.source.topic"
	HeaderSourcePartition = "touchline.source.partition"
	HeaderSourceOffset    = "touchline.source.offset"
	// HeaderTruncated is set on a dead letter that could not carry the
	// whole record: "value" when the value is cut to its first bytes (key
	// and headers kept), "record" when only the touchline headers, the
	// record's coordinates, are kept.
	HeaderTruncated = "touchline.truncated"
	// HeaderValueBytes is the size in bytes of the original value of a
	// truncated dead letter.
	HeaderValueBytes = "touchline.original.value.bytes"
)

// What a shortened dead letter keeps: the values of HeaderTruncated, also
// the labels of touchline_ingest_dead_letters_shortened_total.
const (
	keptValue       = "value"
	keptCoordinates = "record"
)

const (
	// maxRecordBytes is the largest record the ingest client produces: the
	// Kafka client's default batch limit, under the broker's default
	// message.max.bytes (1,048,588).
	maxRecordBytes = 1_000_012
	// recordOverhead bounds what a record batch of one record adds to its
	// key, value and headers (batch header, lengths, offsets, timestamps),
	// headerOverhead what each header adds to its key and value.
	recordOverhead = 128
	headerOverhead = 10
	// maxErrorBytes bounds the error header, which may quote input.
	maxErrorBytes = 1024
	// ownHeaders is the number of headers every dead letter starts with.
	ownHeaders = 5
)

// deadLetter returns the dead letter of r, rejected for rej, for topic: r's
// key, value and headers after the touchline headers, so that it is at
// most limit bytes. When r does not fit whole, the value is cut, or, when
// even the key and headers do not fit, only the touchline headers are
// kept; kept then says which (keptValue, keptCoordinates), and is empty
// for a whole dead letter.
func deadLetter(topic string, r *kgo.Record, rej *enrich.Rejection, limit int) (d *kgo.Record, kept string) {
	msg := rej.Err.Error()
	if len(msg) > maxErrorBytes {
		msg = msg[:maxErrorBytes] + "..."
	}
	headers := make([]kgo.RecordHeader, 0, ownHeaders+2+len(r.Headers))
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(rej.Reason)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(msg)},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
	)
	d = &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: append(headers, r.Headers...)}
	if recordSize(d) <= limit {
		return d, ""
	}
	d.Headers = append(append(headers,
		kgo.RecordHeader{Key: HeaderTruncated, Value: []byte(keptValue)},
		kgo.RecordHeader{Key: HeaderValueBytes, Value: []byte(strconv.Itoa(len(r.Value)))},
	), r.Headers...)
	d.Value = nil
	if room := limit - recordSize(d); room >= 0 {
		d.Value = r.Value[:room]
		return d, keptValue
	}
	return toCoordinates(d), keptCoordinates
}

// toCoordinates returns dead letter d reduced to its touchline headers: the
// reason and the source topic, partition and offset.
func toCoordinates(d *kgo.Record) *kgo.Record {
	size := strconv.Itoa(len(d.Value))
	if len(d.Headers) > ownHeaders+1 && d.Headers[ownHeaders].Key == HeaderTruncated {
		size = string(d.Headers[ownHeaders+1].Value)
	}
	headers := append(d.Headers[:ownHeaders:ownHeaders],
		kgo.RecordHeader{Key: HeaderTruncated, Value: []byte(keptCoordinates)},
		kgo.RecordHeader{Key: HeaderValueBytes, Value: []byte(size)},
	)
	return &kgo.Record{Topic: d.Topic, Headers: headers}
}

// coordinatesOnly reports whether dead letter d was reduced by
// toCoordinates.
func coordinatesOnly(d *kgo.Record) bool {
	return len(d.Headers) > ownHeaders && d.Headers[ownHeaders].Key == HeaderTruncated &&
		string(d.Headers[ownHeaders].Value) == keptCoordinates
}

// recordSize bounds the bytes r takes in a record batch of its own.
func recordSize(r *kgo.Record) int {
	n := recordOverhead + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += headerOverhead + len(h.Key) + len(h.Value)
	}
	return n
}
