package collect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// avroSender builds the Kafka records of what it is given as the
// publisher does before producing (Avro encoding and keys), so that a
// benchmark counts that too.
type avroSender struct {
	pub *publish.Publisher
}

// laterTouchpoint is the shipped schemas, except that touchpoints are
// registered as the Touchpoint version 2 of pkg/avro's tests (an optional
// field added), which the Avro fast path does not know: they are encoded
// as before it, through goavro's maps.
type laterTouchpoint struct {
	*avro.StaticRegistry
	v2 string
}

const laterTouchpointID = 100

func (r laterTouchpoint) SchemaText(ctx context.Context, id int) (string, error) {
	if id == laterTouchpointID {
		return r.v2, nil
	}
	return r.StaticRegistry.SchemaText(ctx, id)
}

func (r laterTouchpoint) Register(ctx context.Context, subject, text string) (int, error) {
	if shipped, err := avro.Latest(avro.KindTouchpoint).Text(); err != nil || text == shipped {
		return laterTouchpointID, err
	}
	return r.StaticRegistry.Register(ctx, subject, text)
}

// newAvroSender returns an avroSender encoding touchpoints by the Avro fast
// path, or through goavro with general set.
func newAvroSender(b *testing.B, general bool) *avroSender {
	static, err := avro.NewStaticRegistry()
	if err != nil {
		b.Fatal(err)
	}
	var reg avro.Registry = static
	if general {
		v2, err := os.ReadFile("../avro/testdata/touchpoint.v2.avsc")
		if err != nil {
			b.Fatal(err)
		}
		reg = laterTouchpoint{static, string(v2)}
	}
	pub, err := publish.New(context.Background(), nil, reg, kafka.DefaultConfig().Topics)
	if err != nil {
		b.Fatal(err)
	}
	return &avroSender{pub: pub}
}

func (s *avroSender) TouchpointsSync(ctx context.Context, ts []*touchpoint.Touchpoint) error {
	_, err := s.pub.TouchpointRecords(ctx, ts)
	return err
}

// benchBatch is a Segment batch of n messages as the analytics SDKs send
// them: track calls (every tenth an order with revenue) and page calls,
// with a context of campaign, page, user agent and IP, and properties.
func benchBatch(n int) string {
	msgs := make([]string, n)
	for i := range msgs {
		call := `"type":"track","event":"Product Added","properties":{"product_id":"p-` + fmt.Sprint(i%50) + `","price":19.99,"quantity":1,"category":"shoes"}`
		switch {
		case i%10 == 0:
			call = `"type":"track","event":"Order Completed","properties":{"order_id":"o-` + fmt.Sprint(i) + `","revenue":59.97,"currency":"eur","coupon":""}`
		case i%3 == 0:
			call = `"type":"page","name":"Home","properties":{"title":"Shop","path":"/"}`
		}
		msgs[i] = `{` + call + `,"messageId":"m-` + fmt.Sprint(i) + `","anonymousId":"anon-` + fmt.Sprint(i%20) + `","userId":"c-` + fmt.Sprint(i%7) + `",` +
			`"timestamp":"2026-11-30T10:00:0` + fmt.Sprint(i%10) + `.123Z","context":{"campaign":{"source":"google","medium":"cpc","name":"winter","term":"boots","content":"ad1"},` +
			`"page":{"url":"https://shop.example.com/p/` + fmt.Sprint(i) + `?utm_source=google&gclid=abc","referrer":"https://www.google.com/"},` +
			`"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",` +
			`"ip":"203.0.113.7","library":{"name":"analytics-node","version":"2.1.0"}},"integrations":{}}`
	}
	return `{"batch":[` + strings.Join(msgs, ",") + `],"sentAt":"2026-11-30T10:00:10.000Z"}`
}

// BenchmarkServeBatch measures the collector's CPU per request of a
// Segment batch, Avro encoding included and Kafka left out; ns/record is
// the figure to compare. At 100 records per request it runs with
// touchpoints encoded through goavro too (records=100,encoder=goavro).
func BenchmarkServeBatch(b *testing.B) {
	for _, c := range []struct {
		n       int
		general bool
	}{{1, false}, {10, false}, {100, true}, {100, false}} {
		name := fmt.Sprintf("records=%d", c.n)
		if c.general {
			name += ",encoder=goavro" // not matched by records=100$
		}
		n := c.n
		b.Run(name, func(b *testing.B) {
			s := newTestServer(b, newAvroSender(b, c.general), nil)
			body := benchBatch(n)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/batch", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth("wk_srv", "")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "rejected") {
					b.Fatalf("answered %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// BenchmarkDecodeBatch compares the decoding of a Segment batch of 100
// messages by encoding/json (as the collector did, kept in the tests as
// the reference) and by the collector's scanner; ns/record is the figure
// to compare.
func BenchmarkDecodeBatch(b *testing.B) {
	body := []byte(benchBatch(100)) // as the server reads it
	for _, d := range []struct {
		name   string
		decode func() (int, error)
	}{
		{"encoding-json", func() (int, error) { recs, _, err := refBatch(body); return len(recs), err }},
		{"scanner", func() (int, error) { recs, _, err := decodeBatch(string(body)); return len(recs), err }},
	} {
		b.Run("decoder="+d.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if n, err := d.decode(); n != 100 || err != nil {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
		})
	}
}
