package integration

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/segments"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// mapBomb is a 42-byte touchpoint (wire format, schema id 1) whose
// identifiers map claims 2,147,483,647 entries.
const mapBomb = "00000000010c626f6d622d31f0adc3afc76812706167655f76696577000000000000000000feffffff0f"

// TestHostileRecordsNeverStopIngest publishes, between good records, a
// record that claims 2^31 map entries (on both input topics), records with
// invalid UTF-8 in identifiers and properties, purchases of
// 999,999,999,999.999999 and a record with an email address and a phone
// number in its URL, referrer and properties, to the ingest service and the
// segments service running as their own processes. Every bad record is in
// the dead-letter topic with its reason, every good one is in ClickHouse,
// the personal data is scrubbed in ClickHouse and on the segments inputs
// topic, channel KPIs and attribution agree on the revenue, and both
// services keep running, ready, with bounded memory.
func TestHostileRecordsNeverStopIngest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ingestAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, conn, cfgPath := setup(ctx, t, 2, func(c *config.Config) { c.HTTPAddr = ingestAddr })
	segCfg := cfg
	segCfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	segCfg.StateDir = t.TempDir()
	segPath := filepath.Join(t.TempDir(), "segments.yaml")
	if err := testenv.WriteConfig(segCfg, segPath); err != nil {
		t.Fatal(err)
	}

	p, encode := dialEncoding(ctx, t, cfg)
	now := time.Now().UTC().Truncate(time.Millisecond)
	bomb, err := hex.DecodeString(mapBomb)
	if err != nil {
		t.Fatal(err)
	}
	huge, err := touchpoint.ParseMoney("999999999999.999999")
	if err != nil {
		t.Fatal(err)
	}
	withIDs := func(id string, ids map[string]string) *touchpoint.Touchpoint {
		tp := goodTouchpoint(id, now, 1)
		tp.Identifiers = touchpoint.AttrsOf(ids)
		return tp
	}
	withProps := func(id string, props map[string]string) *touchpoint.Touchpoint {
		tp := goodTouchpoint(id, now, 1)
		tp.Properties = touchpoint.AttrsOf(props)
		return tp
	}
	type bad struct {
		name   string
		topic  string
		value  []byte
		reason touchpoint.Reason
	}
	bads := []bad{
		{"map claiming 2^31 entries", cfg.Kafka.Topics.Touchpoints, bomb, enrich.ReasonCorrupt},
		{"map claiming 2^31 entries, spend topic", cfg.Kafka.Topics.Spend, append(avro.AppendHeader(nil, avro.Latest(avro.KindSpend).ID), bomb[5:]...), enrich.ReasonCorrupt},
		{"customer_id cus\\xff\\xfe", cfg.Kafka.Topics.Touchpoints, encode(withIDs("utf8-a", map[string]string{"customer_id": "cus\xff\xfe"})), touchpoint.ReasonInvalidField},
		{"customer_id cus\\xfe\\xff", cfg.Kafka.Topics.Touchpoints, encode(withIDs("utf8-b", map[string]string{"customer_id": "cus\xfe\xff"})), touchpoint.ReasonInvalidField},
		{"property value \\xff", cfg.Kafka.Topics.Touchpoints, encode(withProps("utf8-c", map[string]string{"sku": "shoe\xff"})), touchpoint.ReasonInvalidField},
	}
	for i := 0; i < 10; i++ {
		bads = append(bads, bad{fmt.Sprintf("purchase %d of 999,999,999,999.999999", i), cfg.Kafka.Topics.Touchpoints,
			encode(goodTouchpoint(fmt.Sprintf("huge-%d", i), now, huge)), touchpoint.ReasonInvalidField})
	}

	pii := goodTouchpoint("pii", now, 1_000_000)
	pii.PageURL = "https://shop.example/welcome?email=jane.doe%40example.com&step=2"
	pii.Referrer = "https://mail.example.com/read?from=jane.doe@example.com"
	pii.Properties = touchpoint.AttrsOf(map[string]string{"email": "jane.doe@example.com", "note": "call +44 20 7946 0018", "sku": "shoe-1"})
	goods := []*touchpoint.Touchpoint{pii}
	for i := 0; i < 10; i++ { // at the bound: their sum fits
		goods = append(goods, goodTouchpoint(fmt.Sprintf("max-%d", i), now.Add(-time.Duration(i)*time.Second), touchpoint.MaxAmount))
	}
	var wantRevenue int64
	for i, g := range goods {
		if err := p.Touchpoint(ctx, g); err != nil {
			t.Fatal(err)
		}
		wantRevenue += int64(*g.Revenue)
		if i < len(bads) {
			p.Raw(ctx, bads[i].topic, []byte(bads[i].name), bads[i].value)
		}
	}
	for _, b := range bads[len(goods):] {
		p.Raw(ctx, b.topic, []byte(b.name), b.value)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	ing := startIngest(t, cfgPath, logPath(t))
	seg := startSegments(t, segPath, logPath(t))

	got, err := testenv.WaitTotals(ctx, conn, uint64(len(goods)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != uint64(len(goods)) || got.Revenue != wantRevenue {
		t.Fatalf("got %d rows, revenue %d; want %d, %d", got.Rows, got.Revenue, len(goods), wantRevenue)
	}
	dead := readDeadLetters(ctx, t, cfg, len(bads))
	for _, b := range bads {
		r, ok := dead[b.name]
		switch {
		case !ok:
			t.Errorf("%s: not in the dead-letter topic", b.name)
		case header(r, ingest.HeaderReason) != string(b.reason):
			t.Errorf("%s: reason %q, want %q (error: %s)", b.name, header(r, ingest.HeaderReason), b.reason, header(r, ingest.HeaderError))
		case string(r.Value) != string(b.value):
			t.Errorf("%s: the dead letter does not carry the original bytes", b.name)
		}
	}

	var pageURL, referrer string
	var keys, values []string
	if err := conn.QueryRow(ctx, `SELECT page_url, referrer, property_keys, property_values FROM touchpoints FINAL WHERE event_id = 'pii'`).
		Scan(&pageURL, &referrer, &keys, &values); err != nil {
		t.Fatal(err)
	}
	gotPII := fmt.Sprint(pageURL, " | ", referrer, " | ", keys, values)
	wantPII := "https://shop.example/welcome?email=(redacted)&step=2 | https://mail.example.com/read?from=(redacted) | [email note sku] [(redacted) call (redacted) shoe-1]"
	if gotPII != wantPII {
		t.Errorf("stored personal data:\n got %s\nwant %s", gotPII, wantPII)
	}
	props := routedProperties(ctx, t, cfg, "pii")
	if fmt.Sprint(props) != "map[email:(redacted) note:call (redacted) sku:shoe-1]" {
		t.Errorf("segments input of the event: properties %v, want them scrubbed", props)
	}

	kpis := queryFloat(ctx, t, conn, "SELECT sum(revenue) FROM channel_kpis")
	day := analytics.Range{From: now.Add(-24 * time.Hour), To: now.Add(time.Hour)}
	attrSQL, err := analytics.AttributionQuery{Range: day, Attribution: analytics.DefaultAttribution()}.SQL()
	if err != nil {
		t.Fatal(err)
	}
	attributed := queryFloat(ctx, t, conn, "SELECT sum(revenue) FROM ("+attrSQL+")")
	want := float64(wantRevenue) / 1e6
	if math.Abs(kpis-want) > 1e-3 || math.Abs(attributed-want) > 1e-3 {
		t.Errorf("revenue: channel_kpis %.6f, attribution %.6f; want %.6f in both", kpis, attributed, want)
	}

	for name, proc := range map[string]*testenv.Process{"ingest": ing, "segments": seg} {
		if err := syscall.Kill(proc.Pid(), 0); err != nil {
			t.Errorf("the %s service is gone: %v", name, err)
		}
	}
	if resp, err := http.Get("http://" + ingestAddr + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("ingest /readyz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	_, peak, err := ing.RSS()
	if err != nil || peak > 256<<20 {
		t.Errorf("ingest peak RSS %d MiB (%v), want at most 256 MiB", peak>>20, err)
	}
	t.Logf("ingest peak RSS %d MiB", peak>>20)
}

// dialEncoding returns a publisher to the brokers of cfg, closed when the
// test ends, and a function that encodes a touchpoint as producers do.
func dialEncoding(ctx context.Context, t *testing.T, cfg config.Config) (*publish.Publisher, func(*touchpoint.Touchpoint) []byte) {
	t.Helper()
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, func(tp *touchpoint.Touchpoint) []byte { return encodeTouchpoint(ctx, t, tp) }
}

// routedProperties returns the properties of event id on the segments
// inputs topic, waiting for the router to write it.
func routedProperties(ctx context.Context, t *testing.T, cfg config.Config, id string) map[string]string {
	t.Helper()
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.ConsumeTopics(cfg.Kafka.Topics.SegmentInputs),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("event %s not on the segments inputs topic: %v", id, ctx.Err())
		}
		var props map[string]string
		fs.EachRecord(func(r *kgo.Record) {
			in, err := segments.DecodeInput(r.Value)
			if err == nil && in.Event != nil && in.Event.ID == id {
				props = in.Event.Props
			}
		})
		if props != nil {
			return props
		}
	}
}

func queryFloat(ctx context.Context, t *testing.T, conn driver.Conn, sql string) float64 {
	t.Helper()
	var v float64
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", strings.SplitN(sql, "\n", 2)[0], err)
	}
	return v
}
